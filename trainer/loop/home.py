"""The model home: a channel's model versions, which one is current, and its retrain state.

    models/<name>/
        versions/20261128-093000/   one complete checkpoint per version (MODEL_DIR)
        versions/20261128-120512/
        current -> versions/20261128-120512      the version in use
        history.json                versions in the order they became current (for rollback)
        status.json                 the last (or running) retrain: stage, outcome, reason, figures
        corpus.json                 the prepared corpora the home was adopted or first trained from
                                    (retrains train on them with the collected chat)
        retrain.lock                held while a retrain runs: {"pid", "started", ...}
        retrain.log                 the output of retrains started in the background
        work/                       a running retrain's corpus and candidate (never loaded)

Why `current` is a symlink: it is replaced by renaming a new symlink over it
(`os.replace`, one rename(2)), so at every instant `current` names either the old or the
new version, both complete (a version folder is only ever created by renaming a finished
checkpoint into `versions/`). `models/<name>/current` is itself a checkpoint folder that any
Hugging Face tool loads. Where the filesystem refuses symlinks (Windows without developer
mode), `current` is instead a small text file holding `versions/<name>`, written to a
temporary file and renamed over the old one: just as atomic. Reading `current` is the
checkpoint's side of the contract (trainer/model/checkpoint.py: `resolve_model`), so that the
engine loads a home without knowing about retrains.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from trainer.errors import StreamchatError
from trainer.fsutil import (
    fsync_dir, pid_alive, process_start_ticks, read_json, temporary_path, write_json_atomic, write_text_atomic,
)
from trainer.model.checkpoint import CARD_FILE, CURRENT, VERSIONS_DIR, current_version, is_checkpoint

if TYPE_CHECKING:
    from trainer.loop.lock import RetrainLock


logger = logging.getLogger(__name__)

HISTORY_FILE = "history.json"
CORPUS_FILE = "corpus.json"
STATUS_FILE = "status.json"
LOCK_FILE = "retrain.lock"
LOG_FILE = "retrain.log"
WORK_DIR = "work"
RETRAIN_CARD = "retrain.json"  # in a version promoted by a retrain: its evaluation on fresh chat
DEFAULT_KEEP = 5


# ---------------------------------------------------------------- small helpers


def _plain_name(version: str) -> bool:
    """A version is named by its folder's name alone: never a path that could lead out of the home."""
    return bool(version) and version not in (".", "..") and "/" not in version and "\\" not in version


# ---------------------------------------------------------------- the home

