"""Chat logs of one message a line, as chat clients and downloaders write them.

tcd's text, IRC clients (HexChat, Chatty, mIRC), TwitchDownloader TXT and OverRustleLogs,
Chatterino, justlog/rustlog, and raw Twitch IRC. Each parser reads lines as they come (memory
flat in the file's size) and counts every line it doesn't turn into a message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone

from trainer.ingest.formats.detect import Format, Head, LineShape, Rule
from trainer.ingest.formats.reading import (
    LogInfo, Message, channel_from, emotes_from_tag, epoch_iso, iso_utc, normalize_iso, offset_seconds, _offset_cache,
)

# tcd `default` and `irc`: [H:MM:SS] <name> msg  (irc adds a badge prefix: ~ @ % + $ * ! &)
_TCD = re.compile(r"\[((?:\d+ days?, )?\d+:\d\d:\d\d)\] <[~@%+$*!&^]*([^>\s]*) *> ?(.*)")


def parse_tcd(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    match = _TCD.match
    new = tuple.__new__  # Message(...) without its Python-level __new__: this is the hot loop
    cached = _offset_cache.get
    for line in lines:
        m = match(line)
        if m is not None:
            stamp, user, text = m.groups()
            offset = cached(stamp)
            if offset is None:
                offset = offset_seconds(stamp)
            yield new(Message, (user, text, None, offset, (), False, False, None, None))
        elif line.strip():
            info.bad_line(info.lines, line)
        else:
            info.blank += 1


# IRC client logs (HexChat, Chatty, mIRC style):
# "# Log started: 2016-10-01 07:36:02 +0800", "[07:36:03] <User> msg", "<User>* action",
# system lines "[07:36:02] Joining #x..", "MOD: ..", "BAN: ..", "~title~", "[Notification] ..".
_IRC_CLIENT = re.compile(r"\[(\d\d?:\d\d:\d\d)\] <[~@%+$*!&^]*([^>\s]*) *>(\*)? ?(.*)")
_IRC_CLIENT_SYSTEM = re.compile(r"\[(\d\d?:\d\d:\d\d)\] (.*)")
_LOG_STARTED = re.compile(r"# Log (?:started|opened)[:]? (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?: ([+-]\d\d):?(\d\d))?")
_JOINING = re.compile(r"(?:Joining|You have joined|Now talking (?:in|on)) (#\w+)")


class _ClockToUtc:
    """Turns the HH:MM:SS of a log with a dated header into ISO UTC, rolling over midnight.

    A header with an impossible date or offset leaves the times out (None) until the next good
    one, with a warning; so does a day past the end of the calendar.
    """

    def __init__(self, info: LogInfo):
        self.info = info
        self.base: datetime | None = None  # local midnight of the current day, aware
        self.previous = -1
        self.last_key = ""
        self.last_value: str | None = None

    def start(self, day: str, tz_hours: str | None, tz_minutes: str | None, clock: str) -> None:
        self.last_key = ""
        self.last_value = None
        try:
            sign = -1 if tz_hours and tz_hours.startswith("-") else 1
            offset = timedelta(hours=abs(int(tz_hours or 0)), minutes=int(tz_minutes or 0)) * sign
            self.base = datetime.fromisoformat(day).replace(tzinfo=timezone(offset))
            self.previous = _clock_seconds(clock)
        except (ValueError, OverflowError) as error:
            self.base = None
            self.info.warnings.append(f"line {self.info.lines}: no usable date ({error}); "
                                      "messages until the next good header have no time")

    def __call__(self, clock: str) -> str | None:
        if self.base is None:
            return None
        if clock == self.last_key:
            return self.last_value
        seconds = _clock_seconds(clock)
        try:
            if seconds < self.previous - 3600:  # the clock went back: past midnight
                self.base += timedelta(days=1)
            value = iso_utc(self.base + timedelta(seconds=seconds))
        except OverflowError:  # past the year 9999
            self.base = None
            return None
        self.previous = seconds
        self.last_key = clock
        self.last_value = value
        return value


def _clock_seconds(clock: str) -> int:
    h, m, s = clock.split(":")
    return int(h) * 3600 + int(m) * 60 + int(float(s))


def parse_irc_client(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    match = _IRC_CLIENT.match
    clock = info.state.setdefault("clock", _ClockToUtc(info))
    new = tuple.__new__
    for line in lines:
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
                info.channel = channel_from(joined.group(1))
            info.meta_lines += 1
        elif stripped in ("-", "--", "---"):
            info.meta_lines += 1
        else:
            info.bad_line(info.lines, line)


# TwitchDownloader TXT and OverRustleLogs:
# "[0:00:05] Name: msg", "[2020-05-01 18:00:05 UTC] Name: msg", "[... 18:00:05.432 UTC] ...", "Name: msg"
_TD_TXT = re.compile(r"(?:\[([^\]]{4,40})\] )?([^\s:]{1,40}): (.*)")


def parse_twitchdownloader_txt(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    match = _TD_TXT.match
    for line in lines:
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
            info.bad_line(info.lines, line)
        else:
            info.blank += 1


# Chatterino: "[18:00:05] viewer_one: msg", "[18:00:14] 表示名 hyoujimei: msg" (two spaces up to 2.4.4);
# lines without "name: " are Twitch notices; "# Start logging at 2024-01-05 18:00:00 UTC".
_CHATTERINO = re.compile(r"\[(\d\d:\d\d:\d\d)\]  ?(?:[^\s:]+ )?(\w+): (.*)")
_CHATTERINO_OTHER = re.compile(r"\[(\d\d:\d\d:\d\d)\]  ?(.*)")
_CHATTERINO_HEADER = re.compile(r"# (?:Start|Stop) logging at (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)")
_DATE_IN_NAME = re.compile(r"(?:^|[-_])(\d{4}-\d\d-\d\d)(?:\.|$)")


def parse_chatterino(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    match = _CHATTERINO.match
    clock = info.state.get("clock")
    dated = _DATE_IN_NAME.search(info.path.name.replace(".gz", ""))
    if clock is None:
        clock = info.state["clock"] = _ClockToUtc(info)
        if dated:
            clock.start(dated.group(1), None, None, "00:00:00")
    if info.channel is None and info.path.parent.name and dated:
        prefix = info.path.name[: dated.start(1)].rstrip("-_")
        if prefix:
            info.channel = prefix.lower()
    for line in lines:
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
                info.bad_line(info.lines, line)


# justlog / rustlog: "[2020-05-1 18:00:05] #chan viewer_one: msg" (justlog doesn't zero-pad).
_JUSTLOG = re.compile(r"\[(\d{4})-(\d\d?)-(\d\d?) (\d\d?):(\d\d):(\d\d)\] #(\w+) (?:(\w+): (.*)|(.*))")


def parse_justlog(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    match = _JUSTLOG.match
    for line in lines:
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
            info.bad_line(info.lines, line)
        else:
            info.blank += 1


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
    for line in lines:
        m = match(line)
        if m is None:
            stripped = line.strip()
            if not stripped:
                info.blank += 1
            elif _IRC_BARE.match(stripped):
                info.meta_lines += 1
            else:
                info.bad_line(info.lines, line)
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
            if sent.isascii() and sent.isdigit():
                ts = epoch_iso(int(sent), 1000)
            user = tag_map.get("login") or nick
        if ts is None and captured:
            ts = normalize_iso(captured.replace("_", "T", 1).replace(" ", "T", 1) + "Z")
        action = text.startswith("\x01ACTION ")
        if action:
            text = text[8:].rstrip("\x01")
        if tags and "emotes=" in tags:
            emote_tag = tags.split("emotes=", 1)[1].split(";", 1)[0]
            if emote_tag:
                emotes = emotes_from_tag(emote_tag, text)
        chan = channel_from(channel) if channel else None
        if info.channel is None:
            info.channel = chan
        yield Message(
            user, text, ts, None, emotes, action, command == "USERNOTICE",
            chan if chan != info.channel else None,
        )


# ---------------------------------------------------------------- the formats and how each is recognised


def _tcd_or_irc_client(head: Head) -> str:
    # IRC client logs share tcd's "[time] <name>" lines; their "# Log" headers and "-" separators tell them apart.
    return "irc-client" if any(line.startswith(("# Log", "-")) for line in head.lines) else "tcd"


def _twitchdownloader_or_chatterino(head: Head) -> str:
    # "[18:00:05] name: msg" is both; Chatterino names its files by date.
    dated = head.path is not None and _DATE_IN_NAME.search(head.path.name)
    if dated and all(re.match(r"\[\d\d:", line) for line in head.sample[:20]):
        return "chatterino"
    return "twitchdownloader-txt"


_NAME_COLON = re.compile(r"[A-Za-z0-9_]{2,25}: ")


def _names_and_colons(head: Head) -> bool:
    # "Name: msg" without times (OverRustleLogs exports, copied chat): nearly every line.
    return len(head.sample) >= 3 and head.fitting(_NAME_COLON) >= 0.9 * len(head.sample)


TCD = Format(
    "tcd", "tcd default/irc text: [H:MM:SS] <name> msg", parse_tcd, aliases=("tcd-irc", "tcd-default"),
    line_shape=LineShape(re.compile(r"\[(?:\d+ days?, )?\d+:\d\d:\d\d\] <[^>]*> ?"), 2, _tcd_or_irc_client),
)
TWITCHDOWNLOADER_TXT = Format(
    "twitchdownloader-txt", "TwitchDownloader TXT / OverRustleLogs: [time] Name: msg", parse_twitchdownloader_txt,
    aliases=("overrustlelogs",),
    rules=(Rule(61, _names_and_colons),),
    line_shape=LineShape(
        re.compile(r"\[(?:\d+:\d\d:\d\d|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? UTC)\] [^\s:]+: "), 5,
        _twitchdownloader_or_chatterino,
    ),
)
CHATTERINO = Format(
    "chatterino", "Chatterino logs: [HH:MM:SS] name: msg (one or two spaces)", parse_chatterino,
    rules=(Rule(31, lambda head: head.first.startswith("# Start logging")),),
    line_shape=LineShape(re.compile(r"\[\d\d:\d\d:\d\d\]  ?(?:[^\s:]+ )?\w+: "), 6),
)
JUSTLOG = Format(
    "justlog", "justlog/rustlog text: [YYYY-M-D HH:MM:SS] #chan name: msg", parse_justlog, aliases=("rustlog",),
    line_shape=LineShape(re.compile(r"\[\d{4}-\d\d?-\d\d? \d\d?:\d\d:\d\d\] #\w+ "), 1),
)
IRC = Format(
    "irc", "raw Twitch IRC, IRCv3 tags and a capture time optional", parse_irc,
    line_shape=LineShape(re.compile(r"(?:\S+ ;;; )?(?:@\S+ )?:\S+ (?:[A-Z]+|\d{3})\b|(?:\S+ ;;; )?PING "), 3),
)
IRC_CLIENT = Format(
    "irc-client", "IRC client logs with # Log started headers and system lines", parse_irc_client,
    aliases=("hexchat", "chatty"),
    rules=(Rule(30, lambda head: head.first.startswith(("# Log started", "# Log opened"))),),
)
