"""Live model reload: follow a model home's `current` and swap engines between generations.

`STREAMCHAT_MODEL` names a plain checkpoint (loaded once) or a model home `models/<name>/`,
whose `current` this module polls (one readlink every few seconds: portable, and cheap
enough that no file-watching library is needed). A moderator's reload command checks at once.

How a swap stays invisible to chat:
- the new engine is loaded and tried (one generation) in a worker thread while the old one
  keeps answering; a model that fails to load or to generate is reported and the old one kept;
- the swap itself is one assignment on the event loop. The bot reads `reloader.generator`
  when a generation starts, so a generation already running finishes on the engine it
  started with, and the next one uses the new engine: no message dropped, and no reply from
  a half-loaded model;
- the moderators' state lives outside the engine and is applied to every new one before the
  swap (`prepare`): the blocked words and the sampling settings in force.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.config import EXIT_MODEL
from bot.generation import load_generator
from trainer.errors import StreamchatError
from trainer.loop.home import ModelHome
from trainer.model.checkpoint import is_home, resolve_model

logger = logging.getLogger(__name__)

POLL_SECONDS = 5.0


class ModelReloader:
    """The engine in use and where it came from; reloads when the model home moves on."""

    def __init__(
        self,
        source: str | Path,
        *,
        load: Callable[[Path], Any] = load_generator,
        prepare: Callable[[Any], None] | None = None,
        on_swap: Callable[[Any, str], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
        poll_seconds: float = POLL_SECONDS,
    ):
        self.source = Path(source)
        self.home = ModelHome(self.source) if is_home(self.source) else None
        self.load = load
        self.prepare = prepare  # applies the moderators' state to a freshly loaded engine
        self.on_swap = on_swap  # called on the event loop right after a swap (generator, version)
        self.on_failure = on_failure  # called with a one-line report when a new version fails to load
        self.poll_seconds = poll_seconds
        self.generator: Any = None
        self.model_dir: Path | None = None
        self.version: str | None = None
        self.loaded_at: float | None = None
        self.last_error: str | None = None
        self._failed_version: str | None = None  # don't retry a broken version every poll
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None

    # -- loading

    def _load_checked(self, model_dir: Path):
        generator = self.load(model_dir)
        if self.prepare is not None:
            self.prepare(generator)
        # One round of sampling (errors raise, nothing is remembered as posted), so a model
        # that loads but can't generate never reaches chat.
        if not generator.candidates(context=("hello chat",)):
            raise StreamchatError("the model generated nothing")
        return generator

    def load_initial(self):
        """Load the model at startup (blocking); StreamchatError when it can't be used."""
        try:
            model_dir = resolve_model(self.source)
        except StreamchatError as error:
            raise StreamchatError(f"cannot load the model {self.source}: {error}", exit_code=EXIT_MODEL) from None
        try:
            generator = self._load_checked(model_dir)
        except StreamchatError as error:
            if error.exit_code == EXIT_MODEL:
                raise
            raise StreamchatError(f"the model at {model_dir} is unusable: {error}", exit_code=EXIT_MODEL) from None
        except Exception as error:  # a broken checkpoint: say which and why
            raise StreamchatError(f"the model at {model_dir} could not be loaded: {error}", exit_code=EXIT_MODEL) from error
        self._install(generator, model_dir)
        return generator

    def _install(self, generator, model_dir: Path) -> None:
        self.generator = generator
        self.model_dir = model_dir
        self.version = model_dir.name
        self.loaded_at = time.time()
        self.last_error = None
        self._failed_version = None
        if self.on_swap is not None:
            self.on_swap(generator, self.version)

    def pending_version(self) -> str | None:
        """The home's current version when it differs from the loaded one (else None)."""
        if self.home is None:
            return None
        current = self.home.current_version()
        return current if current and current != self.version else None

    async def reload(self, *, force: bool = False) -> str:
        """Load the home's current version if it changed (or `force`); return a one-line outcome."""
        async with self._lock:
            if self.home is None and not force:
                return f"model {self.version} is a plain checkpoint; nothing newer to load"
            try:
                model_dir = resolve_model(self.source)
            except StreamchatError as error:
                self.last_error = str(error)
                logger.error("model reload: %s", error)
                return f"reload failed ({error}); still on {self.version}"
            if model_dir.name == self.version and not force:
                return f"already on model {self.version}"
            loop = asyncio.get_running_loop()
            try:
                generator = await loop.run_in_executor(None, self._load_checked, model_dir)
            except Exception as error:  # noqa: BLE001 - any failure keeps the old engine
                self.last_error = f"{model_dir.name}: {error}"
                self._failed_version = model_dir.name
                logger.error("model %s failed to load, keeping %s: %s", model_dir, self.version, error)
                report = f"model {model_dir.name} failed to load; still on {self.version}"
                if self.on_failure is not None:
                    self.on_failure(report)
                return report
            old = self.version
            self._install(generator, model_dir)
            logger.info("model swapped: %s -> %s", old, self.version)
            return f"now on model {self.version} (was {old})"

    # -- watching

    async def watch(self) -> None:
        """Poll the home's `current` forever; reload when it moves (a broken version once)."""
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                version = self.pending_version()
                if version and version != self._failed_version:
                    await self.reload()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the watcher must outlive any surprise
                logger.exception("model watcher")

    def start(self) -> None:
        if self.home is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.watch(), name="model-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
