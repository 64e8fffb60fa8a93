"""Files that a crash never leaves half-written, JSON files, and whether a process still runs.

Every file streamchat replaces (a corpus, stats, a policy, settings, tokens, the model home's
status and history) is written the same way, by `atomic_write`: into a temporary file beside
it, which is flushed to disk and then renamed over the old one, and the rename itself is made
durable by syncing the folder. A crash or kill at any point leaves the old file or the new
one, never a mix; an error while writing leaves the old one and no temporary file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)


def fsync_dir(path: str | Path) -> None:
    """Make a rename or creation inside `path` durable (a no-op where folders can't be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(path: str | Path) -> None:
    """Flush every file under folder `path`, and the folders, to disk (before renaming it into place)."""
    for folder, _, names in os.walk(path):
        for name in names:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(folder)


def temporary_path(path: Path) -> Path:
    """A hidden name beside `path`, private to this process and thread (`prepare` skips hidden files)."""
    return path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", *, encoding: str | None = "utf-8",
                 permissions: int | None = None) -> Iterator[IO]:
    """`with atomic_write(path) as handle:` — what is written to `handle` replaces `path` when the block ends.

    `mode` is "w" (text, in `encoding`) or "wb"; `permissions` (e.g. 0o600 for secrets) is set
    on the new file before anything is written to it. The parent folder is created if needed.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes whole files: mode 'w' or 'wb', not {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666 if permissions is None else permissions)
    try:
        if permissions is not None:
            os.chmod(tmp, permissions)  # the mode given to open() is narrowed by the umask, and not applied to an old file
        with os.fdopen(fd, mode, encoding=None if mode == "wb" else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_text_atomic(path: str | Path, text: str, *, permissions: int | None = None) -> None:
    with atomic_write(path, permissions=permissions) as handle:
        handle.write(text)


def write_json_atomic(path: str | Path, data, *, indent: int | None = 1, permissions: int | None = None) -> None:
    """`data` as UTF-8 JSON (non-ASCII characters as they are), ending in a newline."""
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=indent) + "\n", permissions=permissions)


def read_json(path: str | Path, default=None):
    """The JSON in `path`; `default` when it doesn't exist, or (logged) when it can't be read or parsed."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default
    except (ValueError, OSError) as error:
        logger.warning("ignoring unreadable %s (%s)", path, error)
        return default


# ---------------------------------------------------------------- process liveness


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (never signals it)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped by its parent) holds its pid but runs nothing.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def process_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None
