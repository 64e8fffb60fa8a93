"""Malformed chat logs for the fuzz suite (tests/test_fuzz.py) and its longer run (benchmarks/fuzz.py).

Inputs are random bytes, small made-up lines of every format mutated (cut, spliced, huge numbers,
impossible dates, odd characters), JSON documents of each shape filled with values of any type and
deep nesting, and all of these in odd encodings. `check_parser` reads one such file in a given
format; `check_prepare` imports it beside a good file. Both fail (AssertionError, or the
exception itself) on a crash; a `LogProblem` or a skipped, counted line is the right answer.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

from trainer.corpus.records import read_records
from trainer.ingest.formats import FORMATS, LogProblem, open_log
from trainer.ingest.prepare import prepare

# Small made-up lines of every line format (no real chat): what mutations start from.
SEEDS: dict[str, list[str]] = {
    "tcd": ["[0:00:05] <viewer_one> hello chat", "[1 day, 0:00:05] <~mod> still here"],
    "irc-client": ["# Log started: 2016-10-01 07:36:02 +0800", "[07:36:03] <viewer> hello there",
                   "[07:36:04] Joining #somechannel..", "[23:59:59] <viewer>* waves"],
    "twitchdownloader-txt": ["[0:00:05] Viewer: hello chat", "[2020-05-01 18:00:05 UTC] viewer: hi",
                             "viewer_two: plain line"],
    "chatterino": ["# Start logging at 2024-01-05 18:00:00 UTC", "[18:00:05] viewer: hello",
                   "[18:00:06] somebody subscribed"],
    "justlog": ["[2020-05-1 18:00:05] #chan viewer_one: hello", "[2020-05-01 18:00:06] #chan viewer was timed out"],
    "irc": ["@badges=;emotes=25:0-4;login=viewer;tmi-sent-ts=1600000000000 :viewer!v@v.tmi.twitch.tv "
            "PRIVMSG #chan :Kappa hello", "2019-04-30_08:57:00 ;;; :nick!nick@nick.tmi.twitch.tv PRIVMSG #chan :hi",
            "PING :tmi.twitch.tv"],
    "tsv": ["2021-06-08 19:42:45,041\tviewer\thello chat", "1600000000\tviewer\thi", "1600000000000\tviewer\thi"],
    "csv": ["time,user,message", "2024-01-01 10:00:00,viewer,hello chat", "1600000000,viewer,\"quoted, text\""],
    "tcd-srt": ["1", "00:00:05,000 --> 00:00:07,000", "Viewer_One: hello chat"],
    "tcd-ssa": ["[Script Info]", "Dialogue: Marked=0,0:00:05.43,0:00:07.43,Default,Name,0000,0000,0000,,"
                "{\\c&H00&}Name {\\c&H00&}hello chat"],
    "plain": ["hello chat", "another message"],
    "corpus": ['{"text": "hello chat", "ts": "2024-01-01T10:00:00.000Z", "channel": "chan", "stream": "1"}'],
}
JSON_FORMATS = [name for name, spec in FORMATS.items() if spec.is_json]

_junk_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_huge = st.sampled_from(["99999999999999999999", "-1", "1e400", "NaN", "²³¹", "0" * 400, "9" * 30])
_bad_dates = st.sampled_from(["2016-13-45", "9999-12-31", "0000-00-00", "2024-99-99", "2024-02-30",
                              "+9999", "-9999", "25:61:61", "99:99:99", ", day", "1 days, x"])


@st.composite
def mutated_line(draw, fmt: str) -> str:
    """A seed line of `fmt` after a few random edits."""
    line = draw(st.sampled_from(SEEDS[fmt]))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(line)))
        kind = draw(st.sampled_from(["insert", "delete", "number", "date", "cut", "repeat"]))
        if kind == "insert":
            line = line[:at] + draw(_junk_text) + line[at:]
        elif kind == "delete":
            line = line[:at] + line[at + draw(st.integers(1, 8)):]
        elif kind == "number":  # a digit run replaced by a huge or odd number
            digits = [i for i, c in enumerate(line) if c.isdigit()]
            if digits:
                i = draw(st.sampled_from(digits))
                line = line[:i] + draw(_huge) + line[i + 1:]
        elif kind == "date":
            line = line[:at] + draw(_bad_dates) + line[at:]
        elif kind == "cut":
            line = line[:at]
        else:
            line = line[:at] * draw(st.integers(1, 50))
    return line


def json_values(max_leaves: int = 8):
    """Any JSON value: wrong types where the formats expect others, huge numbers, odd strings."""
    leaves = (st.none() | st.booleans() | st.integers() | st.integers(min_value=10**18, max_value=10**40)
              | st.floats(allow_nan=False, allow_infinity=False) | _junk_text | _bad_dates | _huge)
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.sampled_from(_JSON_KEYS) | _junk_text, inner, max_size=4),
                        max_leaves=max_leaves)


_JSON_KEYS = ["comments", "message", "body", "fragments", "text", "emoticon", "commenter", "name", "display_name",
              "login", "displayName", "created_at", "createdAt", "content_offset_seconds", "contentOffsetSeconds",
              "contentId", "streamer", "video", "id", "user_login", "channel", "data", "edges", "node",
              "timestamp", "time_in_seconds", "author", "emotes", "message_type", "messages", "username",
              "tags", "type", "is_action"]


@st.composite
def json_document(draw, fmt: str) -> str:
    """A document of `fmt`'s outer shape whose items are random values (or one nested very deep)."""
    items = draw(st.lists(json_values(), max_size=6))
    comment = {"message": {"body": "hello chat", "fragments": draw(json_values(4))},
               "commenter": draw(json_values(4)), "created_at": draw(_bad_dates),
               "content_offset_seconds": draw(json_values(1))}
    items.insert(draw(st.integers(0, len(items))), comment)
    pieces = [json.dumps(item) for item in items]
    if draw(st.booleans()):  # nesting far deeper than any log: read, or refused by name
        depth = draw(st.sampled_from([50, 5_000, 100_000]))
        pieces.append("[" * depth + "]" * depth)
    body = "[" + ", ".join(pieces) + "]"
    if fmt in ("tcd-json", "twitchdownloader-json"):
        return '{"streamer": %s, "video": %s, "comments": %s}' % (
            json.dumps(draw(json_values(3))), json.dumps(draw(json_values(3))), body)
    if fmt == "justlog-json":
        return '{"messages": %s}' % body
    if fmt == "gql":
        return '[{"data": %s}, %s]' % (json.dumps(draw(json_values(4))), body[1:-1] or "{}")
    return body


ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252", "latin-1"]


