"""The retrain lock: at most one retrain of a model home at a time, and a killed one's lock is free."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path

from trainer.errors import StreamchatError
from trainer.corpus.records import utc_now
from trainer.fsutil import process_start_ticks, read_json
from trainer.loop.home import owner_alive

logger = logging.getLogger(__name__)


class RetrainLock:
    """An exclusive lock file holding its owner's pid; a dead owner's lock counts as free.

    Created with O_EXCL, so of two processes starting together exactly one wins. The pid
    (with the process start time on Linux, against pid reuse) lets a later retrain see
    that the holder was killed and take over.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.held = False

    def owner(self) -> dict | None:
        """The live holder's info, or None when the lock is free or stale."""
        info = read_json(self.path, None)
        if info is None:
            if self.path.exists():
                # Being written this instant by a new owner, or a torn write of a dead one.
                age = time.time() - self.path.stat().st_mtime
                return {"pid": None, "started": "just now"} if age < 5 else None
            return None
        return info if owner_alive(info) else None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        info = {
            "pid": os.getpid(),
            "start_ticks": process_start_ticks(os.getpid()),
            "host": socket.gethostname(),
            "started": utc_now(),
        }
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self.owner()
                if holder is not None:
                    raise StreamchatError(
                        f"a retrain of {self.path.parent} is already running "
                        f"(pid {holder.get('pid')}, started {holder.get('started')}); wait for it "
                        "to finish (see its status) or stop that process first."
                    ) from None
                logger.warning("removing the stale retrain lock %s left by a stopped process", self.path)
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(info, handle)
                handle.flush()
                os.fsync(handle.fileno())
            self.held = True
            return
        raise StreamchatError(f"could not take the retrain lock {self.path}; try again.")

    def release(self) -> None:
        if self.held:
            self.held = False
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def __enter__(self) -> RetrainLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
