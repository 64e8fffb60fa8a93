"""Logs of one message a row: tab-separated captures, CSV exports with a header, plain text."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator

from trainer.ingest.formats.detect import Format, Head, LineShape, Rule
from trainer.ingest.formats.reading import LogInfo, LogProblem, Message, epoch_iso, normalize_iso

# Tab-separated "time<TAB>login<TAB>message" (live captures, e.g. "2021-06-08 19:42:45,041").


def parse_tsv(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    last_stamp = ""
    last_ts: str | None = None
    new = tuple.__new__
    for line in lines:
        parts = line.split("\t", 2)
        if len(parts) == 3:
            stamp, user, text = parts
            if stamp != last_stamp:
                last_stamp = stamp
                if len(stamp) >= 19 and stamp[4] == "-" and stamp[13] == ":":
                    frac = (stamp[20:23] + "000")[:3] if len(stamp) > 20 else "000"
                    last_ts = f"{stamp[:10]}T{stamp[11:19]}.{frac}Z"
                elif stamp.isascii() and stamp.isdigit():  # epoch seconds or milliseconds
                    last_ts = _epoch_seconds_or_ms(int(stamp))
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
            info.bad_line(info.lines, line)


def parse_plain(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    for line in lines:
        text = line.strip()
        if text:
            yield Message(None, text)
        else:
            info.blank += 1


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


def _epoch_seconds_or_ms(value: int) -> str | None:
    return epoch_iso(value, 1000 if value > 10**11 else 1)


def parse_csv(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    rows = csv.reader(lines)
    columns = info.state.get("csv columns")  # known when the reader resumes after a bad row
    if columns is None:
        header = next(rows, None)
        columns = _csv_columns(header or [])
        if columns is None:
            raise LogProblem(f"CSV without a message column (header: {header}); name one of {', '.join(MESSAGE_COLUMNS)}")
        info.state["csv columns"] = columns
        info.meta_lines += 1
    message, user_col, time_col = columns
    for row in rows:
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
            stamp = stamp.strip()
            ts = normalize_iso(stamp.replace(" ", "T", 1))
            if ts is None and stamp.isascii() and stamp.isdigit():
                ts = _epoch_seconds_or_ms(int(stamp))
        yield Message(user, row[message], ts)


# ---------------------------------------------------------------- the formats and how each is recognised


def _csv_header(head: Head) -> bool:
    if "," not in head.first:
        return False
    try:
        header = next(csv.reader([head.first]))
    except csv.Error:
        return False
    return len(header) > 1 and _csv_columns(header) is not None


TSV = Format(
    "tsv", "time<TAB>login<TAB>message", parse_tsv,
    line_shape=LineShape(re.compile(r"[^\t]*\d[^\t]*\t[^\t]+\t"), 4),
)
CSV = Format("csv", "CSV with a header naming a message column", parse_csv, rules=(Rule(60, _csv_header),))
# Plain text is what is left, unless it looks like a JSON document none of the JSON formats know.
PLAIN = Format(
    "plain", "plain text, one message per line", parse_plain, aliases=("txt",),
    rules=(Rule(99, lambda head: not (head.is_object or head.is_array)),),
)
