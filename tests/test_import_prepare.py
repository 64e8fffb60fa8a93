"""`prepare` end to end: outputs, stats that account for every line, the split, bad input, the CLI."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trainer.ingest.cleaning import could_be_username
from trainer.errors import StreamchatError
from trainer.ingest.prepare import prepare, summary
from trainer.corpus.prepared import load_prepared
from trainer.corpus.records import ChatRecord, read_records, stream_lines
from trainer.ingest.split import StreamInfo, choose_validation

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"


def tcd_lines(n: int, start: int = 0, prefix: str = "msg") -> str:
    return "".join(f"[0:{(i // 60) % 60:02d}:{i % 60:02d}] <viewer{i % 7}> {prefix} {i}\n" for i in range(start, start + n))


def accounted(stats: dict) -> None:
    """Every line is blank, a logger line, of an unknown shape, or a message kept or dropped."""
    for report in stats["files"]:
        if report["format"] in (None, "gql", "tcd-json", "twitchdownloader-json", "chat-downloader", "justlog-json"):
            continue
        assert report["lines"] == (report["messages"] + report["blank_lines"] + report["log_lines"]
                                   + report["unparsed_lines"]), report
        if not report["error"]:
            assert report["messages"] == report["kept"] + sum(report["dropped"].values()), report
    t = stats["totals"]
    assert t["messages"] == t["kept"] + sum(t["dropped"].values())
    assert t["kept"] == t["train_messages"] + t["valid_messages"]


@pytest.fixture(scope="module")
def sample_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    stats = prepare([SAMPLE], out, progress=False)
    return out, stats


def test_sample_outputs_and_schema(sample_corpus):
    out, stats = sample_corpus
    train = list(read_records(out / "train.jsonl"))
    valid = list(read_records(out / "valid.jsonl"))
    assert len(train) == stats["totals"]["train_messages"] > 3000
    assert len(valid) == stats["totals"]["valid_messages"] > 300
    assert {r.stream for r in valid} == {"900000105"}  # the most recent stream
    assert [r.stream for r in train] == sorted(r.stream for r in train)  # oldest stream first
    assert all(r.text and r.text == r.text.strip() for r in train + valid)
    line = (out / "train.jsonl").read_text(encoding="utf-8").splitlines()[0]
    assert list(json.loads(line)) == ["text", "channel", "stream", "ts"]
    emotes = (out / "emotes.txt").read_text(encoding="utf-8").split()
    assert {"pawsHi", "pawsLove", "Kappa", "KEKW"} <= set(emotes)
    assert not {"lol", "true", "the"} & set(emotes)
    accounted(stats)
    for reason in ("bot_account", "command", "system_notice", "burst_repeat", "link_only"):
        assert stats["totals"]["dropped"][reason] > 0, reason
    for change in ("mention_replaced", "username_replaced", "invisible_stripped", "url_removed", "repeats_capped"):
        assert stats["totals"]["changed"][change] > 0, change
    assert "kept" in summary(stats) and "validation messages also in training" in summary(stats)


def test_no_username_reaches_the_corpus(sample_corpus):
    out, _ = sample_corpus
    names = set()
    for path in SAMPLE.glob("*.txt"):
        for line in path.read_text(encoding="utf-8").splitlines():
            names.add(line.split("<", 1)[1].split(">", 1)[0].lower())
    names = {n for n in names if could_be_username(n)}
    for record in read_records(out / "train.jsonl"):
        words = {w.strip(",.!?").lower() for w in record.text.split()}
        assert not (words & names), record.text
        assert "@" not in record.text.replace("@user", "")


def test_valid_inputs_form_validation_and_overlap_is_reported(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "100001.txt").write_text(tcd_lines(300) + "[1:00:00] <a> shared line\n")
    (tmp_path / "logs" / "100002.txt").write_text(tcd_lines(300, 1000) + "[1:00:00] <b> Shared  LINE\n")
    out = tmp_path / "out"
    stats = prepare([tmp_path / "logs"], out, valid=[tmp_path / "logs" / "100001.txt"], progress=False)
    assert stats["split"]["valid_streams"] == ["100001"]
    assert stats["totals"]["valid_messages"] == 301
    assert stats["split"]["overlap"]["in_train"] == 1  # case and spaces don't matter
    assert {r.stream for r in read_records(out / "valid.jsonl")} == {"100001"}


def test_a_single_stream_holds_out_its_tail(tmp_path):
    path = tmp_path / "only.txt"
    path.write_text(tcd_lines(1000))
    stats = prepare([path], tmp_path / "out", progress=False)
    valid = [r.text for r in read_records(tmp_path / "out" / "valid.jsonl")]
    train = [r.text for r in read_records(tmp_path / "out" / "train.jsonl")]
    assert len(valid) == 100 and train[-1] == "msg 899" and valid[0] == "msg 900"
    assert "last 10%" in stats["split"]["method"]


def test_choose_validation_per_group_most_recent_about_ten_percent():
    streams = [StreamInfo(f"{i}", "chan_a", 100, f"2024-01-{i:02d}T00:00:00.000Z") for i in range(1, 21)]
    streams += [StreamInfo("7777", "chan_b", 500), StreamInfo("7778", "chan_b", 40), StreamInfo("7779", "chan_b", 30)]
    streams += [StreamInfo("single", "chan_c", 900)]
    streams += [StreamInfo("d1", "chan_d", 100, "2024-01-01"), StreamInfo("d2", "chan_d", 900, "2024-02-01"),
                StreamInfo("d0", "chan_d", 100, "2023-12-01")]
    plan = choose_validation(streams)
    # chan_a: 2 of 20 equal streams; chan_b (570 messages, no times): the two highest VOD ids
    # until 57 are held; chan_c's only stream stays in training; chan_d's newest stream is too
    # big (900 of 1100), so the next most recent one is held out.
    assert plan.valid == {"20", "19", "7779", "7778", "d1"}
    forced = choose_validation(streams[:3] + [StreamInfo("x", "g", 10, forced_valid=True)])
    assert forced.valid == {"x"}


def write_bad_inputs(folder: Path) -> None:
    folder.mkdir()
    (folder / "binary.log").write_bytes(bytes(range(256)) * 20)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "latin1.txt").write_bytes(tcd_lines(20, prefix="caf\xe9").encode("latin-1"))
    (folder / "utf16.txt").write_bytes(tcd_lines(20, prefix="utf16").encode("utf-16"))
    (folder / "utf16le.txt").write_bytes(tcd_lines(20, prefix="utf16le").encode("utf-16-le"))
    (folder / "bom.txt").write_bytes(b"\xef\xbb\xbf" + tcd_lines(20, prefix="bom").encode())
    (folder / "crlf.txt").write_bytes(tcd_lines(20, prefix="crlf").replace("\n", "\r\n").encode())
    good_gzip = gzip.compress(tcd_lines(4000, prefix="gz").encode())
    (folder / "truncated.txt.gz").write_bytes(good_gzip[: len(good_gzip) // 2])
    (folder / "truncated.json.gz").write_bytes(gzip.compress(b'[{"contentOffsetSeconds": 1}]')[:-12])
    (folder / "malformed.json").write_text('[{"contentOffsetSeconds": 1, "message": {"body": "hi"}, ')
    (folder / "mixed.txt").write_text(tcd_lines(30, prefix="ok") + "this line has an unknown shape\n")


def test_bad_input_is_reported_and_everything_else_imported(tmp_path):
    write_bad_inputs(tmp_path / "bad")
    (tmp_path / "nologs").mkdir()
    (tmp_path / "nologs" / "notes.md").write_text("not a log")
    out = tmp_path / "out"
    stats = prepare([tmp_path / "bad", tmp_path / "nologs"], out, progress=False)
    files = {Path(r["path"]).name: r for r in stats["files"]}
    assert "binary" in files["binary.log"]["error"]
    assert "empty" in files["empty.txt"]["error"]
    assert "malformed JSON" in files["malformed.json"]["error"]
    assert "gzip" in files["truncated.json.gz"]["error"]
    truncated = files["truncated.txt.gz"]
    assert truncated["kept"] > 0 and any("cut short" in w for w in truncated["warnings"])
    assert any("Latin-1" in w for w in files["latin1.txt"]["warnings"])
    assert any("UTF-16" in w for w in files["utf16.txt"]["warnings"])
    assert any("UTF-16" in w for w in files["utf16le.txt"]["warnings"])
    assert files["mixed.txt"]["unparsed_lines"] == 1 and "unknown shape" in files["mixed.txt"]["warnings"][0]
    assert any("nologs" in p and "no log files" in p for p in stats["input_problems"])
    texts = {r.text for r in read_records(out / "train.jsonl")} | {r.text for r in read_records(out / "valid.jsonl")}
    for expected in ("caf\xe9 5", "utf16 5", "utf16le 5", "bom 0", "crlf 19", "ok 29", "gz 1"):
        assert expected in texts, expected
    assert not any("\r" in t or "\ufeff" in t for t in texts)
    accounted(stats)
    text = summary(stats)
    assert "binary.log" in text and "malformed.json" in text


def test_nothing_to_import_is_a_clear_error(tmp_path):
    (tmp_path / "nologs").mkdir()
    with pytest.raises(StreamchatError, match="no log files"):
        prepare([tmp_path / "nologs"], tmp_path / "out", progress=False)
    # A named input that doesn't exist is refused before any work.
    with pytest.raises(StreamchatError, match="no such file or folder: .*missing"):
        prepare([tmp_path / "nologs", tmp_path / "missing"], tmp_path / "out", progress=False)


def test_cli_end_to_end(tmp_path):
    blocked = tmp_path / "blocked.txt"
    blocked.write_text("# words never learned\nlantern\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "trainer", "prepare", str(SAMPLE), "--out", str(tmp_path / "out"),
         "--bots", "GentleToaster,QuietComet71", "--bot-name", "LazyTurnip", "--block-words", str(blocked)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "imported 5,500 messages" in result.stdout
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["totals"]["dropped"]["blocked_word"] > 0
    assert stats["totals"]["dropped"]["own_bot"] > 0
    texts = [r.text for r in read_records(tmp_path / "out" / "train.jsonl")]
    assert not any("lantern" in t.lower() for t in texts)
    failed = subprocess.run([sys.executable, "-m", "trainer", "prepare", str(tmp_path / "nope"), "--out",
                             str(tmp_path / "o2")], capture_output=True, text=True, env=env, timeout=120)
    assert failed.returncode == 2 and failed.stderr.startswith("error: ") and "no such file" in failed.stderr


@pytest.mark.shared_data
def test_sodapoppin_with_the_seed_validation_vod(shared_data, tmp_path):
    folder = shared_data / "sodapoppin-tcd"
    stats = prepare([folder], tmp_path, valid=[folder / "752430475.txt"], progress=False)
    assert stats["split"]["valid_streams"] == ["752430475"]
    assert stats["totals"]["messages"] == 380239 - sum(r["unparsed_lines"] for r in stats["files"])
    overlap = stats["split"]["overlap"]["fraction"]
    assert 0.3 < overlap < 0.6  # README: 54 % before thinning bursts
    accounted(stats)


def test_worker_processes_give_the_same_corpus(tmp_path, sample_corpus):
    out, stats = sample_corpus
    parallel = prepare([SAMPLE], tmp_path, progress=False, workers=2)
    assert parallel["workers"] == 2
    for name in ("train.jsonl", "valid.jsonl", "emotes.txt"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name
    assert parallel["totals"]["dropped"] == stats["totals"]["dropped"]
    assert parallel["split"]["overlap"] == stats["split"]["overlap"]


def test_several_channels_in_one_capture_are_separate_streams(tmp_path):
    lines = []
    for i in range(40):
        channel = "first" if i % 2 else "second"
        lines.append(f":u{i}!u{i}@u{i}.tmi.twitch.tv PRIVMSG #{channel} :message {i}\n")
    (tmp_path / "capture.irc").write_text("".join(lines))
    prepare([tmp_path / "capture.irc"], tmp_path / "out", progress=False)
    records = list(read_records(tmp_path / "out" / "train.jsonl")) + list(read_records(tmp_path / "out" / "valid.jsonl"))
    # the first line names the capture's channel; the other channel gets its own stream
    assert {(r.channel, r.stream) for r in records} == {("second", "capture"), ("first", "first/capture")}
    assert all(int(r.text.split()[1]) % 2 == (r.channel == "first") for r in records)


def test_an_earlier_output_inside_an_input_folder_is_not_reimported(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "100001.txt").write_text(tcd_lines(50))
    (tmp_path / "logs" / "100002.txt").write_text(tcd_lines(50, 100))
    out = tmp_path / "logs" / "prepared"
    first = prepare([tmp_path / "logs"], out, progress=False)
    second = prepare([tmp_path / "logs"], out, progress=False)
    assert first["totals"]["messages"] == second["totals"]["messages"] == 100
    assert len(second["files"]) == 2


def test_unknown_format_name_is_a_clear_error(tmp_path):
    with pytest.raises(StreamchatError, match="unknown format 'nope'"):
        prepare([SAMPLE], tmp_path, fmt="nope", progress=False)


def test_the_import_writes_records_exactly_as_chat_record_does():
    texts = ['say "hi" \\ ok', "日本語 🙂", "100%s sure", "%d%%", "tab\tand\u2028line"]
    stamps = ["2020-09-24T18:00:05.000Z", None, "x%s", None, "2020-09-24T18:00:06.000Z"]
    for channel, stream in ((None, "752430475"), ('we"ird%s', "chan/2020-09-24%")):
        lines = stream_lines(texts, stamps, channel=channel, stream=stream)
        expected = "".join(ChatRecord(t, channel, stream, ts).to_json() + "\n" for t, ts in zip(texts, stamps))
        assert lines == expected


def test_a_prepared_corpus_reads_back_with_clear_errors(sample_corpus, tmp_path):
    out, stats = sample_corpus
    corpus = load_prepared(out, need_valid=True)
    assert len(corpus.train) == stats["totals"]["train_messages"]
    assert len(corpus.valid) == stats["totals"]["valid_messages"]
    assert corpus.emotes and corpus.stats["totals"] == stats["totals"]
    with pytest.raises(StreamchatError, match="no data folder at .*trainer prepare"):
        load_prepared(tmp_path / "nowhere")
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(out / "train.jsonl", partial / "train.jsonl")
    (partial / "stats.json").write_text("{cut short")
    corpus = load_prepared(partial)  # training needs no validation split, nor readable stats
    assert corpus.valid == [] and corpus.stats == {} and corpus.emotes == []
    with pytest.raises(StreamchatError, match=r"not a prepared corpus \(no valid.jsonl\)"):
        load_prepared(partial, need_valid=True)


@pytest.mark.shared_data
def test_no_chatters_login_is_learned_from_any_shared_set(shared_data, tmp_path):
    """Every set of ../shared/data: no training message holds the login (5+ characters, any case,
    with or without @) of any chatter of the same logs, emotes and the channel's name excepted."""
    import re

    from trainer.ingest.formats import open_log
    from trainer.ingest.prepare import find_log_files

    word = re.compile(r"(?<![\w])@?[A-Za-z0-9_]{5,25}(?![\w])")
    checked = 0
    for folder in sorted(p for p in shared_data.iterdir() if p.is_dir()):
        logins, channels = set(), set()
        for path, _ in find_log_files([folder])[0]:
            source = open_log(path, None)
            for message in source.messages:
                logins.add((message.user or "").lower())
                channels.add((message.channel or "").lower())
            channels.add((source.info.channel or "").lower())
        out = tmp_path / folder.name
        prepare([folder], out, progress=False)
        emotes = set((out / "emotes.txt").read_text(encoding="utf-8").split())
        for record in read_records(out / "train.jsonl"):
            checked += 1
            for match in word.finditer(record.text):
                name = match.group().lstrip("@")
                assert not (name.lower() in logins and name not in emotes and name.lower() not in channels), \
                    (folder.name, record.text)
    assert checked > 500_000


def test_prepare_names_accounts_that_look_like_bots(tmp_path):
    lines = [f"[0:{i // 60:02d}:{i % 60:02d}] <viewer{i % 7}> chat line number {i} here lol" for i in range(300)]
    lines += [f"[1:{i // 60:02d}:{i % 60:02d}] <SubHelper> - Fan{i} just re-subscribed for {i} months! PogU"
              for i in range(80)]
    lines += [f"[2:{i // 60:02d}:{i % 60:02d}] <SubHelper> Thanks for the {i} bits Fan{i}!" for i in range(40)]
    (tmp_path / "123456789.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    stats = prepare([tmp_path / "123456789.txt"], tmp_path / "out", progress=False)
    assert stats["bot_like_accounts"] == [{"account": "subhelper", "templated_lines": 120, "messages": 120}]
    assert "--bots subhelper" in summary(stats)
    stats = prepare([tmp_path / "123456789.txt"], tmp_path / "out", progress=False, bot_names=["subhelper"])
    assert stats["bot_like_accounts"] == [] and "look like bots" not in summary(stats)
