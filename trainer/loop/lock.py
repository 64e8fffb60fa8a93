"""The retrain lock: at most one retrain of a model home at a time, and a killed one's lock is free."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
from pathlib import Path

from trainer.errors import StreamchatError
from trainer.corpus.records import utc_now
from trainer.fsutil import process_start_ticks, read_json

logger = logging.getLogger(__name__)


class RetrainLock:
    """An exclusive `flock` on the lock file, which also holds its owner's pid for people to read.

    The kernel keeps the lock: of two processes exactly one holds it, and it is free the moment
    its holder exits, however it died (a stale file left by a killed holder is simply taken). A
    released lock's file is deleted while still held, so a process that opened the old file
    checks, once it holds the lock, that the file is still the one at the path, and else retries.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.held = False
        self._fd: int | None = None

    def owner(self) -> dict | None:
        """The live holder's info ({"pid", "started", ...}), or None when the lock is free."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                info = read_json(self.path, None)
                return info if isinstance(info, dict) else {"pid": None, "started": "just now"}
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def acquire(self) -> None:
        if self.held:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                holder = self.owner() or {}
                raise StreamchatError(
                    f"a retrain of {self.path.parent} is already running "
                    f"(pid {holder.get('pid')}, started {holder.get('started')}); wait for it "
                    "to finish (see its status) or stop that process first."
                ) from None
            try:
                same_file = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same_file = False
            if same_file:
                break
            os.close(fd)  # the holder released (and deleted) it meanwhile: lock the new file
        if os.fstat(fd).st_size:
            logger.info("taking over the retrain lock %s left by a stopped process", self.path)
        info = {"pid": os.getpid(), "start_ticks": process_start_ticks(os.getpid()), "host": socket.gethostname(),
                "started": utc_now()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        self.held = True

    def release(self) -> None:
        if self.held and self._fd is not None:
            self.held = False
            try:
                os.unlink(self.path)  # while still held: see the class's note
            except FileNotFoundError:
                pass
            os.close(self._fd)  # closing releases the flock
            self._fd = None

    def __enter__(self) -> RetrainLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