class ModelHome:
    """One model home folder. Cheap to create; every method reads the disk afresh."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ModelHome({str(self.path)!r})"

    @property
    def versions_dir(self) -> Path:
        return self.path / VERSIONS_DIR

    @property
    def status_path(self) -> Path:
        return self.path / STATUS_FILE

    @property
    def lock_path(self) -> Path:
        return self.path / LOCK_FILE

    @property
    def log_path(self) -> Path:
        return self.path / LOG_FILE

    @property
    def work_dir(self) -> Path:
        return self.path / WORK_DIR

    def purge_stale_work(self) -> bool:
        """Remove a stopped retrain's `work/` (copies of collected chat that purges of the
        collection can't reach); True when removed. A running retrain's is left to it: it
        removes its own when it ends, and the next retrain starts by removing any."""
        if not self.work_dir.exists():
            return False
        lock = self.lock()
        try:
            lock.acquire()
        except StreamchatError:
            return False
        try:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        finally:
            lock.release()
        return True

    # -- versions

    def versions(self) -> list[str]:
        """Complete versions, oldest first (names are UTC timestamps, so they sort by age)."""
        if not self.versions_dir.is_dir():
            return []
        return sorted(
            entry.name
            for entry in self.versions_dir.iterdir()
            if not entry.name.startswith(".") and is_checkpoint(entry)
        )

    def version_dir(self, version: str) -> Path:
        return self.versions_dir / version

    def current_version(self) -> str | None:
        """The name of the current version, or None when nothing is current yet (one readlink)."""
        return current_version(self.path)

    def current_dir(self) -> Path | None:
        version = self.current_version()
        return self.version_dir(version) if version else None

    def new_version_name(self) -> str:
        """A fresh timestamp name, made unique with a suffix if two land in the same second."""
        base = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        name, n = base, 1
        while os.path.lexists(self.version_dir(name)):
            n += 1
            name = f"{base}-{n}"
        return name

    def add_version(self, checkpoint: Path, *, move: bool = True) -> str:
        """Bring a finished checkpoint into `versions/` in one rename; return its version name.

        `move` renames the folder (it must be on the same filesystem, e.g. under `work/`);
        otherwise it is copied into a hidden temporary folder first, then renamed.
        """
        checkpoint = Path(checkpoint)
        if not is_checkpoint(checkpoint):
            raise StreamchatError(f"{checkpoint} is not a streamchat checkpoint (no {CARD_FILE}).")
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        name = self.new_version_name()
        if not move:
            staging = self.versions_dir / f".incoming-{name}-{os.getpid()}"
            shutil.copytree(checkpoint, staging)
            checkpoint = staging
        os.rename(checkpoint, self.version_dir(name))
        fsync_dir(self.versions_dir)
        return name

    # -- the current pointer

    def set_current(self, version: str) -> None:
        """Point `current` at `version` atomically (the only way `current` ever changes)."""
        if not _plain_name(version):
            raise StreamchatError(f"{self.path}: {version!r} is not a version name (see `python -m trainer home`).")
        if not is_checkpoint(self.version_dir(version)):
            raise StreamchatError(f"{self.path}: version {version!r} does not exist or is incomplete.")
        pointer = self.path / CURRENT
        target = f"{VERSIONS_DIR}/{version}"
        tmp = temporary_path(pointer)
        if os.path.lexists(tmp):
            os.unlink(tmp)
        try:
            os.symlink(target, tmp, target_is_directory=True)
        except (OSError, NotImplementedError):
            write_text_atomic(pointer, target + "\n")
            return
        os.replace(tmp, pointer)
        fsync_dir(self.path)

    def history(self) -> list[str]:
        return list(read_json(self.path / HISTORY_FILE, {}).get("history", []))

    def _write_history(self, history: list[str]) -> None:
        write_json_atomic(self.path / HISTORY_FILE, {"history": history})

    def previous_version(self) -> str | None:
        """The version that was current before the current one (and still exists)."""
        current = self.current_version()
        history = self.history()
        if current in history:
            # Everything after current's last entry was rolled back from; look before it.
            history = history[: len(history) - 1 - history[::-1].index(current)]
        existing = set(self.versions())
        for version in reversed(history):
            if version != current and version in existing:
                return version
        return None

    def promote(self, version: str, *, keep: int = DEFAULT_KEEP) -> None:
        """Make `version` current, remember the order, and prune old versions."""
        self.set_current(version)  # the commit point: a crash before it changes nothing
        history = [v for v in self.history() if v != version] + [version]
        self._write_history(history)
        logger.info("%s: version %s is now current", self.path, version)
        self.prune(keep)

    def rollback(self, to: str | None = None) -> tuple[str | None, str]:
        """Return to the previous version (or `to`); return (from, to)."""
        current = self.current_version()
        if to is not None and (not _plain_name(to) or to not in self.versions()):
            raise StreamchatError(
                f"{self.path}: no version {to!r} in {self.versions_dir} "
                f"(versions: {', '.join(self.versions()) or 'none'}); name one of them, not a path."
            )
        target = to or self.previous_version()
        if target is None:
            raise StreamchatError(
                f"{self.path}: there is no earlier version to roll back to "
                f"(versions: {', '.join(self.versions()) or 'none'})."
            )
        if target == current:
            raise StreamchatError(f"{self.path}: {target} is already the current version.")
        self.set_current(target)
        history = self.history()
        if target in history:
            history = history[: len(history) - history[::-1].index(target)]
        else:
            history.append(target)
        self._write_history(history)
        logger.info("%s: rolled back from %s to %s", self.path, current, target)
        return current, target

    def prune(self, keep: int = DEFAULT_KEEP) -> list[str]:
        """Delete all but the newest `keep` versions; never current or the previous one."""
        keep = max(keep, 1)
        protected = {self.current_version(), self.previous_version()}
        versions = self.versions()
        doomed = [v for v in versions[: max(len(versions) - keep, 0)] if v not in protected]
        for version in doomed:
            shutil.rmtree(self.version_dir(version), ignore_errors=True)
            logger.info("%s: removed old version %s", self.path, version)
        if doomed:
            self._write_history([v for v in self.history() if v not in doomed])
        return doomed

    # -- the corpus it learned from

    def corpora(self) -> list[Path]:
        """The prepared corpora this home remembers (absolute paths; this machine only)."""
        return [Path(p) for p in read_json(self.path / CORPUS_FILE, {}).get("corpora", [])]

    def remember_corpora(self, corpora: list[Path]) -> None:
        write_json_atomic(self.path / CORPUS_FILE, {"corpora": [str(Path(p).resolve()) for p in corpora]})

    # -- retrain status

    def read_status(self) -> dict:
        """The last retrain's status; a 'running' one whose process died reads 'interrupted'."""
        status = read_json(self.status_path, {}) or {}
        if status.get("state") == "running" and not owner_alive(status):
            status["state"] = "interrupted"
            status.setdefault("reason", "the retrain process stopped before finishing")
        return status

    def write_status(self, **fields) -> dict:
        status = read_json(self.status_path, {}) or {}
        status.update(fields)
        write_json_atomic(self.status_path, status)
        return status

    def lock(self) -> RetrainLock:
        from trainer.loop.lock import RetrainLock  # lock.py builds on this module's helpers

        return RetrainLock(self.lock_path)

    def describe(self) -> str:
        """A few lines for people: versions, current, last retrain."""
        current = self.current_version()
        lines = [f"model home {self.path}"]
        for version in self.versions():
            metrics = _card_metrics(self.version_dir(version))
            mark = "*" if version == current else " "
            lines.append(f" {mark} {version}  {metrics}")
        if current is None:
            lines.append("   (no current version)")
        if len({_card_metrics(self.version_dir(v)).split(" on ")[-1] for v in self.versions()}) > 1:
            lines.append("   (figures on different chat don't compare: a retrain measures the candidate and the "
                         "current version on the same fresh chat, in the last retrain's line)")
        corpora = self.corpora()
        if corpora:
            lines.append(f"retrains also learn from: {', '.join(str(p) for p in corpora)}")
        status = self.read_status()
        if status:
            lines.append(f"last retrain: {format_status(status)}")
        return "\n".join(lines)


