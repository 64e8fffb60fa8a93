"""Starting a retrain from chat: `python -m trainer retrain` as a low-priority background process.

The bot never trains in its own process: training would compete with generation for the
event loop's CPU and memory, and a crash in it would take the bot down. Instead it spawns the
trainer's own command with `--nice 10` (below the bot's priority), output appended to the
home's `retrain.log`, and watches the process from the event loop without blocking. Progress
and outcome come from the home's status.json, which the retrain keeps up to date; the model
watcher (bot/reload.py) picks up a promoted version by itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from trainer.loop.home import ModelHome, format_status

logger = logging.getLogger(__name__)

NICE = 10
POLL_SECONDS = 2.0


def _clock(iso: str | None) -> str:
    """'2026-11-28T12:01:05Z' -> '12:01 UTC' (chat replies stay short)."""
    if not iso or "T" not in iso:
        return iso or "?"
    return iso.split("T", 1)[1][:5] + " UTC"


def _minutes_since(iso: str | None) -> str:
    try:
        then = datetime.fromisoformat((iso or "").replace("Z", "+00:00"))
    except ValueError:
        return "?"
    return f"{max(0, (datetime.now(timezone.utc) - then).total_seconds()) / 60:.0f}m"


def describe_status(home: ModelHome, *, starting: bool = False) -> str:
    """A short line about the last (or running) retrain for `!chatstatus`.

    `starting`: a retrain process was just spawned and has not written its status yet.
    """
    status = home.read_status()
    if starting and status.get("state") != "running":
        return "retraining (starting)"
    if not status:
        return "never retrained"
    state = status.get("state")
    if state == "running":
        stage = status.get("stage") or "starting"
        line = f"retraining ({stage}) since {_clock(status.get('started'))}"
        max_time = status.get("max_time")
        if stage == "training" and max_time:
            line = f"retraining (training, {_minutes_since(status.get('stage_started'))} of up to {max_time / 60:.0f}m)"
        return line
    if state == "interrupted":
        return f"last retrain interrupted ({_clock(status.get('started'))})"
    outcome = status.get("outcome") or state
    if outcome == "promoted":
        return f"last retrain {_clock(status.get('ended'))}: promoted {status.get('version')} ({status.get('reason')})"
    return f"last retrain {_clock(status.get('ended'))}: {outcome} ({status.get('reason')})"


class RetrainLauncher:
    """Spawns and watches one retrain of a model home on one channel's collected chat."""

    def __init__(
        self,
        home: str | Path,
        collected: str | Path,
        *,
        extra_args: list[str] | None = None,
        python: str = sys.executable,
        on_finish: Callable[[dict], None] | None = None,
    ):
        self.home = ModelHome(home)
        self.collected = Path(collected)
        self.extra_args = list(extra_args or [])
        self.python = python
        self.on_finish = on_finish
        self.process: subprocess.Popen | None = None
        self._watch: asyncio.Task | None = None

    def command(self) -> list[str]:
        return [
            self.python, "-m", "trainer", "retrain",
            "--home", str(self.home.path), "--collected", str(self.collected),
            "--nice", str(NICE), "--no-progress", *self.extra_args,
        ]

    def spawned(self) -> bool:
        """Whether the process this launcher started still runs."""
        return self.process is not None and self.process.poll() is None

    def running(self) -> bool:
        if self.process is not None and self.process.poll() is None:
            return True
        return self.home.lock().owner() is not None

    def start(self) -> str:
        """Spawn the retrain (never blocks); return a one-line reply for chat."""
        if self.running():
            return f"a retrain is already running: {describe_status(self.home, starting=True)}"
        self.home.path.mkdir(parents=True, exist_ok=True)
        log = open(self.home.log_path, "a", encoding="utf-8")
        log.write(f"\n=== retrain started from chat at {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n")
        log.flush()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        try:
            self.process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, start_new_session=True,  # a Ctrl-C meant for the bot doesn't hit it
            )
        except OSError as error:
            logger.error("could not start a retrain: %s", error)
            return f"could not start a retrain ({error})"
        finally:
            log.close()
        logger.info("retrain started (pid %d): %s", self.process.pid, " ".join(self.command()))
        try:
            self._watch = asyncio.get_running_loop().create_task(self._wait(), name="retrain-watch")
        except RuntimeError:  # no loop (tests, scripts): the caller polls
            self._watch = None
        return "retrain started in the background; see status"

    async def _wait(self) -> None:
        process = self.process
        while process.poll() is None:
            await asyncio.sleep(POLL_SECONDS)
        status = self.home.read_status()
        logger.info("retrain finished (exit %s): %s", process.returncode, format_status(status))
        if self.on_finish is not None:
            try:
                self.on_finish(status)
            except Exception:  # noqa: BLE001
                logger.exception("after the retrain")

    def stop(self) -> None:
        """Ask a running retrain to stop (SIGTERM: it cleans up; current stays as it was)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
