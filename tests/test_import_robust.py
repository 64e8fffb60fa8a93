"""Malformed input never stops an import: a bad line is skipped and counted with its line number
and reason, a bad file is a named problem, and every other line and file is still imported."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trainer.ingest.formats import open_log
from trainer.ingest.prepare import prepare

GOOD = "".join(f"[0:00:{i:02d}] <viewer_{i}> message {i} about the game today\n" for i in range(20))


def read(path: Path, fmt: str | None = None):
    source = open_log(path, fmt)
    return list(source.messages), source.info


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def irc_line(i: int, ts: str) -> str:
    return (f"@login=viewer_{i % 50};tmi-sent-ts={ts} :viewer_{i % 50}!v@v.tmi.twitch.tv "
            f"PRIVMSG #somechannel :message number {i} here\n")


def test_one_bad_irc_line_does_not_lose_the_rest_of_the_file(tmp_path):
    lines = [irc_line(i, str(1_600_000_000_000 + i)) for i in range(3000)]
    lines[1500] = irc_line(1500, "99999999999999999999")
    messages, info = read(write(tmp_path / "capture.irc", "".join(lines)))
    assert len(messages) >= 2999
    assert info.lines == 3000


def test_csv_with_one_huge_field_keeps_every_other_row(tmp_path):
    rows = ["time,user,message\n"] + [f"2024-01-01 10:00:{i % 60:02d},viewer_{i},row number {i}\n" for i in range(1000)]
    rows[4] = f'2024-01-01 10:00:04,viewer_3,"{"x" * 200_000}"\n'
    messages, info = read(write(tmp_path / "chat.csv", "".join(rows)))
    assert len(messages) == 999
    assert info.unparsed == 1 and "line 5" in info.unparsed_examples[0]


@pytest.mark.parametrize("name, text, fmt", [
    ("deep.json", '{"comments": ' + "[" * 100_000 + "]" * 100_000 + "}", None),
    ("log.txt", "# Log started: 2016-13-45 07:36:02\n[07:36:03] <viewer> hello there\n", "irc-client"),
    ("log.txt", "# Log started: 2016-10-01 07:36:02 +9999\n[07:36:03] <viewer> hello there\n", "irc-client"),
    ("chan-2024-99-99.log", "[18:00:05] viewer: hello there\n[18:00:06] viewer: hi again\n", "chatterino"),
    ("chat.ssa", "Dialogue: Marked=0,not-a-time,0:00:07.43,Default,Name,0000,0000,0000,,hello there\n"
                 "Dialogue: Marked=0,0:00:05.43,0:00:07.43,Default,Name,0000,0000,0000,,hi again\n", "tcd-ssa"),
    ("chat.tsv", "²³¹\tviewer\thello there\n1600000000\tviewer\thi again\n", "tsv"),
    ("chat.tsv", "99999999999999999999999\tviewer\thello there\n1600000000\tviewer\thi again\n", "tsv"),
    ("chat.csv", "time,user,message\n99999999999999999999999,viewer,hello there\n", "csv"),
    ("cd.json", json.dumps([{"message": "hello there", "timestamp": 10**30, "author": {"name": "v"}}]),
     "chat-downloader"),
    ("log.txt", "# Log started: 9999-12-31 23:59:00\n[23:59:01] <viewer> hello there\n[00:00:02] <viewer> hi\n",
     "irc-client"),
    ("td.json", json.dumps({"streamer": "x", "comments": [{"message": {"body": "hello there"}}]}), None),
    ("gql.json", json.dumps([{"data": "x"}, {"contentOffsetSeconds": 1, "message": {"body": "hello"}}]), "gql"),
    ("gql.json", json.dumps([{"data": {"video": "x"}}, {"contentOffsetSeconds": 1, "message": {"body": "hi"}}]),
     "gql"),
    ("corpus.jsonl", '{"text": "hello there", "channel": ["x"]}\n{"text": "hi again", "channel": 5}\n', "corpus"),
    ("td.txt", "[, day] Name: msg\n[0:00:05] viewer: hello there\n", "twitchdownloader-txt"),
])
def test_malformed_shapes_are_named_problems_not_crashes(tmp_path, name, text, fmt):
    bad = write(tmp_path / "in" / name, text) if (tmp_path / "in").mkdir() is None else None
    write(tmp_path / "in" / "good.txt", GOOD)
    stats = prepare([tmp_path / "in"], tmp_path / "out", fmt=None, progress=False)
    good = next(r for r in stats["files"] if r["path"].endswith("good.txt"))
    assert good["kept"] == 20
    report = next(r for r in stats["files"] if r["path"] == str(bad))
    assert report["error"] or report["messages"] or report["unparsed_lines"], report
    if fmt:  # the bad file read in its own format: a named problem or its other lines
        try:
            messages, info = read(bad, fmt)
        except Exception as error:  # noqa: BLE001 - only LogProblem is allowed out
            assert type(error).__name__ == "LogProblem", error


def _peak_rss_mb_of_prepare(inputs: list[Path], out: Path) -> float:
    """Peak resident memory of a `prepare` run in a fresh process, in MB."""
    code = ("import resource, sys\nfrom pathlib import Path\nfrom trainer.ingest.prepare import prepare\n"
            "try:\n    prepare([Path(p) for p in sys.argv[2:]], Path(sys.argv[1]), progress=False)\n"
            "except Exception as error:\n    print(type(error).__name__, error, file=sys.stderr)\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n")
    done = subprocess.run([sys.executable, "-c", code, str(out), *map(str, inputs)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def test_a_10_mb_line_is_skipped_named_and_costs_no_memory(tmp_path):
    path = tmp_path / "chat.txt"
    path.write_text(GOOD[:1000] + "[0:01:00] <spammer> " + "a" * 10_000_000 + "\n" + GOOD, encoding="utf-8")
    messages, info = read(path)
    assert info.too_long == 1 and any("longer than" in e for e in info.unparsed_examples)
    assert len(messages) == GOOD[:1000].count("\n") + 20
    baseline = _peak_rss_mb_of_prepare([write(tmp_path / "small.txt", GOOD)], tmp_path / "out0")
    assert _peak_rss_mb_of_prepare([path], tmp_path / "out") < baseline + 40


def test_a_small_gzip_of_one_repeated_character_keeps_memory_flat(tmp_path):
    data = gzip.compress(("[0:00:01] <viewer> " + "a" * 10_000_000 + "\n").encode() + GOOD.encode(), 9)
    assert len(data) < 12_000
    path = tmp_path / "bomb.txt.gz"
    path.write_bytes(data)
    baseline = _peak_rss_mb_of_prepare([write(tmp_path / "small.txt", GOOD)], tmp_path / "out0")
    assert _peak_rss_mb_of_prepare([path], tmp_path / "out") < baseline + 40


def test_bytes_in_another_encoding_after_the_head_are_reported(tmp_path):
    head = "".join(f"[0:00:{i % 60:02d}] <viewer_{i}> plain ascii message {i}\n" for i in range(2000))
    assert len(head) > 64 * 1024
    path = tmp_path / "chat.txt"
    path.write_bytes(head.encode() + "[0:59:00] <viewer> café crème\n".encode("cp1252"))
    messages, info = read(path)
    assert info.encoding == "utf-8" and info.undecodable == 2
    assert any("bytes aren't utf-8 (the first on line 2001)" in w for w in info.warnings)


def test_a_parser_failure_is_counted_with_line_number_and_reason(tmp_path):
    lines = ["[0:00:05] Name: first message\n", "[, day] Name: msg\n", "[0:00:07] Name: third message\n"] * 3
    messages, info = read(write(tmp_path / "td.txt", "".join(lines)), "twitchdownloader-txt")
    assert len(messages) == 9  # the odd stamp leaves the message without an offset
    assert messages[1].offset is None and info.failed == 0
    # A value no parser check foresaw: the isolation counts it and goes on.
    from trainer.ingest.formats.reading import LogInfo, isolated

    def fragile(lines, info):
        for line in lines:
            yield 1 / int(line)

    info = LogInfo(tmp_path / "x")
    items = iter(["1", "0", "2", "x", "4"])
    counted = (info.__setattr__("lines", info.lines + 1) or item for item in items)
    assert list(isolated(fragile, counted, info)) == [1.0, 0.5, 0.25]
    assert info.failed == 2 and info.unparsed_examples == ["line 2: ZeroDivisionError: division by zero",
                                                           "line 4: ValueError: invalid literal for int() with base 10: 'x'"]


# ---------------------------------------------------------------- prepare's inputs and outputs


def _logs(folder: Path, files: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(files):
        write(folder / f"90000{n}.txt", "".join(f"[0:{i // 60:02d}:{i % 60:02d}] <viewer_{i % 7}> stream {n} "
                                                 f"message {i} about things\n" for i in range(100)))
    return folder


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-m", "trainer", *args], capture_output=True, text=True, env=env, cwd=cwd)


def test_prepare_refuses_an_out_that_holds_its_inputs(tmp_path):
    logs = _logs(tmp_path / "logs")
    extra = write(tmp_path / "extra.txt", GOOD)
    before = {p.name: p.read_bytes() for p in logs.iterdir()}
    done = run_cli("prepare", str(logs), str(extra), "--out", str(logs))
    assert done.returncode == 2 and "overwrite" in done.stderr and "Traceback" not in done.stderr
    assert {p.name: p.read_bytes() for p in logs.iterdir()} == before
    corpus = tmp_path / "corpus"
    assert run_cli("prepare", str(logs), "--out", str(corpus)).returncode == 0
    train = (corpus / "train.jsonl").read_bytes()
    done = run_cli("prepare", str(corpus / "train.jsonl"), str(extra), "--out", str(corpus))
    assert done.returncode == 2 and (corpus / "train.jsonl").read_bytes() == train


def test_prepare_refuses_a_missing_valid_input_before_any_work(tmp_path):
    logs = _logs(tmp_path / "logs")
    done = run_cli("prepare", str(logs), "--valid", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "missing.txt" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_fifos_self_links_and_unreadable_folders_are_named(tmp_path):
    logs = _logs(tmp_path / "logs")
    os.mkfifo(logs / "pipe.txt")
    os.symlink("loop.txt", logs / "loop.txt")
    os.symlink(tmp_path / "gone.txt", logs / "dangling.txt")
    locked = logs / "locked"
    locked.mkdir()
    write(locked / "900009.txt", GOOD)
    stats = prepare([logs, logs / "loop.txt"], tmp_path / "out", progress=False)
    problems = "\n".join(stats["input_problems"])
    assert "pipe.txt: a FIFO (named pipe)" in problems
    assert "loop.txt: a symbolic link that leads back to itself" in problems
    assert "dangling.txt: a symbolic link to" in problems and "doesn't exist" in problems
    assert stats["totals"]["files"] == 4
    if os.geteuid() != 0:  # root reads every folder
        locked.chmod(0)
        try:
            stats = prepare([logs], tmp_path / "out2", progress=False)
        finally:
            locked.chmod(0o755)
        assert any("locked: can't read this folder" in p for p in stats["input_problems"])


def _os_walk_denied(monkeypatch, folder: Path):
    real = os.walk

    def walk(top, onerror=None, **kwargs):
        for entry in real(top, onerror=onerror, **kwargs):
            if Path(entry[0]) == folder:
                onerror(PermissionError(13, "Permission denied", str(folder)))
                entry[1][:], entry[2][:] = [], []
                continue
            yield entry
    monkeypatch.setattr(os, "walk", walk)


def test_an_unreadable_folder_is_named(tmp_path, monkeypatch):
    logs = _logs(tmp_path / "logs")
    (logs / "locked").mkdir()
    write(logs / "locked" / "900009.txt", GOOD)
    _os_walk_denied(monkeypatch, logs / "locked")
    stats = prepare([logs], tmp_path / "out", progress=False)
    assert any("locked: can't read this folder (Permission denied)" in p for p in stats["input_problems"])


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs (root only); skipped where it can't be mounted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("can't mount a small tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_prepare_on_a_full_disk_says_so_and_leaves_no_temporary_files(tmp_path, small_disk):
    logs = tmp_path / "logs"
    logs.mkdir()
    for n in range(4):
        write(logs / f"90000{n}.txt", "".join(f"[{i // 3600}:{i // 60 % 60:02d}:{i % 60:02d}] <viewer_{i % 7}> stream {n} "
                                              f"message {i} about things number {i * 7919}\n" for i in range(12000)))
    done = run_cli("prepare", str(logs), "--out", str(small_disk / "corpus"))
    assert done.returncode == 2 and "corpus is full (No space left on device)" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "read failed" not in done.stderr
    assert [p.name for p in (small_disk / "corpus").iterdir() if p.name.startswith(".")] == []
