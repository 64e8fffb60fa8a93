"""Atomic writes, JSON files and process liveness (trainer.fsutil), on real files and processes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from trainer import fsutil
from trainer.fsutil import atomic_write, pid_alive, process_start_ticks, read_json, write_json_atomic


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "data.txt"
    with atomic_write(path) as handle:
        handle.write("first ä\n")
    assert path.read_text(encoding="utf-8") == "first ä\n"
    with atomic_write(path, "wb") as handle:
        handle.write(b"second\n")
    assert path.read_bytes() == b"second\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["data.txt"]


def test_atomic_write_syncs_the_file_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        kind = "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        events.append(f"fsync {kind}")
        real_fsync(fd)

    def replace(src, dst):
        events.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(fsutil.os, "fsync", fsync)
    monkeypatch.setattr(fsutil.os, "replace", replace)
    write_json_atomic(tmp_path / "state.json", {"a": 1})
    assert events == ["fsync file", "rename", "fsync folder"]
    assert read_json(tmp_path / "state.json") == {"a": 1}


def test_an_error_while_writing_keeps_the_old_file(tmp_path):
    path = tmp_path / "keep.json"
    write_json_atomic(path, {"old": True})
    with pytest.raises(RuntimeError):
        with atomic_write(path) as handle:
            handle.write('{"new": ')
            raise RuntimeError("crashed halfway")
    assert read_json(path) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["keep.json"]


def test_permissions_are_set_even_over_an_old_file(tmp_path):
    path = tmp_path / "secret.json"
    path.write_text("{}")
    os.chmod(path, 0o644)
    write_json_atomic(path, {"token": "x"}, permissions=0o600)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_json(path) == {"token": "x"}


def test_read_json_defaults(tmp_path, caplog):
    assert read_json(tmp_path / "missing.json", {"d": 1}) == {"d": 1}
    broken = tmp_path / "broken.json"
    broken.write_text('{"cut": ')
    assert read_json(broken, []) == []
    assert "ignoring unreadable" in caplog.text


def test_pid_alive_and_start_ticks():
    assert pid_alive(os.getpid())
    assert not pid_alive(0)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not pid_alive(child.pid)
    if sys.platform.startswith("linux"):
        assert process_start_ticks(os.getpid()) == process_start_ticks(os.getpid()) is not None
        assert process_start_ticks(child.pid) is None
