"""Reading a log file: its bytes (gzip, even cut short), its encoding, its lines or JSON document;
what a parser makes of it (`Message`, `LogInfo`); and the small value conversions parsers share
(offsets, ISO times, IRC emote tags).
"""

from __future__ import annotations

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
    unparsed: int = 0  # lines of an unknown shape
    unparsed_examples: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def bad_line(self, number: int, line: str) -> None:
        self.unparsed += 1
        if len(self.unparsed_examples) < MAX_EXAMPLES:
            self.unparsed_examples.append(f"line {number}: {line.rstrip()[:80]!r}")


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


def open_text(path: Path, gzipped: bool, encoding: str) -> io.TextIOBase:
    raw = io.BufferedReader(_TolerantGzip(path), 1 << 16) if gzipped else open(path, "rb")
    # Universal newlines: CRLF and CR become "\n". Bytes the encoding can't decode become U+FFFD.
    return io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline=None)


def iter_lines(stream: io.TextIOBase, info: LogInfo) -> Iterator[str]:
    """The lines of a text stream, read in large chunks; a damaged gzip ends it with a warning."""
    with stream:
        while True:
            chunk = stream.readlines(1 << 20)
            if not chunk:
                break
            yield from chunk
        raw = getattr(stream.buffer, "raw", None)
        if isinstance(raw, _TolerantGzip) and raw.truncated:
            info.warnings.append(f"gzip data cut short or damaged ({raw.truncated}); "
                                 "the lines before the damage were imported, the rest is lost")


def load_json(stream: io.TextIOBase, path: Path):
    with stream:
        text = stream.read()
        raw = getattr(stream.buffer, "raw", None)
        if isinstance(raw, _TolerantGzip) and raw.truncated:
            raise LogProblem(f"gzip data cut short or damaged ({raw.truncated}); the JSON inside can't be read "
                             "— download the file again")
    try:
        return json.loads(text)
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
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return iso_utc(moment)


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

