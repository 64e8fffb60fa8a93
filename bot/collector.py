"""Collecting live chat for retraining: one corpus file per channel and day, crash-safe.

    STREAMCHAT_COLLECT_DIR/<channel>/<YYYY-MM-DD>.jsonl

Each line is a corpus record (`trainer.corpus.records.ChatRecord`) that `prepare` reads directly,
plus `id` (Twitch's message id) and `user`, a salted one-way hash of the chatter's user id:
opt-outs and bans can refer to it, but no name is ever stored and the hash can't be reversed
or matched against another installation (the salt is made once, in `.salt`, mode 0600).

Durability: every record is written with one write() and flushed before `collect` returns,
so a crash or kill -9 loses nothing that was collected (the kernel has it). A restart
appends to the day's file after reading the message ids already in it, so a message that
Twitch delivers again is never written twice.

The channel's privacy policy (`trainer.corpus.privacy`, `<channel>/.policy.json`) is honoured: users
who opted out or were forgotten are not stored, nor messages with a blocked word; deletions
and clears by moderators purge the files through `trainer.corpus.privacy`, holding `file_guard` so
no append slips in between a purge's read and its rename.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from trainer.corpus import privacy
from trainer.ingest.cleaning import blocked_word_pattern
from trainer.corpus.records import ChatRecord, append_record

logger = logging.getLogger(__name__)

SALT_FILE = ".salt"


class _ChannelFiles:
    """One channel's open day file, the ids in it, its policy, and the lock that guards them."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.lock = threading.Lock()
        self.day: str | None = None
        self.handle: TextIO | None = None
        self.seen: set[str] = set()
        self.policy = privacy.PolicyStore(directory).load()
        self.blocked = blocked_word_pattern(self.policy.blocked_words)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


