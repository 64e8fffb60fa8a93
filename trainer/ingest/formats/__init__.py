"""Chat log formats: detect a file's format and parse it into `Message`s.

One parser per format (see `FORMATS`); `open_log(path)` reads a file (gzip transparently, any
of the encodings people's logs come in), detects its format from its first lines unless one is
given, and returns a `LogSource`: what was found about the file (`LogInfo`) and an iterator of
messages. Parsers count every line they don't turn into a message (`LogInfo.meta_lines` for the
logger's own lines, `LogInfo.unparsed` for lines of an unknown shape, with examples), so nothing
disappears uncounted. A file that can't be read at all raises `LogProblem` with a message naming
what was wrong; `prepare` reports it and goes on with the other files.

Text formats are parsed line by line as they are read (memory flat in the file's size); JSON
documents are loaded whole, one VOD at a time.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
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


def _read_head(path: Path) -> tuple[bytes, bool]:
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


def _choose_encoding(head: bytes, info: LogInfo) -> str:
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


def _open_text(path: Path, gzipped: bool, encoding: str) -> io.TextIOBase:
    raw = io.BufferedReader(_TolerantGzip(path), 1 << 16) if gzipped else open(path, "rb")
    # Universal newlines: CRLF and CR become "\n". Bytes the encoding can't decode become U+FFFD.
    return io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline=None)


def _iter_lines(stream: io.TextIOBase, info: LogInfo) -> Iterator[str]:
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


def _load_json(stream: io.TextIOBase, path: Path):
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


def _emotes_from_tag(tag: str, text: str) -> tuple[str, ...]:
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


def _channel_from(text: str) -> str:
    return text.lstrip("#").lower()


# ---------------------------------------------------------------- line formats

# tcd `default` and `irc`: [H:MM:SS] <name> msg  (irc adds a badge prefix: ~ @ % + $ * ! &)
_TCD = re.compile(r"\[((?:\d+ days?, )?\d+:\d\d:\d\d)\] <[~@%+$*!&^]*([^>\s]*) *> ?(.*)")


def parse_tcd(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    match = _TCD.match
    new = tuple.__new__  # Message(...) without its Python-level __new__: this is the hot loop
    cached = _offset_cache.get
    number = 0
    for number, line in enumerate(lines, 1):
        m = match(line)
        if m is not None:
            stamp, user, text = m.groups()
            offset = cached(stamp)
            if offset is None:
                offset = offset_seconds(stamp)
            yield new(Message, (user, text, None, offset, (), False, False, None, None))
        elif line.strip():
            info.bad_line(number, line)
        else:
            info.blank += 1
    info.lines = number


# IRC client logs (HexChat, Chatty, mIRC style):
# "# Log started: 2016-10-01 07:36:02 +0800", "[07:36:03] <User> msg", "<User>* action",
# system lines "[07:36:02] Joining #x..", "MOD: ..", "BAN: ..", "~title~", "[Notification] ..".
_IRC_CLIENT = re.compile(r"\[(\d\d?:\d\d:\d\d)\] <[~@%+$*!&^]*([^>\s]*) *>(\*)? ?(.*)")
_IRC_CLIENT_SYSTEM = re.compile(r"\[(\d\d?:\d\d:\d\d)\] (.*)")
_LOG_STARTED = re.compile(r"# Log (?:started|opened)[:]? (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?: ([+-]\d\d):?(\d\d))?")
_JOINING = re.compile(r"(?:Joining|You have joined|Now talking (?:in|on)) (#\w+)")


class _ClockToUtc:
    """Turns the HH:MM:SS of a log with a dated header into ISO UTC, rolling over midnight."""

    def __init__(self):
        self.base: datetime | None = None  # local midnight of the current day, aware
        self.previous = -1
        self.last_key = ""
        self.last_value: str | None = None

    def start(self, day: str, tz_hours: str | None, tz_minutes: str | None, clock: str) -> None:
        sign = -1 if tz_hours and tz_hours.startswith("-") else 1
        offset = timedelta(hours=abs(int(tz_hours or 0)), minutes=int(tz_minutes or 0)) * sign
        self.base = datetime.fromisoformat(day).replace(tzinfo=timezone(offset))
        self.previous = _clock_seconds(clock)
        self.last_key = ""

    def __call__(self, clock: str) -> str | None:
        if self.base is None:
            return None
        if clock == self.last_key:
            return self.last_value
        seconds = _clock_seconds(clock)
        if seconds < self.previous - 3600:  # the clock went back: past midnight
            self.base += timedelta(days=1)
        self.previous = seconds
        self.last_key = clock
        self.last_value = iso_utc(self.base + timedelta(seconds=seconds))
        return self.last_value


def _clock_seconds(clock: str) -> int:
    h, m, s = clock.split(":")
    return int(h) * 3600 + int(m) * 60 + int(float(s))


def parse_irc_client(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    match = _IRC_CLIENT.match
    clock = _ClockToUtc()
    new = tuple.__new__
    number = 0
    for number, line in enumerate(lines, 1):
        m = match(line)
        if m is not None:
            stamp, user, action, text = m.groups()
            ts = clock.last_value if stamp == clock.last_key else clock(stamp)
            yield new(Message, (user, text, ts, None, (), action is not None, False, None, None))
            continue
        stripped = line.strip()
        if not stripped:
            info.blank += 1
            continue
        if stripped[0] == "#" or stripped[0] == "\ufeff":
            header = _LOG_STARTED.search(stripped)
            if header:
                day, time_of_day, tz_hours, tz_minutes = header.groups()
                clock.start(day, tz_hours, tz_minutes, time_of_day)
            info.meta_lines += 1
            continue
        system = _IRC_CLIENT_SYSTEM.match(stripped)
        if system is not None:
            body = system.group(2)
            if body.startswith("[Notification]"):
                yield Message(None, body[15:], clock(system.group(1)), None, (), False, True)
                continue
            joined = _JOINING.match(body)
            if joined and info.channel is None:
                info.channel = _channel_from(joined.group(1))
            info.meta_lines += 1
        elif stripped in ("-", "--", "---"):
            info.meta_lines += 1
        else:
            info.bad_line(number, line)
    info.lines = number


# TwitchDownloader TXT and OverRustleLogs:
# "[0:00:05] Name: msg", "[2020-05-01 18:00:05 UTC] Name: msg", "[... 18:00:05.432 UTC] ...", "Name: msg"
_TD_TXT = re.compile(r"(?:\[([^\]]{4,40})\] )?([^\s:]{1,40}): (.*)")


def parse_twitchdownloader_txt(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    match = _TD_TXT.match
    number = 0
    for number, line in enumerate(lines, 1):
        m = match(line)
        if m is not None:
            stamp, user, text = m.groups()
            ts = offset = None
            if stamp:
                if stamp.endswith(" UTC"):
                    ts = stamp[:10] + "T" + stamp[11:-4]
                    ts = ts + ("Z" if "." in ts else ".000Z")
                else:
                    try:
                        offset = offset_seconds(stamp)
                    except ValueError:
                        pass
            system = user == "twitchnotify"
            yield Message(user, text, ts, offset, (), False, system)
        elif line.strip():
            info.bad_line(number, line)
        else:
            info.blank += 1
    info.lines = number


# Chatterino: "[18:00:05] viewer_one: msg", "[18:00:14] 表示名 hyoujimei: msg" (two spaces up to 2.4.4);
# lines without "name: " are Twitch notices; "# Start logging at 2024-01-05 18:00:00 UTC".
_CHATTERINO = re.compile(r"\[(\d\d:\d\d:\d\d)\]  ?(?:[^\s:]+ )?(\w+): (.*)")
_CHATTERINO_OTHER = re.compile(r"\[(\d\d:\d\d:\d\d)\]  ?(.*)")
_CHATTERINO_HEADER = re.compile(r"# (?:Start|Stop) logging at (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)")
_DATE_IN_NAME = re.compile(r"(?:^|[-_])(\d{4}-\d\d-\d\d)(?:\.|$)")


def parse_chatterino(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    match = _CHATTERINO.match
    clock = _ClockToUtc()
    dated = _DATE_IN_NAME.search(info.path.name.replace(".gz", ""))
    if dated:
        clock.start(dated.group(1), None, None, "00:00:00")
    if info.channel is None and info.path.parent.name and dated:
        prefix = info.path.name[: dated.start(1)].rstrip("-_")
        if prefix:
            info.channel = prefix.lower()
    number = 0
    for number, line in enumerate(lines, 1):
        m = match(line)
        if m is not None:
            stamp, user, text = m.groups()
            yield Message(user, text, clock(stamp))
            continue
        stripped = line.strip()
        if not stripped:
            info.blank += 1
        elif stripped.startswith("#"):
            header = _CHATTERINO_HEADER.match(stripped)
            if header and "Start" in stripped:
                clock.start(header.group(1), None, None, header.group(2))
            info.meta_lines += 1
        else:
            other = _CHATTERINO_OTHER.match(stripped)
            if other is not None:
                yield Message(None, other.group(2), clock(other.group(1)), None, (), False, True)
            else:
                info.bad_line(number, line)
    info.lines = number


# justlog / rustlog: "[2020-05-1 18:00:05] #chan viewer_one: msg" (justlog doesn't zero-pad).
_JUSTLOG = re.compile(r"\[(\d{4})-(\d\d?)-(\d\d?) (\d\d?):(\d\d):(\d\d)\] #(\w+) (?:(\w+): (.*)|(.*))")


def parse_justlog(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    match = _JUSTLOG.match
    number = 0
    for number, line in enumerate(lines, 1):
        m = match(line)
        if m is not None:
            y, mo, d, h, mi, s, channel, user, text, notice = m.groups()
            ts = f"{y}-{int(mo):02d}-{int(d):02d}T{int(h):02d}:{mi}:{s}.000Z"
            if info.channel is None:
                info.channel = channel.lower()
            if user is not None:
                yield Message(user, text, ts)
            else:
                yield Message(None, notice, ts, None, (), False, True)
        elif line.strip():
            info.bad_line(number, line)
        else:
            info.blank += 1
    info.lines = number


# Raw IRC as captured from Twitch, optionally with IRCv3 tags and a leading capture time:
# "@badges=..;emotes=25:0-4 :nick!nick@nick.tmi.twitch.tv PRIVMSG #chan :text"
# "2019-04-30_08:57:00 ;;; :nick!nick@nick.tmi.twitch.tv PRIVMSG #chan :text"
_IRC = re.compile(
    r"(?:(\d{4}-\d\d-\d\d[_T ]\d\d:\d\d:\d\d(?:\.\d+)?)\S* ;;; )?"
    r"(?:@(\S+) )?:([^\s!]+)(?:!\S+)? ([A-Z]+|\d{3}) ?(#\w+)?(?: :?(.*))?"
)
_IRC_BARE = re.compile(r"(?:\S+ ;;; )?(?:PING|PONG|CAP|PASS|NICK|USER|JOIN|PART)\b")


def parse_irc(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    match = _IRC.match
    number = 0
    for number, line in enumerate(lines, 1):
        m = match(line)
        if m is None:
            stripped = line.strip()
            if not stripped:
                info.blank += 1
            elif _IRC_BARE.match(stripped):
                info.meta_lines += 1
            else:
                info.bad_line(number, line)
            continue
        captured, tags, nick, command, channel, text = m.groups()
        if command not in ("PRIVMSG", "USERNOTICE") or text is None:
            info.meta_lines += 1
            continue
        text = text.rstrip("\r\n")
        ts = None
        emotes: tuple[str, ...] = ()
        user = nick
        if tags:
            tag_map = dict(item.partition("=")[::2] for item in tags.split(";"))
            sent = tag_map.get("tmi-sent-ts", "")
            if sent.isdigit():
                ts = iso_utc(datetime.fromtimestamp(int(sent) / 1000, timezone.utc))
            user = tag_map.get("login") or nick
        if ts is None and captured:
            ts = normalize_iso(captured.replace("_", "T", 1).replace(" ", "T", 1) + "Z")
        action = text.startswith("\x01ACTION ")
        if action:
            text = text[8:].rstrip("\x01")
        if tags and "emotes=" in tags:
            emote_tag = tags.split("emotes=", 1)[1].split(";", 1)[0]
            if emote_tag:
                emotes = _emotes_from_tag(emote_tag, text)
        chan = _channel_from(channel) if channel else None
        if info.channel is None:
            info.channel = chan
        yield Message(
            user, text, ts, None, emotes, action, command == "USERNOTICE",
            chan if chan != info.channel else None,
        )
    info.lines = number


# Tab-separated "time<TAB>login<TAB>message" (live captures, e.g. "2021-06-08 19:42:45,041").
_TSV_TIME = re.compile(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:[.,](\d{1,6}))?")


def parse_tsv(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    last_stamp = ""
    last_ts: str | None = None
    new = tuple.__new__
    number = 0
    for number, line in enumerate(lines, 1):
        parts = line.split("\t", 2)
        if len(parts) == 3:
            stamp, user, text = parts
            if stamp != last_stamp:
                last_stamp = stamp
                if len(stamp) >= 19 and stamp[4] == "-" and stamp[13] == ":":
                    frac = (stamp[20:23] + "000")[:3] if len(stamp) > 20 else "000"
                    last_ts = f"{stamp[:10]}T{stamp[11:19]}.{frac}Z"
                elif stamp.isdigit():  # epoch seconds or milliseconds
                    value = int(stamp)
                    last_ts = iso_utc(datetime.fromtimestamp(value / 1000 if value > 10**11 else value, timezone.utc))
                else:
                    last_ts = None
            if text[-1:] == "\n":
                text = text[:-1]
            yield new(Message, (user, text, last_ts, None, (), False, False, None, None))
        elif not line.strip():
            info.blank += 1
        elif line.startswith(("StartTime:", "EndTime:", "#")):
            info.meta_lines += 1
        else:
            info.bad_line(number, line)
    info.lines = number


# tcd srt: numbered blocks, "00:00:05,000 --> 00:00:07,000", "Viewer_One: hello chat Kappa"
_SRT_TIME = re.compile(r"(\d+:\d\d:\d\d[,.]\d+) -->")
_SRT_TEXT = re.compile(r"([^\s:]{1,40}): (.*)")


def parse_srt(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    offset = None
    number = 0
    for number, line in enumerate(lines, 1):
        stripped = line.rstrip("\n")
        if not stripped.strip():
            info.blank += 1
            continue
        if stripped.isdigit():
            info.meta_lines += 1
            continue
        timing = _SRT_TIME.match(stripped)
        if timing:
            offset = offset_seconds(timing.group(1))
            info.meta_lines += 1
            continue
        m = _SRT_TEXT.match(stripped)
        if m:
            yield Message(m.group(1), m.group(2), None, offset)
        else:
            info.bad_line(number, line)
    info.lines = number


# tcd ssa: "Dialogue: Marked=0,0:00:05.43,0:00:07.43,Default,Name,0000,0000,0000,,{\c&H..&}Name {\c&H..&}msg"
_SSA_OVERRIDE = re.compile(r"\{[^}]*\}")


def parse_ssa(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    number = 0
    for number, line in enumerate(lines, 1):
        if line.startswith("Dialogue:"):
            fields = line[9:].strip().split(",", 9)
            if len(fields) == 10:
                user = fields[4].strip()
                body = fields[9]
                if body.startswith("{"):
                    # "{\c..}Name {\c..}message": the text after the second override block
                    parts = _SSA_OVERRIDE.split(body)
                    body = parts[-1] if len(parts) >= 3 else _SSA_OVERRIDE.sub("", body)
                yield Message(user or None, body.replace("\\N", " "), None, offset_seconds(fields[1]))
                continue
            info.bad_line(number, line)
        elif line.strip():
            info.meta_lines += 1  # [Script Info], Style:, Format:, ...
        else:
            info.blank += 1
    info.lines = number


def parse_plain(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    number = 0
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if text:
            yield Message(None, text)
        else:
            info.blank += 1
    info.lines = number


MESSAGE_COLUMNS = ("message", "text", "body", "content", "msg", "comment", "chat")
USER_COLUMNS = ("user", "username", "user_name", "login", "author", "nick", "name", "display_name", "sender")
TIME_COLUMNS = ("timestamp", "time", "created_at", "createdat", "date", "datetime", "ts", "sent_at")


def _csv_columns(header: list[str]) -> tuple[int, int | None, int | None] | None:
    names = [h.strip().lower().lstrip("\ufeff") for h in header]

    def find(candidates):
        for candidate in candidates:
            if candidate in names:
                return names.index(candidate)
        return None

    message = find(MESSAGE_COLUMNS)
    if message is None:
        return None
    return message, find(USER_COLUMNS), find(TIME_COLUMNS)


def parse_csv(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    rows = csv.reader(lines)
    header = next(rows, None)
    info.lines = 1
    columns = _csv_columns(header or [])
    if columns is None:
        raise LogProblem(f"CSV without a message column (header: {header}); name one of {', '.join(MESSAGE_COLUMNS)}")
    message, user_col, time_col = columns
    info.meta_lines += 1
    try:
        for row in rows:
            info.lines += 1
            if not row:
                info.blank += 1
                continue
            if len(row) <= message:
                info.bad_line(info.lines, ",".join(row))
                continue
            user = row[user_col] if user_col is not None and user_col < len(row) else None
            stamp = row[time_col] if time_col is not None and time_col < len(row) else None
            ts = None
            if stamp:
                ts = normalize_iso(stamp.strip().replace(" ", "T", 1))
                if ts is None and stamp.strip().isdigit():
                    value = int(stamp)
                    ts = iso_utc(datetime.fromtimestamp(value / 1000 if value > 10**11 else value, timezone.utc))
            yield Message(user, row[message], ts)
    except csv.Error as error:
        info.warnings.append(f"CSV broken at line {info.lines} ({error}); the rows before it were imported")


def parse_corpus(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    """The corpus `.jsonl` that `prepare` writes and the bot collects (trainer.corpus.records)."""
    loads = json.loads
    number = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            info.blank += 1
            continue
        try:
            data = loads(line)
            text = data["text"]
            if not isinstance(text, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            info.bad_line(number, line)
            continue
        stream = data.get("stream")
        # `user` is the collector's salted hash, never a name: it only counts distinct chatters.
        yield Message(
            data.get("user"), text, normalize_iso(data.get("ts")), None, (), False, False,
            data.get("channel"), str(stream) if stream not in (None, "") else None,
        )
    info.lines = number


# ---------------------------------------------------------------- JSON documents


def _fragments_text(fragments) -> tuple[str, tuple[str, ...]]:
    texts = []
    emotes = []
    for fragment in fragments or ():
        if not isinstance(fragment, dict):
            continue
        text = fragment.get("text") or ""
        texts.append(text)
        if (fragment.get("emote") or fragment.get("emoticon")) and text.strip():
            emotes.append(text.strip())
    return "".join(texts), tuple(emotes)


def parse_v5_json(data, info: LogInfo) -> Iterator[Message]:
    """tcd `json` and TwitchDownloader JSON: {"comments": [v5 comment, ...], "video"/"streamer": ...}."""
    comments = data.get("comments") if isinstance(data, dict) else data
    if not isinstance(comments, list):
        raise LogProblem("JSON without a `comments` list; not a tcd/TwitchDownloader chat file")
    if isinstance(data, dict):
        streamer = data.get("streamer") or {}
        video = data.get("video") or {}
        login = (streamer.get("login") or streamer.get("name") or video.get("user_login")
                 or video.get("user_name") or (video.get("channel") or {}).get("name") if isinstance(video, dict) else None)
        if isinstance(login, str) and login:
            info.channel = login.lower()
        video_id = video.get("id") if isinstance(video, dict) else None
        if video_id:
            info.stream = str(video_id).lstrip("v")
    info.lines = len(comments)
    for number, comment in enumerate(comments, 1):
        try:
            message = comment["message"]
            text = message.get("body")
            text_from_fragments, emotes = _fragments_text(message.get("fragments"))
            if text is None:
                text = text_from_fragments
            commenter = comment.get("commenter") or {}
            user = commenter.get("name") or commenter.get("display_name")
            offset = comment.get("content_offset_seconds")
            yield Message(
                user, text, normalize_iso(comment.get("created_at")),
                float(offset) if offset is not None else None, emotes, bool(message.get("is_action")),
            )
        except (KeyError, TypeError, AttributeError, ValueError):
            info.bad_line(number, json.dumps(comment)[:80])


def _gql_comments(data) -> list:
    """A VideoComment array, or the same inside GraphQL responses ({data: {video: {comments: {edges}}}})."""
    if isinstance(data, dict):
        data = [data]
    comments = []
    for item in data:
        if isinstance(item, dict) and "data" in item and "message" not in item:
            video = ((item.get("data") or {}).get("video") or {})
            edges = ((video.get("comments") or {}).get("edges") or [])
            comments.extend(edge.get("node") for edge in edges if isinstance(edge, dict))
        else:
            comments.append(item)
    return comments


def parse_gql(data, info: LogInfo) -> Iterator[Message]:
    """Twitch GQL `VideoComment` arrays; text from `message.body` or, newer, only `fragments`."""
    comments = _gql_comments(data)
    info.lines = len(comments)
    new = tuple.__new__
    for number, comment in enumerate(comments, 1):
        try:
            message = comment["message"]
            text = message.get("body")
            text_from_fragments, emotes = _fragments_text(message.get("fragments"))
            if text is None:
                text = text_from_fragments
            commenter = comment.get("commenter") or {}
            user = commenter.get("login") or commenter.get("displayName")
            if info.stream is None and comment.get("contentId"):
                info.stream = str(comment["contentId"])
            offset = comment.get("contentOffsetSeconds")
            yield new(Message, (user, text, normalize_iso(comment.get("createdAt")),
                                float(offset) if offset is not None else None, emotes, False, False, None, None))
        except (KeyError, TypeError, AttributeError, ValueError):
            info.bad_line(number, json.dumps(comment)[:80])


def parse_chat_downloader(data, info: LogInfo) -> Iterator[Message]:
    """chat-downloader (xenova) JSON: a list of items with `message`, `author`, `emotes`, ..."""
    if not isinstance(data, list):
        raise LogProblem("chat-downloader JSON should be a list of messages")
    info.lines = len(data)
    for number, item in enumerate(data, 1):
        try:
            text = item.get("message")
            if text is None:
                info.meta_lines += 1
                continue
            author = item.get("author") or {}
            stamp = item.get("timestamp")
            ts = iso_utc(datetime.fromtimestamp(stamp / 1_000_000, timezone.utc)) if isinstance(stamp, int) else None
            emotes = tuple(e["name"] for e in item.get("emotes") or () if isinstance(e, dict) and e.get("name"))
            kind = item.get("message_type", "text_message")
            offset = item.get("time_in_seconds")
            yield Message(
                author.get("name") or author.get("display_name"), text, ts,
                float(offset) if isinstance(offset, (int, float)) else None, emotes,
                kind == "action_message" or bool(item.get("is_action")), kind not in ("text_message", "action_message"),
            )
        except (KeyError, TypeError, AttributeError, ValueError):
            info.bad_line(number, json.dumps(item)[:80])


def parse_justlog_json(data, info: LogInfo) -> Iterator[Message]:
    """justlog / rustlog `?json`: {"messages": [{"text", "username", "channel", "timestamp", "type", "tags"}]}."""
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, list):
        raise LogProblem("JSON without a `messages` list; not a justlog/rustlog file")
    info.lines = len(messages)
    for number, item in enumerate(messages, 1):
        try:
            text = item["text"]
            if info.channel is None and item.get("channel"):
                info.channel = str(item["channel"]).lower()
            tags = item.get("tags") or {}
            emotes = _emotes_from_tag(tags["emotes"], text) if tags.get("emotes") else ()
            kind = item.get("type", 1)
            yield Message(
                item.get("username") or item.get("displayName"), text,
                normalize_iso(item.get("timestamp")), None, emotes, False, kind not in (1, None),
            )
        except (KeyError, TypeError, AttributeError, ValueError):
            info.bad_line(number, json.dumps(item)[:80])


# ---------------------------------------------------------------- the registry and detection


@dataclass(frozen=True)
class Format:
    name: str
    description: str
    parse: Callable
    is_json: bool = False  # parse() takes the loaded document instead of lines


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("tcd", "tcd default/irc text: [H:MM:SS] <name> msg", parse_tcd),
        Format("tcd-srt", "tcd srt subtitles", parse_srt),
        Format("tcd-ssa", "tcd ssa subtitles (Dialogue: lines)", parse_ssa),
        Format("tcd-json", "tcd JSON: {comments: [v5 comments], video}", parse_v5_json, True),
        Format("twitchdownloader-json", "TwitchDownloader JSON (v5 comments, FileInfo, streamer)", parse_v5_json, True),
        Format("twitchdownloader-txt", "TwitchDownloader TXT / OverRustleLogs: [time] Name: msg", parse_twitchdownloader_txt),
        Format("gql", "Twitch GQL VideoComment arrays (message.body or fragments)", parse_gql, True),
        Format("chat-downloader", "chat-downloader JSON list", parse_chat_downloader, True),
        Format("chatterino", "Chatterino logs: [HH:MM:SS] name: msg (one or two spaces)", parse_chatterino),
        Format("justlog", "justlog/rustlog text: [YYYY-M-D HH:MM:SS] #chan name: msg", parse_justlog),
        Format("justlog-json", "justlog/rustlog JSON: {messages: [...]}", parse_justlog_json, True),
        Format("irc", "raw Twitch IRC, IRCv3 tags and a capture time optional", parse_irc),
        Format("tsv", "time<TAB>login<TAB>message", parse_tsv),
        Format("csv", "CSV with a header naming a message column", parse_csv),
        Format("irc-client", "IRC client logs with # Log started headers and system lines", parse_irc_client),
        Format("corpus", "streamchat corpus records (.jsonl), as prepare writes and the bot collects", parse_corpus),
        Format("plain", "plain text, one message per line", parse_plain),
    )
}
ALIASES = {"overrustlelogs": "twitchdownloader-txt", "rustlog": "justlog", "tcd-irc": "tcd",
           "tcd-default": "tcd", "jsonl": "corpus", "txt": "plain", "hexchat": "irc-client", "chatty": "irc-client"}

# A line shape per text format, for detection (a format wins when most sample lines fit it).
_DETECT_LINES: list[tuple[str, re.Pattern]] = [
    ("justlog", re.compile(r"\[\d{4}-\d\d?-\d\d? \d\d?:\d\d:\d\d\] #\w+ ")),
    ("tcd", re.compile(r"\[(?:\d+ days?, )?\d+:\d\d:\d\d\] <[^>]*> ?")),
    ("irc", re.compile(r"(?:\S+ ;;; )?(?:@\S+ )?:\S+ (?:[A-Z]+|\d{3})\b|(?:\S+ ;;; )?PING ")),
    ("tsv", re.compile(r"[^\t]*\d[^\t]*\t[^\t]+\t")),
    ("twitchdownloader-txt", re.compile(r"\[(?:\d+:\d\d:\d\d|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? UTC)\] [^\s:]+: ")),
    ("chatterino", re.compile(r"\[\d\d:\d\d:\d\d\]  ?(?:[^\s:]+ )?\w+: ")),
    ("tcd-ssa", re.compile(r"Dialogue: |\[Script Info\]|\[Events\]|\[V4\+? Styles\]|Style: |Format: |Title: |ScriptType: ")),
    ("tcd-srt", re.compile(r"\d+$|\d+:\d\d:\d\d[,.]\d+ --> |[^\s:]{1,40}: ")),
]
_NAME_COLON = re.compile(r"[A-Za-z0-9_]{2,25}: ")


def resolve_format(name: str) -> str:
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in FORMATS:
        raise ValueError(f"unknown format {name!r}; known: {', '.join(sorted(FORMATS) + sorted(ALIASES))}")
    return key


def detect_format(head: str, path: Path | None = None) -> str:
    """The format of a file from its first characters (and its name for Chatterino's dated files)."""
    text = head.lstrip("\ufeff \t\r\n")
    if not text:
        raise LogProblem("empty file (no text); nothing to import")
    lines = [line for line in text.splitlines()[:400] if line.strip()]
    if len(text) >= HEAD_BYTES // 2 and len(lines) > 1:
        lines = lines[:-1]  # the last line of a cut head may be partial
    first = lines[0]
    if first.startswith("{"):
        try:
            record = json.loads(first)
            if isinstance(record, dict) and "text" in record and len(lines) >= 1:
                return "corpus"
        except ValueError:
            pass
    if text[0] in "[{":
        found = _detect_json(text)
        if found:
            return found
    if first.startswith("# Log started") or first.startswith("# Log opened"):
        return "irc-client"
    if first.startswith("# Start logging"):
        return "chatterino"
    if first.startswith(("[Script Info]", "Dialogue:")):
        return "tcd-ssa"
    sample = [line for line in lines if not line.startswith("#")][:200] or lines
    scores = {name: sum(1 for line in sample if pattern.match(line)) for name, pattern in _DETECT_LINES}
    best = max(scores, key=scores.get)
    if scores[best] >= 0.6 * len(sample):
        if best == "tcd" and any(l.startswith(("# Log", "-")) for l in lines):
            return "irc-client"
        if best == "twitchdownloader-txt" and path is not None and _DATE_IN_NAME.search(path.name):
            if all(re.match(r"\[\d\d:", line) for line in sample[:20]):
                return "chatterino"
        if best == "chatterino" and scores["twitchdownloader-txt"] >= scores["chatterino"]:
            dated = path is not None and _DATE_IN_NAME.search(path.name)
            return "chatterino" if dated else "twitchdownloader-txt"
        if best == "tcd-srt" and not (sample[0].strip().isdigit() and len(sample) > 1 and "-->" in sample[1]):
            pass
        else:
            return best
    if "," in first:
        try:
            header = next(csv.reader([first]))
            if len(header) > 1 and _csv_columns(header) is not None:
                return "csv"
        except csv.Error:
            pass
    if sum(1 for line in sample if _NAME_COLON.match(line)) >= 0.9 * len(sample) and len(sample) >= 3:
        return "twitchdownloader-txt"
    if text[0] in "[{":
        raise LogProblem("looks like JSON but has none of the chat shapes we know "
                         "(tcd/TwitchDownloader `comments`, GQL VideoComment, chat-downloader, justlog `messages`)")
    return "plain"


def _detect_json(text: str) -> str | None:
    start = text[:4000]
    if text[0] == "{":
        if '"comments"' in text[:2_000_000] and ('"FileInfo"' in start or '"streamer"' in start or '"embeddedData"' in text):
            return "twitchdownloader-json"
        if '"comments"' in start or '"content_offset_seconds"' in start:
            return "tcd-json"
        if '"messages"' in start:
            return "justlog-json"
        if '"data"' in start and '"VideoComment' in text or '"contentOffsetSeconds"' in start:
            return "gql"
        return None
    if '"contentOffsetSeconds"' in start or '"VideoComment"' in start or '"edges"' in start:
        return "gql"
    if '"content_offset_seconds"' in start:
        return "tcd-json"
    if '"message_type"' in start or '"time_in_seconds"' in start or '"author"' in start:
        return "chat-downloader"
    if text.startswith("[]"):
        return "gql"
    return None


def open_log(path: str | Path, fmt: str | None = None) -> LogSource:
    """Open one log file: read its head, choose the encoding, detect (or take) the format."""
    path = Path(path)
    info = LogInfo(path)
    try:
        if path.stat().st_size == 0:
            raise LogProblem("empty file (0 bytes); nothing to import")
        head_bytes, gzipped = _read_head(path)
    except OSError as error:
        raise LogProblem(f"can't read it ({error.strerror or error})") from None
    if not head_bytes:
        raise LogProblem("empty file (no data inside the gzip); nothing to import")
    info.encoding = _choose_encoding(head_bytes, info)
    head = head_bytes.decode(info.encoding.replace("-sig", ""), errors="replace")
    if fmt:
        info.format = resolve_format(fmt)
    else:
        info.format = detect_format(head, path)
    spec = FORMATS[info.format]
    stream = _open_text(path, gzipped, info.encoding)
    if spec.is_json:
        data = _load_json(stream, path)
        return LogSource(info, spec.parse(data, info))
    return LogSource(info, spec.parse(_iter_lines(stream, info), info))
