"""The generation engine on a worker thread, so the event loop keeps reading and collecting chat.

One `ModelWorker` serves every channel of the process: the engine is safe for one caller at a
time, so jobs run one after another on a single thread. A failing generation is logged and
answers None; it never reaches the chat loop. `swap(generator)` replaces the model between
two jobs (live reload).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot.config import EXIT_MODEL
from trainer.errors import StreamchatError

logger = logging.getLogger(__name__)


def load_generator(model: Path, **settings):
    """`trainer.engine.generate.Generator` for a checkpoint or a model home, or a StreamchatError saying why not.

    The engine is imported here, not at the top: torch is heavy."""
    from trainer.engine.generate import Generator

    try:
        return Generator.load(model, **settings)
    except StreamchatError as error:
        raise StreamchatError(f"cannot load the model {model}: {error}", exit_code=EXIT_MODEL) from None
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise StreamchatError(
            f"the model at {model} is unreadable ({type(error).__name__}: {error}); "
            "point STREAMCHAT_MODEL at a checkpoint made by `python -m trainer train`",
            exit_code=EXIT_MODEL,
        ) from None


class ModelWorker:
    def __init__(self, generator):
        self.generator = generator
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="streamchat-generate")
        self.failures = 0
        # Per-channel sampling settings ({"temperature": 0.8}) set by moderators (bot/learning.py).
        self.sampling: dict[str, dict] = {}
        self._defaults_of = None  # the engine whose own settings `_defaults` holds
        self._defaults: dict = {}

    def swap(self, generator) -> None:
        """Use `generator` from the next job on (the running job finishes with the old one)."""
        self.generator = generator

    async def complete(
        self, prompt: str, context: Sequence[str], *, allow_mention: str | None, channel: str
    ) -> str | None:
        return await self._run(
            lambda: self._for(channel).complete(prompt, list(context), allow_mention=allow_mention, channel=channel)
        )

    async def message(self, context: Sequence[str], *, channel: str) -> str | None:
        return await self._run(lambda: self._for(channel).message(list(context), channel=channel))

    def _for(self, channel: str):
        """The engine with the channel's sampling settings in place (on the worker thread, between jobs).

        A setting another channel overrode goes back to the engine's own value first, so one
        channel's overrides never leak into another's.
        """
        generator = self.generator
        if not self.sampling:
            return generator
        if self._defaults_of is not generator:
            self._defaults_of, self._defaults = generator, dict(vars(generator.settings))
        for overrides in self.sampling.values():
            for name in overrides:
                setattr(generator.settings, name, self._defaults[name])
        for name, value in self.sampling.get(channel, {}).items():
            setattr(generator.settings, name, value)
        return generator

    def check(self, text: str, allow_mention: str | None) -> str | None:
        """The engine's filter chain on a text about to be posted: the text, or None when unsafe.

        Checked without a channel: the engine has already remembered this text as the
        channel's latest post (its repeat rule), and the send queue keeps its own duplicate rule.
        """
        filters = self.generator.filters
        text = filters.clean(text)
        return text if filters.check(text, allow_mention=allow_mention) is None else None

    async def _run(self, job) -> str | None:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, job)
        except Exception:
            self.failures += 1
            logger.exception("generation failed; nothing posted")
            return None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
