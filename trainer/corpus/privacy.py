"""What may be learned from a channel's collected chat, and purging what may not.

Each channel's collect folder (the collector's daily
`<YYYY-MM-DD>.jsonl` files) holds a `.policy.json` (hidden, like the collector's `.salt`, so `prepare` pointed at the folder skips it):

    {"opt_in_only": false,        learn only from `allowed` users (for cautious streamers)
     "allowed": [hash, ...],      users who opted in
     "opted_out": [hash, ...],    viewers who asked not to be learned from (opt-out command)
     "forgotten": [hash, ...],    users a moderator had forgotten
     "cleared": {hash: time},     users whose messages were cleared (ban, timeout) at that time
     "deleted_ids": [id, ...],    messages moderators deleted
     "blocked_words": [word, ...]}  words the model must not learn (moderators' block list)

Users are the collector's salted one-way hashes of Twitch user ids, never names.

Two layers keep a removed message out of every later model:
1. `purge` deletes the records from the jsonl files themselves, each file rewritten to a
   temporary file and renamed over the old one (a crash leaves the old or the new file,
   never half of one). Lines are matched by a fast substring test first and only
   candidate lines are parsed, so a purge of a large collection takes a moment.
2. The retrain corpus builder filters every record through `Policy.may_learn`, so a
   message appended while a purge ran, or a collection copied from a backup, is still
   left out.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from trainer.corpus.records import ChatRecord, read_records, utc_now
from trainer.fsutil import atomic_write, write_json_atomic
from trainer.text import word_key

logger = logging.getLogger(__name__)

POLICY_FILE = ".policy.json"  # hidden: `prepare` skips it when pointed at the folder

# Held around the rewrite of one collected file (given its path) by a purge; the writer of
# the files supplies it, bound to the folder it writes.
FileGuard = Callable[[Path], contextlib.AbstractContextManager]

# One lock per policy file within a process: the bot's event handlers and commands may
# update the same channel's policy from different threads.
_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(Path(path).resolve(), threading.Lock())


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _sent_before(record: ChatRecord, cutoff: str) -> bool:
    """Whether a record was sent at or before `cutoff` (an undated record counts as before)."""
    sent, limit = _parse_time(record.ts), _parse_time(cutoff)
    return sent is None or limit is None or sent <= limit


@dataclass
class Policy:
    opt_in_only: bool = False
    allowed: set[str] = field(default_factory=set)
    opted_out: set[str] = field(default_factory=set)
    forgotten: set[str] = field(default_factory=set)
    cleared: dict[str, str] = field(default_factory=dict)
    deleted_ids: set[str] = field(default_factory=set)
    blocked_words: list[str] = field(default_factory=list)
    # Why the policy can't be trusted (its file unreadable, or moved aside while it was): nothing
    # is collected or learned from the channel until a person restores it. None: it can be.
    problem: str | None = None
    moved_aside: str | None = None  # where an unreadable policy file went (kept in the new file)

    @classmethod
    def from_dict(cls, data: dict) -> Policy:
        return cls(
            opt_in_only=bool(data.get("opt_in_only", False)),
            allowed=set(data.get("allowed", [])),
            opted_out=set(data.get("opted_out", [])),
            forgotten=set(data.get("forgotten", [])),
            cleared=dict(data.get("cleared", {})),
            deleted_ids=set(data.get("deleted_ids", [])),
            blocked_words=list(data.get("blocked_words", [])),
            moved_aside=data.get("moved_aside"),
            problem=(f"the unreadable policy was moved to {data['moved_aside']}; restore it (or delete "
                     "the moved_aside entry) to collect again") if data.get("moved_aside") else None,
        )

    def to_dict(self) -> dict:
        return {
            "opt_in_only": self.opt_in_only,
            "allowed": sorted(self.allowed),
            "opted_out": sorted(self.opted_out),
            "forgotten": sorted(self.forgotten),
            "cleared": dict(sorted(self.cleared.items())),
            "deleted_ids": sorted(self.deleted_ids),
            "blocked_words": self.blocked_words,
            **({"moved_aside": self.moved_aside} if self.moved_aside else {}),
        }

    def may_collect(self, user: str | None) -> bool:
        """Whether a new message by this user (hash) may be stored at all."""
        if self.problem is not None:
            return False
        if user in self.opted_out or user in self.forgotten:
            return False
        if self.opt_in_only:
            return user is not None and user in self.allowed
        return True

    def may_learn(self, record: ChatRecord) -> bool:
        """Whether a stored record may go into a training corpus."""
        if record.id is not None and record.id in self.deleted_ids:
            return False
        if not self.may_collect(record.user):
            return False
        cleared_at = self.cleared.get(record.user) if record.user else None
        return not (cleared_at and _sent_before(record, cleared_at))


class PolicyStore:
    """A channel's policy file: read it, change it under a lock, write it atomically."""

    def __init__(self, channel_dir: str | Path):
        self.channel_dir = Path(channel_dir)
        self.path = self.channel_dir / POLICY_FILE
        self._lock = _lock_for(self.path)

    def load(self) -> Policy:
        """The policy; one that fails closed (`Policy.problem`) when the file can't be read."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            policy = Policy.from_dict(data)
        except FileNotFoundError:
            return Policy()
        except (OSError, ValueError, TypeError, AttributeError) as error:
            problem = (f"{self.path} is unreadable ({error}): collecting and learning nothing from this "
                       "channel until it is repaired")
            _warn_once(self.path, problem)
            return Policy(problem=problem)
        if policy.problem:
            _warn_once(self.path, policy.problem)
        return policy

    @contextlib.contextmanager
    def edit(self) -> Iterator[Policy]:
        """`with store.edit() as policy: ...` — the changes are saved when the block ends.

        An unreadable policy file is never overwritten: it is moved aside first (said in the
        log), and the new file remembers where, so the channel stays closed until a person
        restores it."""
        with self._lock:
            policy = self.load()
            if policy.problem and not policy.moved_aside:
                aside = self.path.with_name(f"{POLICY_FILE}.unreadable-{utc_now().replace(':', '')}")
                self.path.replace(aside)
                logger.warning("moved the unreadable %s aside to %s; nothing is collected or learned from "
                               "this channel until it is restored", self.path, aside)
                policy = Policy(moved_aside=str(aside), problem=f"the unreadable policy was moved to {aside}")
            yield policy
            write_json_atomic(self.path, policy.to_dict())


_WARNED: set[tuple[Path, str]] = set()


def _warn_once(path: Path, problem: str) -> None:
    if (path, problem) not in _WARNED:
        _WARNED.add((path, problem))
        logger.warning("%s", problem)


def policy_problem(channel_dir: str | Path) -> str | None:
    """Why nothing is collected or learned from a channel now (its policy can't be trusted), or None."""
    return PolicyStore(channel_dir).load().problem


def collected_files(channel_dir: str | Path) -> list[Path]:
    """The collector's daily files of one channel, oldest first."""
    channel_dir = Path(channel_dir)
    if not channel_dir.is_dir():
        return []
    return sorted(p for p in channel_dir.glob("*.jsonl") if not p.name.startswith("."))


def purge_file(path: Path, *, ids: Iterable[str] = (), users: Iterable[str] = (),
               cleared: dict[str, str] | None = None) -> int:
    """Remove matching records from one jsonl file atomically; return how many were removed.

    A record goes when its id is in `ids`, its user in `users`, or its user is in
    `cleared` and it was sent at or before that user's clear time. Other lines are kept
    byte for byte; the file is only rewritten when something matched.
    """
    ids, users, cleared = set(ids), set(users), dict(cleared or {})
    needles = [f'"{value}"' for value in (*ids, *users, *cleared)]
    if not needles:
        return 0
    removed = 0
    kept: list[str] = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not any(needle in line for needle in needles):
                kept.append(line)
                continue
            try:
                record = ChatRecord.from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError):
                kept.append(line)  # not ours to judge; read_records reports it
                continue
            cutoff = cleared.get(record.user) if record.user else None
            doomed = (
                (record.id is not None and record.id in ids)
                or (record.user is not None and record.user in users)
                or (cutoff is not None and _sent_before(record, cutoff))
            )
            if doomed:
                removed += 1
            else:
                kept.append(line)
    if removed:
        with atomic_write(path) as handle:
            handle.writelines(kept)
        logger.info("purged %d record(s) from %s", removed, path)
    return removed


