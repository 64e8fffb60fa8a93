"""Compact fingerprints of training messages, to tell a verbatim copy from a new message.

A checkpoint carries the sorted 64-bit fingerprints of its training messages
(`FINGERPRINT_FILE`, raw little-endian uint64, 8 bytes a message): evaluation counts copies
with them, and the generator refuses to post a 3+ word copy of a training message.
Two messages are the same when they match after case folding and whitespace collapsing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

FINGERPRINT_FILE = "training_messages.u64"


def normalize(text: str) -> str:
    return " ".join(text.casefold().split())


def fingerprint(text: str) -> int:
    digest = hashlib.blake2b(normalize(text).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class FingerprintSet:
    """A sorted array of fingerprints with fast membership tests."""

    def __init__(self, values: np.ndarray):
        self.values = np.unique(values.astype("<u8"))

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> FingerprintSet:
        return cls(np.fromiter((fingerprint(t) for t in texts), dtype="<u8"))

    @classmethod
    def load(cls, path: str | Path) -> FingerprintSet:
        return cls(np.fromfile(path, dtype="<u8"))

    def save(self, path: str | Path) -> None:
        self.values.tofile(path)

    def __len__(self) -> int:
        return len(self.values)

    def __contains__(self, text: str) -> bool:
        key = np.uint64(fingerprint(text))
        index = np.searchsorted(self.values, key)
        return bool(index < len(self.values) and self.values[index] == key)
