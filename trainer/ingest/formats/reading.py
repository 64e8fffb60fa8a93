"""Reading a log file: its bytes (gzip, even cut short), its encoding, its lines or JSON document;
what a parser makes of it (`Message`, `LogInfo`); the loop that drives every parser (`isolated`:
a line a parser fails on is skipped and counted, the rest of the file is still read); and the
small value conversions parsers share (offsets, ISO times, epochs, IRC emote tags).
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

HEAD_BYTES = 64 * 1024
MAX_EXAMPLES = 3
# No chat message is near this long (Twitch allows 500 characters): a longer line is skipped
# before any pattern sees it, so memory per line stays bounded whatever the file holds.
MAX_LINE = 64 * 1024


class Message(NamedTuple):
    """One parsed chat message, before cleaning."""

    user: str | None  # login or display name; None when the log doesn't say
    text: str  # as logged (a CTCP/`/me` wrapper already removed when the format marks actions)
    ts: str | None = None  # ISO 8601 UTC, when the log has wall-clock times
    offset: float | None = None  # seconds into the VOD, when the log has offsets
    emotes: tuple[str, ...] = ()  # emote names the log marks (JSON fragments, IRC emotes= tag)
    is_action: bool = False  # a /me message
    is_system: bool = False  # a Twitch notice (sub, raid, ...) in the shape of a message
    channel: str | None = None  # only when it changes within a file (raw IRC, corpus records)
    stream: str | None = None  # only when it changes within a file (corpus records)


class LogProblem(Exception):
    """A file that can't be imported; the message says what was wrong."""


@dataclass
class LogInfo:
    """What reading a file found; filled in while its messages are read."""

    path: Path
    format: str = ""
    encoding: str = "utf-8"
    channel: str | None = None
    stream: str | None = None  # a stream id the file names itself (a VOD id in JSON)
    lines: int = 0  # lines (or JSON items) read
    blank: int = 0
    meta_lines: int = 0  # the logger's own lines: headers, joins, MOD/BAN, PING, ...
    unparsed: int = 0  # lines of an unknown shape, too long, or that the parser failed on
    unparsed_examples: list = field(default_factory=list)
    failed: int = 0  # of the unparsed: lines the parser raised an exception on
    too_long: int = 0  # of the unparsed: lines longer than MAX_LINE
    undecodable: int = 0  # bytes the encoding couldn't decode (read as U+FFFD)
    state: dict = field(default_factory=dict)  # what a parser keeps across a line it failed on
    warnings: list = field(default_factory=list)

    def bad_line(self, number: int, line: str) -> None:
        self.unparsed += 1
        if len(self.unparsed_examples) < MAX_EXAMPLES:
            self.unparsed_examples.append(f"line {number}: {line.rstrip()[:80]!r}")

    def failed_line(self, number: int, reason: str) -> None:
        self.unparsed += 1
        self.failed += 1
        if len(self.unparsed_examples) < MAX_EXAMPLES:
            self.unparsed_examples.append(f"line {number}: {reason}")


@dataclass
class LogSource:
    info: LogInfo
    messages: Iterator[Message]


# ---------------------------------------------------------------- reading bytes and text


def read_head(path: Path) -> tuple[bytes, bool]:
    with open(path, "rb") as handle:
        magic = handle.read(2)
    gzipped = magic == b"\x1f\x8b"
    if not gzipped:
        with open(path, "rb") as handle:
            return handle.read(HEAD_BYTES), False
    # A cut-short gzip still yields its first part: read the head in pieces and keep what came.
    pieces: list[bytes] = []
    size = 0
    try:
        with gzip.open(path, "rb") as handle:
            while size < HEAD_BYTES:
                piece = handle.read(8192)
                if not piece:
                    break
                pieces.append(piece)
                size += len(piece)
    except (EOFError, OSError, zlib.error) as error:
        if not pieces:
            raise LogProblem(f"gzip data is damaged or cut short ({error}); re-download or re-compress the file")
    return b"".join(pieces)[:HEAD_BYTES], True