def purge(channel_dir: str | Path, *, ids: Iterable[str] = (), users: Iterable[str] = (),
          cleared: dict[str, str] | None = None, file_guard: FileGuard | None = None) -> int:
    """Purge matching records from every collected file of a channel; return the count.

    `file_guard(path)` (optional) is held around each file's rewrite. Whoever appends to the
    files passes one, so no append slips in between the purge's read and its rename.
    """
    ids, users = list(ids), list(users)
    only_ids = bool(ids) and not users and not cleared
    files = collected_files(channel_dir)
    if only_ids:
        files.reverse()  # a deleted message is almost always in the newest file
    total = 0
    for path in files:
        guard = file_guard(path) if file_guard else contextlib.nullcontext()
        with guard:
            total += purge_file(path, ids=ids, users=users, cleared=cleared)
        if only_ids and total >= len(set(ids)):
            break  # message ids are unique: all found
    return total


# ---------------------------------------------------------------- the operations

def delete_message(channel_dir, message_id: str, *, file_guard=None) -> int:
    """A moderator deleted a message: never learn from it."""
    with PolicyStore(channel_dir).edit() as policy:
        policy.deleted_ids.add(message_id)
    return purge(channel_dir, ids=[message_id], file_guard=file_guard)


def clear_user(channel_dir, user: str, *, when: str | None = None, file_guard=None) -> int:
    """A user's messages were cleared (ban or timeout): drop everything they sent until now."""
    when = when or utc_now()
    with PolicyStore(channel_dir).edit() as policy:
        previous = _parse_time(policy.cleared.get(user))
        if previous is None or previous < (_parse_time(when) or previous):
            policy.cleared[user] = when
    return purge(channel_dir, cleared={user: when}, file_guard=file_guard)