def version_figures(model_dir: Path) -> dict:
    """What a version is known by: preset, parameters, bits per char (fresh chat when retrained)."""
    card = read_json(Path(model_dir) / CARD_FILE, {}) or {}
    retrained = read_json(Path(model_dir) / RETRAIN_CARD, {}) or {}
    metrics = card.get("metrics") or {}
    fresh = (retrained.get("evaluation") or {}).get("bits_per_char")
    return {"preset": card.get("preset"), "parameters": card.get("parameters"),
            "bits_per_char": fresh or metrics.get("valid_bits_per_char_packed"),
            "measured_on": "fresh chat" if fresh else "its validation split",
            "promoted": retrained.get("promoted")}


def _card_metrics(model_dir: Path) -> str:
    figures = version_figures(model_dir)
    parts = [figures["preset"] or ""]
    if isinstance(figures["bits_per_char"], (int, float)):
        parts.append(f"{figures['bits_per_char']:.3f} bits/char on {figures['measured_on']}")
    return " ".join(p for p in parts if p)


def owner_alive(info: dict) -> bool:
    """Whether the process an info dict names (pid, start_ticks, host) still runs."""
    pid = info.get("pid")
    if not isinstance(pid, int):
        return False
    if info.get("host") not in (None, socket.gethostname()):
        return True  # can't see another machine's processes: assume it is alive
    if not pid_alive(pid):
        return False
    ticks = info.get("start_ticks")
    return ticks is None or process_start_ticks(pid) in (None, ticks)


def format_status(status: dict) -> str:
    """One line: 'running: training since 12:01:05' or 'promoted 20261128-1205 (2.31 -> 2.20 bits/char)'."""
    state = status.get("state", "unknown")
    if state == "running":
        stage = status.get("stage", "starting")
        started = status.get("started", "?")
        return f"running ({stage}) since {started}"
    outcome = status.get("outcome") or state
    reason = status.get("reason") or ""
    ended = status.get("ended") or ""
    text = f"{outcome} at {ended}" if ended else outcome
    return f"{text}: {reason}" if reason else text