@st.composite
def log_bytes(draw, fmt: str) -> bytes:
    """The bytes of a malformed file of `fmt`: random bytes, mutated lines, or a random document."""
    kind = draw(st.sampled_from(["bytes", "structured", "structured"]))
    if kind == "bytes":
        return draw(st.binary(max_size=2000))
    if fmt in JSON_FORMATS:
        text = draw(json_document(fmt))
    else:
        lines = draw(st.lists(mutated_line(fmt), min_size=1, max_size=12))
        lines = [line for seed in SEEDS[fmt][:1] for line in [seed]] + lines  # the seed header first
        text = "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n"]))
    encoding = draw(st.sampled_from(ENCODINGS))
    return text.encode(encoding, errors="replace")


@dataclass
class FuzzCounts:
    """What a fuzz run saw: cases, crashes (exceptions that escaped), good files lost, lines skipped."""

    cases: int = 0
    crashes: int = 0
    good_files_lost: int = 0
    file_problems: int = 0  # files refused with a named LogProblem
    failed_lines: int = 0  # lines a parser raised on, skipped and counted by the isolation
    examples: list = field(default_factory=list)


def check_parser(fmt: str, data: bytes, counts: FuzzCounts | None = None) -> None:
    """Read `data` as a file of `fmt`: only a LogProblem may come out, and messages are well-typed."""
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        path = folder / ("chan-2024-01-05.log" if fmt == "chatterino" else "chat.log")
        path.write_bytes(data)
        try:
            source = open_log(path, fmt)
            messages = list(source.messages)
        except LogProblem:
            if counts:
                counts.file_problems += 1
            return
        for message in messages:
            assert isinstance(message.text, str), message
            assert message.user is None or isinstance(message.user, str), message
            assert message.ts is None or isinstance(message.ts, str), message
            assert message.channel is None or isinstance(message.channel, str), message
        assert source.info.lines >= 0 and source.info.unparsed >= source.info.failed
        if counts:
            counts.failed_lines += source.info.failed
    finally:
        shutil.rmtree(folder, ignore_errors=True)


GOOD_LOG = "".join(f"[0:{i // 60:02d}:{i % 60:02d}] <viewer_{i % 9}> good message number {i} about the run\n"
                   for i in range(60))


def check_prepare(files: list[bytes], counts: FuzzCounts | None = None) -> None:
    """Import the malformed `files` beside one good log: it must finish and keep all of the good one."""
    folder = Path(tempfile.mkdtemp(prefix="fuzz-prepare-"))
    try:
        logs = folder / "logs"
        logs.mkdir()
        (logs / "100000.txt").write_text(GOOD_LOG, encoding="utf-8")
        for n, data in enumerate(files):
            (logs / f"bad{n}.{['txt', 'json', 'log', 'csv', 'tsv', 'jsonl'][n % 6]}").write_bytes(data)
        stats = prepare([logs], folder / "out", progress=False, workers=1)
        good = next(r for r in stats["files"] if r["path"].endswith("100000.txt"))
        texts = {r.text for name in ("train.jsonl", "valid.jsonl") for r in read_records(folder / "out" / name)}
        lost = good["kept"] != 60 or not all(f"good message number {i} about the run" in texts for i in range(60))
        if counts:
            counts.good_files_lost += lost
            counts.file_problems += sum(1 for r in stats["files"] if r["error"])
            counts.failed_lines += sum(r["failed_lines"] for r in stats["files"])
        assert not lost, good
    finally:
        shutil.rmtree(folder, ignore_errors=True)