def opt_out(channel_dir, user: str, *, file_guard=None) -> int:
    """A viewer asked not to be learned from: purge their past messages, store no new ones."""
    with PolicyStore(channel_dir).edit() as policy:
        policy.opted_out.add(user)
        policy.allowed.discard(user)
    return purge(channel_dir, users=[user], file_guard=file_guard)


def opt_in(channel_dir, user: str) -> None:
    """A viewer agrees to be learned from again (and joins the allow list)."""
    with PolicyStore(channel_dir).edit() as policy:
        policy.opted_out.discard(user)
        policy.allowed.add(user)


def forget(channel_dir, user: str, *, file_guard=None) -> int:
    """A moderator had a user forgotten: purge them and never collect them again."""
    with PolicyStore(channel_dir).edit() as policy:
        policy.forgotten.add(user)
        policy.allowed.discard(user)
    return purge(channel_dir, users=[user], file_guard=file_guard)


def set_opt_in_only(channel_dir, enabled: bool) -> None:
    with PolicyStore(channel_dir).edit() as policy:
        policy.opt_in_only = bool(enabled)


def same_word(a: str, b: str) -> bool:
    """Whether two spellings block the same word (`wörd`, `WORD`): the filter's one normalisation."""
    key = word_key(a)
    return key is not None and key == word_key(b)


def block_word(channel_dir, word: str) -> bool:
    """Add a word to the channel's learning block list; False when it was there already."""
    with PolicyStore(channel_dir).edit() as policy:
        if any(same_word(word, w) for w in policy.blocked_words):
            return False
        policy.blocked_words.append(word)
        return True


def unblock_word(channel_dir, word: str) -> bool:
    with PolicyStore(channel_dir).edit() as policy:
        before = len(policy.blocked_words)
        policy.blocked_words = [w for w in policy.blocked_words if not same_word(word, w)]
        return len(policy.blocked_words) != before


def learnable_records(channel_dir: str | Path, policy: Policy | None = None) -> Iterator[ChatRecord]:
    """Every collected record of a channel that its policy allows, oldest first."""
    policy = policy or PolicyStore(channel_dir).load()
    for path in collected_files(channel_dir):
        for record in read_records(path):
            if policy.may_learn(record):
                yield record
