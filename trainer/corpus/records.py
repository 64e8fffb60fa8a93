"""The corpus record: one chat message, as `prepare` writes it and the bot collects it.

This module owns the schema. A record is one JSON object per line (JSON Lines, UTF-8):

    {"text": "hello chat Kappa", "channel": "somechannel", "stream": "752430475",
     "ts": "2020-09-24T18:00:05Z"}

- `text`    the cleaned message, never empty, never a username.
- `channel` the channel's login, or null when the log doesn't say.
- `stream`  what the split groups by: a VOD id, a log file's day, a collected day.
- `ts`      ISO 8601 in UTC, or null when the log has only offsets into a VOD.
Collected live chat adds:
- `id`      Twitch's message id (deletions refer to it).
- `user`    a salted one-way hash of the chatter's user id (opt-outs refer to it), never a name.

Records of one stream are written in time order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from json.encoder import encode_basestring as _json_string  # a str as json.dumps(ensure_ascii=False) writes it
from pathlib import Path

from trainer.errors import StreamchatError
from trainer.fsutil import atomic_write

TRAIN_FILE = "train.jsonl"
VALID_FILE = "valid.jsonl"
STATS_FILE = "stats.json"
EMOTES_FILE = "emotes.txt"


def utc_now() -> str:
    """Now as ISO 8601 UTC to the second: how live records, and the times compared with them, are stamped."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class ChatRecord:
    text: str
    channel: str | None = None
    stream: str = ""
    ts: str | None = None
    id: str | None = None
    user: str | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> str:
        data = {"text": self.text, "channel": self.channel, "stream": self.stream, "ts": self.ts}
        if self.id is not None:
            data["id"] = self.id
        if self.user is not None:
            data["user"] = self.user
        data.update(self.extra)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict) -> ChatRecord:
        known = {"text", "channel", "stream", "ts", "id", "user"}
        return cls(
            text=data["text"],
            channel=data.get("channel"),
            stream=str(data.get("stream") or ""),
            ts=data.get("ts"),
            id=data.get("id"),
            user=data.get("user"),
            extra={k: v for k, v in data.items() if k not in known},
        )


def stream_lines(texts: Sequence[str], stamps: Sequence[str | None], *, channel: str | None, stream: str) -> str:
    """Records of one stream's messages (`texts` with their `ts`) as JSON Lines.

    Byte for byte what `ChatRecord(text, channel, stream, ts).to_json()` writes, a line each, but
    with one format string per stream and one C-level call per field: the import writes every
    kept message through here.
    """
    head = '{"text":%s,"channel":' + _json_null_or_string(channel).replace("%", "%%")
    template = head + ',"stream":' + _json_string(stream).replace("%", "%%") + ',"ts":%s}\n'
    return "".join(map(template.__mod__, zip(map(_json_string, texts), map(_json_null_or_string, stamps))))


def _json_null_or_string(value: str | None) -> str:
    return "null" if value is None else _json_string(value)


def read_records(path: str | Path) -> Iterator[ChatRecord]:
    """Yield the records of a JSON Lines file; a malformed line is a StreamchatError naming it.

    A last line cut short by a crash (no trailing newline, invalid JSON) is skipped: an
    append that was never acknowledged.
    """
    path = Path(path)
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict) or not isinstance(data.get("text"), str):
                    raise ValueError("not an object with a text field")
            except ValueError as error:
                if not line.endswith("\n"):
                    return  # torn final write
                raise StreamchatError(f"{path}:{number}: not a corpus record ({error})") from None
            yield ChatRecord.from_dict(data)


def write_records(path: str | Path, records: Iterable[ChatRecord]) -> int:
    """Write records to `path` atomically (`trainer.fsutil.atomic_write`); return the count."""
    count = 0
    with atomic_write(path) as handle:
        for record in records:
            handle.write(record.to_json())
            handle.write("\n")
            count += 1
    return count


def append_record(handle, record: ChatRecord) -> None:
    """Append one record to an open text file and push it to the OS (survives kill -9)."""
    handle.write(record.to_json() + "\n")
    handle.flush()