def choose_encoding(head: bytes, info: LogInfo) -> str:
    """The encoding to read with, from the first bytes; LogProblem for binary data."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        info.warnings.append("UTF-16 text (with a byte order mark); decoded as UTF-16")
        return "utf-16"
    if b"\x00" in head:
        # UTF-16 without a BOM: ASCII text has a NUL in every other byte.
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if odd > len(head) // 4 and even < len(head) // 50:
            info.warnings.append("UTF-16 text without a byte order mark; decoded as UTF-16-LE")
            return "utf-16-le"
        if even > len(head) // 4 and odd < len(head) // 50:
            info.warnings.append("UTF-16 text without a byte order mark; decoded as UTF-16-BE")
            return "utf-16-be"
        raise LogProblem("binary data (NUL bytes), not a text chat log; skipped")
    controls = sum(head.count(bytes([c])) for c in range(32) if c not in (9, 10, 13, 1, 12))
    if head and controls > len(head) // 20:
        raise LogProblem("binary data (control bytes), not a text chat log; skipped")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not just a character cut at the end of the head
            info.warnings.append(
                f"not UTF-8 (byte 0x{head[error.start]:02x} at offset {error.start}); "
                "read as Windows-1252/Latin-1 — re-save the file as UTF-8 if characters look wrong"
            )
            return "cp1252"
    return "utf-8"


class _TolerantGzip(io.RawIOBase):
    """Decompressed gzip data that ends quietly where a cut-short file ends (`truncated` says so).

    `gzip.open` raises on a truncated file and the data decompressed before the cut is lost to
    a line reader; here every byte that can be decompressed is delivered.
    """

    def __init__(self, path: Path):
        self._file = open(path, "rb")
        self._inflate = zlib.decompressobj(wbits=31)
        self._buffer = b""
        self._pos = 0
        self.truncated: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while self._pos >= len(self._buffer):
            self._buffer = b""
            self._pos = 0
            compressed = self._file.read(1 << 16)
            if not compressed:
                if not self._inflate.eof and self.truncated is None:
                    self.truncated = "the gzip data ends before its end marker"
                return 0
            try:
                self._buffer = self._inflate.decompress(compressed)
                if self._inflate.eof and self._inflate.unused_data.lstrip(b"\x00"):
                    rest = self._inflate.unused_data  # another gzip member follows
                    self._inflate = zlib.decompressobj(wbits=31)
                    self._buffer += self._inflate.decompress(rest)
            except zlib.error as error:
                self.truncated = f"damaged gzip data ({error})"
                return 0
        size = min(len(target), len(self._buffer) - self._pos)
        target[:size] = self._buffer[self._pos : self._pos + size]
        self._pos += size
        return size

    def close(self) -> None:
        self._file.close()
        super().close()


class _Undecodable:
    """A codec error handler that reads undecodable bytes as U+FFFD and counts them.

    The count is per process; a file's share is the difference over its reading (a process
    reads one file at a time).
    """

    name = "streamchat-count-replace"
    count = 0

    @classmethod
    def handle(cls, error: UnicodeDecodeError):
        cls.count += error.end - error.start
        return "\ufffd", error.end


codecs.register_error(_Undecodable.name, _Undecodable.handle)


def open_text(path: Path, gzipped: bool, encoding: str) -> io.TextIOBase:
    raw = io.BufferedReader(_TolerantGzip(path), 1 << 16) if gzipped else open(path, "rb")
    # Universal newlines: CRLF and CR become "\n". Bytes the encoding can't decode become U+FFFD, counted.
    return io.TextIOWrapper(raw, encoding=encoding, errors=_Undecodable.name, newline=None)


def iter_lines(stream: io.TextIOBase, info: LogInfo) -> Iterator[str]:
    """The lines of a text stream, counted in `info.lines`; a line longer than MAX_LINE is
    skipped without being held whole; undecodable bytes and a damaged gzip end with a warning."""
    undecodable_before = _Undecodable.count
    first_undecodable = 0
    with stream:
        readline = stream.readline
        while line := readline(MAX_LINE):
            info.lines += 1
            if len(line) == MAX_LINE and line[-1] != "\n":
                while (rest := readline(MAX_LINE)) and rest[-1] != "\n":
                    pass
                info.too_long += 1
                info.failed_line(info.lines, f"longer than {MAX_LINE:,} characters; skipped")
                continue
            # (text is decoded ahead of the lines: the count moves before the line comes)
            if not first_undecodable and _Undecodable.count != undecodable_before and "\ufffd" in line:
                first_undecodable = info.lines
            yield line
        info.undecodable = _Undecodable.count - undecodable_before
        if info.undecodable:
            info.warnings.append(
                f"{info.undecodable} bytes aren't {info.encoding} (the first on line {first_undecodable}) "
                "and were read as U+FFFD; re-save the file as UTF-8"
            )
        raw = getattr(stream.buffer, "raw", None)
        if isinstance(raw, _TolerantGzip) and raw.truncated:
            info.warnings.append(f"gzip data cut short or damaged ({raw.truncated}); "
                                 "the lines before the damage were imported, the rest is lost")


def iter_items(items: list, info: LogInfo) -> Iterator:
    """The items of a JSON document's message list, counted in `info.lines` like lines."""
    for item in items:
        info.lines += 1
        yield item