class Collector:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.salt = _load_or_create_salt(self.root / SALT_FILE)
        self._channels: dict[str, _ChannelFiles] = {}
        self.collected = 0
        self.skipped = 0  # refused by the channel's policy
        self._warned: set[Path] = set()  # day files whose malformed lines were already reported

    def user_hash(self, user_id: str) -> str:
        """The salted one-way hash that stands for a user in collected records."""
        return hmac.new(self.salt, str(user_id).encode(), hashlib.sha256).hexdigest()[:32]

    def channel_dir(self, channel: str) -> Path:
        return self.root / channel

    def path(self, channel: str, day: str) -> Path:
        return self.channel_dir(channel) / f"{day}.jsonl"

    def collect(self, channel: str, message_id: str, user_id: str, text: str, when: datetime | None = None) -> bool:
        """Append one cleaned human message; False when the policy refuses it or it is already stored."""
        when = (when or datetime.now(timezone.utc)).astimezone(timezone.utc)
        day = when.strftime("%Y-%m-%d")
        user = self.user_hash(user_id)
        files = self._files(channel)
        with files.lock:
            if not files.policy.may_collect(user) or (files.blocked is not None and files.blocked.search(text)):
                self.skipped += 1
                return False
            self._open_day(files, day)
            if message_id in files.seen:
                return False
            record = ChatRecord(
                text=text,
                channel=channel,
                stream=f"{channel}/{day}",
                ts=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                id=message_id,
                user=user,
            )
            append_record(files.handle, record)
            files.seen.add(message_id)
        self.collected += 1
        return True

    def file_guard(self, channel: str) -> Callable[[Path], contextlib.AbstractContextManager]:
        """The guard a privacy purge of `channel`'s files holds around each rewrite: no append
        to the file slips in between the purge's read and its rename."""

        @contextlib.contextmanager
        def guard(path: Path) -> Iterator[None]:
            files = self._files(channel)
            with files.lock:
                if files.day is not None and self.path(channel, files.day) == Path(path):
                    files.close()
                    files.day = None  # reopened (and its ids re-read) by the next collect
                yield

        return guard

    def reload_policy(self, channel: str) -> None:
        """Read the channel's .policy.json again (after an opt-out, a forget, a blocked word)."""
        files = self._files(channel)
        with files.lock:
            files.policy = privacy.PolicyStore(files.directory).load()
            files.blocked = blocked_word_pattern(files.policy.blocked_words)

    def forget_message(self, channel: str, message_id: str) -> int:
        """A moderator deleted a message: never learn from it; returns how many records went."""
        removed = privacy.delete_message(self.channel_dir(channel), message_id, file_guard=self.file_guard(channel))
        self.reload_policy(channel)
        return removed

    def forget_user(self, channel: str, user_id: str, when: str | None = None) -> int:
        """A moderator cleared a user's messages (ban, timeout) at `when` (Twitch's time; None:
        now): drop everything they sent until then."""
        removed = privacy.clear_user(self.channel_dir(channel), self.user_hash(user_id), when=when,
                                     file_guard=self.file_guard(channel))
        self.reload_policy(channel)
        return removed

    def close(self) -> None:
        for files in self._channels.values():
            with files.lock:
                files.close()

    # ---- internals ----------------------------------------------------------------------------

    def _files(self, channel: str) -> _ChannelFiles:
        files = self._channels.get(channel)
        if files is None:
            directory = self.channel_dir(channel)
            directory.mkdir(parents=True, exist_ok=True)
            files = self._channels[channel] = _ChannelFiles(directory)
        return files

    def _open_day(self, files: _ChannelFiles, day: str) -> None:
        if files.day == day and files.handle is not None:
            return
        files.close()
        path = files.directory / f"{day}.jsonl"
        files.seen = set()
        if path.exists():
            _repair_torn_tail(path)
            files.seen = self._ids_in(path)
        files.handle = open(path, "a", encoding="utf-8")
        files.day = day

    def _ids_in(self, path: Path) -> set[str]:
        """The message ids already in a day file. A malformed line (an edit by hand, a disk
        error) is skipped, said once per file, and collection goes on after it: `prepare` and
        `retrain` count and skip such a line too."""
        ids: set[str] = set()
        bad: list[int] = []
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    data = json.loads(line)
                except ValueError:
                    data = None
                if isinstance(data, dict) and isinstance(data.get("text"), str):
                    if isinstance(data.get("id"), str) and data["id"]:
                        ids.add(data["id"])
                elif line.strip():
                    bad.append(number)
        if bad and path not in self._warned:
            self._warned.add(path)
            logger.warning("%s: %d malformed line(s) (line %s) skipped; collecting goes on after them",
                           path, len(bad), ", ".join(map(str, bad[:5])))
        return ids


def _load_or_create_salt(path: Path) -> bytes:
    """This installation's secret salt, created once with mode 0600."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return bytes.fromhex(path.read_text().strip())


def _repair_torn_tail(path: Path) -> None:
    """End the file with a newline if a crash cut its last write short, so appends start on a fresh line.

    `read_records` skips such a torn last line; without the newline the next record would be glued to it.
    """
    with open(path, "rb+") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() == 0:
            return
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) != b"\n":
            # Drop the unfinished line: it was never acknowledged.
            handle.seek(0)
            data = handle.read()
            cut = data.rfind(b"\n") + 1
            handle.seek(cut)
            handle.truncate()
            logger.warning("%s: dropped an unfinished last line left by a crash", path)


@dataclass
class _Count:
    size: int
    mtime: float
    lines: int


class LineCounter:
    """Messages in collected files, recounted only for files that changed since the last look."""

    def __init__(self):
        self._cache: dict[Path, _Count] = {}

    def count(self, path: Path) -> int:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return 0
        cached = self._cache.get(path)
        if cached and cached.size == stat.st_size and cached.mtime == stat.st_mtime:
            return cached.lines
        lines = 0
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                lines += chunk.count(b"\n")
        self._cache[path] = _Count(stat.st_size, stat.st_mtime, lines)
        return lines

    def today_and_total(self, channel_dir: Path) -> tuple[int, int]:
        today = datetime.now(timezone.utc).strftime("%Y-%m-%d") + ".jsonl"
        counts = {p.name: self.count(p) for p in privacy.collected_files(channel_dir)}
        return counts.get(today, 0), sum(counts.values())
