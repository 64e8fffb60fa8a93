"""Training/validation split by stream, never by random line.

Chat repeats itself (`LULW` 16,000 times in one set): a random-line split puts copies of the same
messages on both sides and the validation score means nothing. So whole streams are held out:

- `--valid INPUT...` names them; or else
- per group of streams (a channel, or the folder the logs came from when the log doesn't name
  the channel), the most recent streams that together hold about `VALID_FRACTION` of the group's
  messages (a stream holding more than twice that is passed over; a group's only stream is
  never held out);
- when that leaves nothing (a single stream in all), the last `VALID_FRACTION` of the largest
  stream, in time order, is held out (a tail split, still not random lines).

`overlap()` reports how many validation messages also occur in training (the same text after
case folding), the honest measure of how much validation can be memorised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

VALID_FRACTION = 0.10


@dataclass
class StreamInfo:
    key: str  # the stream id records carry
    group: str  # channel, or the folder the logs came from
    messages: int = 0  # kept messages
    first_ts: str | None = None
    forced_valid: bool = False  # came from a --valid input
    files: list = field(default_factory=list)

    def order(self) -> tuple:
        """Oldest first: by first timestamp, else by the stream id (VOD ids grow with time)."""
        return (self.first_ts or "", natural_key(self.key))


def natural_key(text: str) -> tuple:
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text) if part)


@dataclass
class SplitPlan:
    valid: set  # stream keys held out
    method: str  # how they were chosen, for people
    tail_of: str | None = None  # the stream whose tail is held out (tail split)
    tail_from: int = 0  # ... from this message on


def choose_validation(streams: list[StreamInfo], fraction: float = VALID_FRACTION) -> SplitPlan:
    """Which streams form the validation set."""
    forced = {s.key for s in streams if s.forced_valid}
    if forced:
        return SplitPlan(forced, "--valid inputs")
    groups: dict[str, list[StreamInfo]] = {}
    for stream in streams:
        if stream.messages:
            groups.setdefault(stream.group, []).append(stream)
    valid: set[str] = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        total = sum(s.messages for s in members)
        target = fraction * total
        held = 0
        left_in_training = len(members)
        for stream in sorted(members, key=StreamInfo.order, reverse=True):
            # Most recent first, each stream that brings the held-out count closer to the target
            # (so none more than twice the target: it would starve training); the last stream
            # always stays in training.
            if held >= target or left_in_training <= 1:
                break
            if abs(held + stream.messages - target) >= abs(held - target):
                continue
            valid.add(stream.key)
            held += stream.messages
            left_in_training -= 1
    if valid:
        return SplitPlan(valid, f"most recent streams of each group, about {fraction:.0%} of its messages")
    nonempty = [s for s in streams if s.messages]
    if not nonempty:
        return SplitPlan(set(), "no messages")
    largest = max(nonempty, key=lambda s: s.messages)
    if largest.messages < 2:
        return SplitPlan(set(), "too few messages to hold any out")
    keep = max(1, round(largest.messages * (1 - fraction)))
    return SplitPlan(
        {largest.key}, f"only one stream per group: the last {fraction:.0%} of stream {largest.key} in time order",
        tail_of=largest.key, tail_from=keep,
    )


def overlap(valid_hashes: np.ndarray, train_hashes: np.ndarray) -> dict:
    """How many validation messages (and distinct texts) also occur in training."""
    if len(valid_hashes) == 0:
        return {"valid_messages": 0, "in_train": 0, "fraction": 0.0, "distinct_valid": 0,
                "distinct_in_train": 0, "distinct_fraction": 0.0}
    train_sorted = np.sort(train_hashes)

    def contained(values: np.ndarray) -> np.ndarray:
        if len(train_sorted) == 0:
            return np.zeros(len(values), dtype=bool)
        index = np.minimum(np.searchsorted(train_sorted, values), len(train_sorted) - 1)
        return train_sorted[index] == values

    inside = contained(valid_hashes)
    distinct = np.unique(np.sort(valid_hashes))
    distinct_inside = contained(distinct)
    return {
        "valid_messages": int(len(valid_hashes)),
        "in_train": int(inside.sum()),
        "fraction": round(float(inside.mean()), 4),
        "distinct_valid": int(len(distinct)),
        "distinct_in_train": int(distinct_inside.sum()),
        "distinct_fraction": round(float(distinct_inside.mean()), 4),
    }
