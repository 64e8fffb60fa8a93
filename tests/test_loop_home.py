"""The model home: versions, the atomic current pointer, rollback, pruning, the retrain lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trainer.errors import StreamchatError
from trainer.loop.home import ModelHome
from trainer.loop.lock import RetrainLock
from trainer.model.checkpoint import resolve_model


def fake_checkpoint(path: Path, label: str) -> Path:
    path.mkdir(parents=True)
    (path / "streamchat.json").write_text(json.dumps({"format": "streamchat-checkpoint", "label": label}))
    return path


def test_add_promote_resolve_and_rollback(tmp_path):
    home = ModelHome(tmp_path / "models" / "chan")
    with pytest.raises(StreamchatError, match="no model at"):
        resolve_model(home.path)
    first = home.add_version(fake_checkpoint(tmp_path / "a", "a"))
    with pytest.raises(StreamchatError, match="no current version yet"):
        resolve_model(home.path)
    home.promote(first)
    assert resolve_model(home.path) == home.version_dir(first)
    # `current` itself is a loadable checkpoint folder.
    assert json.loads((home.path / "current" / "streamchat.json").read_text())["label"] == "a"
    second = home.add_version(fake_checkpoint(tmp_path / "b", "b"))
    assert second != first and second > first
    home.promote(second)
    assert home.current_version() == second
    assert home.previous_version() == first
    assert home.rollback() == (second, first)
    assert resolve_model(home.path) == home.version_dir(first)
    with pytest.raises(StreamchatError, match="no earlier version"):
        home.rollback()
    # A plain checkpoint resolves to itself.
    plain = fake_checkpoint(tmp_path / "plain", "p")
    assert resolve_model(plain) == plain
    with pytest.raises(StreamchatError, match="neither"):
        resolve_model(tmp_path)


def test_prune_keeps_current_and_previous(tmp_path):
    home = ModelHome(tmp_path / "home")
    names = [home.add_version(fake_checkpoint(tmp_path / f"c{i}", str(i))) for i in range(5)]
    home.promote(names[0], keep=10)
    home.promote(names[1], keep=10)
    removed = home.prune(keep=1)
    # Newest kept, plus current (names[1]) and previous (names[0]).
    assert set(home.versions()) == {names[0], names[1], names[4]}
    assert set(removed) == {names[2], names[3]}


def test_crash_while_switching_leaves_a_loadable_current(tmp_path):
    """A leftover temp link from a process killed mid-switch does not disturb `current`."""
    home = ModelHome(tmp_path / "home")
    first = home.add_version(fake_checkpoint(tmp_path / "a", "a"))
    home.promote(first)
    os.symlink("versions/nowhere", home.path / ".current.99999.tmp")
    assert resolve_model(home.path) == home.version_dir(first)
    second = home.add_version(fake_checkpoint(tmp_path / "b", "b"))
    home.promote(second)
    assert resolve_model(home.path) == home.version_dir(second)


def test_retrain_lock_refuses_a_second_and_takes_over_a_stale_one(tmp_path):
    lock_path = tmp_path / "retrain.lock"
    with RetrainLock(lock_path):
        with pytest.raises(StreamchatError, match="already running"):
            RetrainLock(lock_path).acquire()
    assert not lock_path.exists()
    # A process that took the lock and was killed with SIGKILL leaves a stale lock behind.
    code = (
        "import os,sys; from trainer.loop.lock import RetrainLock; "
        f"RetrainLock({str(lock_path)!r}).acquire(); os.kill(os.getpid(), 9)"
    )
    subprocess.run([sys.executable, "-c", code], check=False)
    assert lock_path.exists()
    lock = RetrainLock(lock_path)
    assert lock.owner() is None
    lock.acquire()
    assert json.loads(lock_path.read_text())["pid"] == os.getpid()
    lock.release()


def test_status_of_a_killed_retrain_reads_interrupted(tmp_path):
    home = ModelHome(tmp_path / "home")
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    home.write_status(state="running", pid=proc.pid, stage="training", started="now")
    assert home.read_status()["state"] == "interrupted"
    home.write_status(pid=os.getpid())
    assert home.read_status()["state"] == "running"


def test_pointer_file_where_symlinks_are_refused(tmp_path, monkeypatch):
    """Windows without developer mode: `current` becomes a small file, just as atomic."""
    def refuse(*args, **kwargs):
        raise OSError("symbolic links are not allowed here")

    monkeypatch.setattr(os, "symlink", refuse)
    home = ModelHome(tmp_path / "home")
    first = home.add_version(fake_checkpoint(tmp_path / "a", "a"))
    home.promote(first)
    second = home.add_version(fake_checkpoint(tmp_path / "b", "b"))
    home.promote(second)
    pointer = home.path / "current"
    assert pointer.is_file() and not pointer.is_symlink()
    assert pointer.read_text().strip() == f"versions/{second}"
    assert resolve_model(home.path) == home.version_dir(second)
    home.rollback()
    assert resolve_model(home.path) == home.version_dir(first)


def _hold_lock_briefly(lock_path, barrier, log):
    """A child process: take the lock when the barrier opens; log when it held it."""
    import time as time_module

    barrier.wait()
    lock = RetrainLock(lock_path)
    try:
        lock.acquire()
    except StreamchatError:
        return
    start = time_module.monotonic()
    time_module.sleep(0.05)
    log.put((start, time_module.monotonic()))
    lock.release()


def test_two_processes_never_hold_the_retrain_lock_together(tmp_path):
    """30 trials of two processes racing for a lock that a killed retrain left behind."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    lock_path = tmp_path / "retrain.lock"
    overlaps = 0
    for _ in range(30):
        lock_path.write_text(json.dumps({"pid": 999_999_999, "started": "long ago"}))  # a dead holder's file
        barrier, log = context.Barrier(2), context.Queue()
        children = [context.Process(target=_hold_lock_briefly, args=(lock_path, barrier, log)) for _ in range(2)]
        for child in children:
            child.start()
        for child in children:
            child.join(10)
        held = sorted(log.get(timeout=5) for _ in range(log.qsize()))
        assert held, "nobody took the free lock"
        overlaps += any(later[0] < earlier[1] for earlier, later in zip(held, held[1:]))
    assert overlaps == 0


def test_a_stopped_retrains_copies_of_collected_chat_are_purged(tmp_path):
    home = ModelHome(tmp_path / "home")
    leftover = home.work_dir / "20261128T100000Z" / "data" / "train.jsonl"
    leftover.parent.mkdir(parents=True)
    leftover.write_text('{"text": "an opted-out viewer\'s words"}\n', encoding="utf-8")
    lock = home.lock()
    lock.acquire()  # a running retrain owns its work folder
    assert home.purge_stale_work() is False and leftover.exists()
    lock.release()
    assert home.purge_stale_work() is True and not home.work_dir.exists()
    assert home.purge_stale_work() is False