def isolated(parse, items: Iterator, info: LogInfo) -> Iterator[Message]:
    """The messages `parse(items, info)` yields, where a line (or JSON item) it fails on is skipped
    and counted with its number and reason, and parsing goes on with the next one.

    Every parser runs through here, so no bad value in one line can cost the rest of its file.
    A parser that fails before reading a line would fail again: that is the file's problem.
    """
    while True:
        before = info.lines
        try:
            yield from parse(items, info)
            return
        except (LogProblem, OSError):
            raise
        except Exception as error:  # any exception: the line is bad, the file is not
            if info.lines == before:
                raise LogProblem(f"the {info.format} reader failed before line {before + 1} "
                                 f"({describe(error)})") from None
            info.failed_line(info.lines, describe(error))


def describe(error: BaseException) -> str:
    """An exception as a short reason: its type and the start of its message."""
    text = str(error)
    return f"{type(error).__name__}: {text[:120]}" if text else type(error).__name__


def load_json(stream: io.TextIOBase, path: Path):
    with stream:
        text = stream.read()
        raw = getattr(stream.buffer, "raw", None)
        if isinstance(raw, _TolerantGzip) and raw.truncated:
            raise LogProblem(f"gzip data cut short or damaged ({raw.truncated}); the JSON inside can't be read "
                             "— download the file again")
    try:
        return json.loads(text)
    except RecursionError:
        raise LogProblem("JSON nested too deeply to read (thousands of levels); not a chat log") from None
    except json.JSONDecodeError as error:
        raise LogProblem(
            f"malformed JSON at line {error.lineno} column {error.colno} ({error.msg}); "
            "the file is probably cut short — download it again"
        ) from None


# ---------------------------------------------------------------- small helpers

_offset_cache: dict[str, float] = {}


def offset_seconds(text: str) -> float:
    """`H:MM:SS`, `1 day, H:MM:SS`, `MM:SS`, `H:MM:SS.fff` or `H:MM:SS,fff` -> seconds."""
    value = _offset_cache.get(text)
    if value is None:
        days = 0
        clock = text
        if "day" in text:
            head, _, clock = text.partition(", ")
            if not head.split():
                raise ValueError(f"no number of days in {text!r}")
            days = int(head.split()[0])
        parts = clock.replace(",", ".").split(":")
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60 + float(part)
        value = days * 86400.0 + seconds
        if len(_offset_cache) > 200_000:
            _offset_cache.clear()
        _offset_cache[text] = value
    return value


def epoch_iso(value: int, divisor: float = 1) -> str | None:
    """ISO UTC of `value / divisor` seconds since 1970; None when it is no representable time."""
    try:
        return iso_utc(datetime.fromtimestamp(value / divisor, timezone.utc))
    except (OverflowError, OSError, ValueError):
        return None


def iso_utc(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def normalize_iso(text: str | None) -> str | None:
    """An ISO 8601 time from a JSON log as UTC with milliseconds; None if it isn't one."""
    if not text or not isinstance(text, str):
        return None
    if len(text) >= 20 and text[-1] == "Z" and text[10] == "T":
        if len(text) == 24:
            return text
        if len(text) == 20:
            return text[:19] + ".000Z"
        if text[19] == "." and len(text) > 24:
            return text[:23] + "Z"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return iso_utc(moment)
    except (ValueError, OverflowError):  # not a time, or one that leaves the calendar in UTC
        return None


def emotes_from_tag(tag: str, text: str) -> tuple[str, ...]:
    """IRC `emotes=25:0-4,12-16/1902:6-10` -> the emote names (inclusive code-point ranges)."""
    names = []
    for group in tag.split("/"):
        _, _, ranges = group.partition(":")
        first = ranges.split(",", 1)[0]
        start, _, end = first.partition("-")
        if start.isdigit() and end.isdigit():
            name = text[int(start) : int(end) + 1]
            if name:
                names.append(name)
    return tuple(names)


def channel_from(text: str) -> str:
    return text.lstrip("#").lower()

