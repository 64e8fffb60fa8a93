"""Malformed input never stops an import: a bad line is skipped and counted with its line number
and reason, a bad file is a named problem, and every other line and file is still imported."""

from __future__ import annotations

import gzip
import json
import os
import resource
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
