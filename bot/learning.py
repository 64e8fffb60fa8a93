"""The bot's half of the learning loop, independent of Twitch: the model it follows, the
moderators' settings, and what may be learned from whom.

`LearningLoop` loads the model (following a model home's `current`), reloads, retrains and
rolls back, and answers `!chatstatus`; it holds two helpers with one job each:
`ChannelControls` (posting on/off and `!chatset`, kept across restarts) and `PrivacyControls`
(blocked words, forgetting a user, viewers' opt-out and opt-in). Every command method
returns the one-line reply; bot/commands.py is the TwitchIO side that calls them.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import time
from collections.abc import Mapping
from pathlib import Path

from bot.collector import LineCounter
from bot.config import read_environment
from bot.reload import ModelReloader
from bot.retraining import RetrainLauncher, describe_status
from bot.settings_store import TUNABLES, ChannelSettingsStore, SettingError
from trainer.corpus import privacy
from trainer.errors import StreamchatError
from trainer.engine.generate import SamplingSettings
from trainer.loop.home import version_figures

logger = logging.getLogger(__name__)

# Replies pass the engine's filters like any post: at most 60 words and 500 characters.
MAX_REPLY_WORDS = 55
MAX_REPLY_CHARS = 450


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"
    return f"{seconds // 86400}d{seconds // 3600 % 24}h"


class LearningLoop:
    """The model the bot follows (reload, retrain, rollback), the status line, and the wiring.

    Create it before the bot starts (it loads the model, following a model home), then
    `attach` it to the bot's brains, worker and collector once they exist.
    """

    def __init__(self, collect_dir: Path, reloader: ModelReloader, *, retrain_args: list[str] | None = None):
        self.collect_dir = Path(collect_dir)
        self.reloader = reloader
        self.retrain_args = list(retrain_args or [])
        self.started = time.time()
        self.brains: dict = {}
        self.worker = None
        self.collector = None
        self.launchers: dict[str, RetrainLauncher] = {}
        self.counter = LineCounter()
        self.settings = ChannelControls(self)
        self.privacy = PrivacyControls(self)
        self.announce = None  # announce(channel, text): post an unprompted line (retrain finished)

    @classmethod
    def from_environment(cls, model: Path, collect_dir: Path, environ: Mapping[str, str] | None = None) -> LearningLoop:
        """Load the model (StreamchatError with EXIT_MODEL when it can't be) and read STREAMCHAT_RETRAIN_ARGS."""
        env = read_environment(environ) if environ is None else environ
        try:
            retrain_args = shlex.split(env.get("STREAMCHAT_RETRAIN_ARGS", ""))
        except ValueError as error:
            raise StreamchatError(f"STREAMCHAT_RETRAIN_ARGS is not a valid argument list: {error}") from None
        loop = cls(collect_dir, ModelReloader(model), retrain_args=retrain_args)
        loop.reloader.prepare = loop.prepare_generator
        loop.reloader.load_initial()
        loop.settings.default_temperature = loop.reloader.generator.settings.temperature
        return loop

    @property
    def generator(self):
        return self.reloader.generator

    def channel_dir(self, channel: str) -> Path:
        return self.collect_dir / channel

    # -- wiring

    def attach(self, brains: Mapping, worker, collector=None) -> None:
        """Apply the stored settings to each channel and start following the model home."""
        self.brains, self.worker, self.collector = dict(brains), worker, collector
        for channel in self.brains:
            self.settings.restore(channel)
        self.prepare_generator(self.generator)
        self.reloader.on_swap = lambda generator, version: worker.swap(generator)
        self.reloader.on_failure = self._report_failure
        self.reloader.start()

    def _report_failure(self, report: str) -> None:
        """A new version that can't be used is said once in each channel (the old one keeps going)."""
        if self.announce is not None:
            for channel in self.brains:
                self.announce(channel, report)

    def prepare_generator(self, generator) -> None:
        """Moderators' blocked words, on a freshly loaded engine (before it answers anyone)."""
        for channel in self.brains or self._channels_on_disk():
            for word in privacy.PolicyStore(self.channel_dir(channel)).load().blocked_words:
                try:
                    generator.filters.add_banned_word(word)
                except StreamchatError:
                    logger.warning("ignoring the blocked word %r of %s", word, channel)

    def _channels_on_disk(self) -> list[str]:
        if not self.collect_dir.is_dir():
            return []
        return [p.name for p in self.collect_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]

    # -- status

    async def status(self, channel: str) -> str:
        loop = asyncio.get_running_loop()
        today, total = await loop.run_in_executor(None, self.counter.today_and_total, self.channel_dir(channel))
        parts = [self.model_line(), f"up {_duration(time.time() - self.started)}",
                 f"collected today {today}, total {total}"]
        if privacy.policy_problem(self.channel_dir(channel)):
            parts.insert(0, "privacy policy unreadable: collecting and learning nothing here (see the log)")
        if self.reloader.home is not None:
            launcher = self.launchers.get(channel)
            parts.append(describe_status(self.reloader.home, starting=bool(launcher and launcher.spawned())))
        line = " | ".join([*parts, self.settings.line(channel)])
        if len(line) > MAX_REPLY_CHARS or len(line.split()) > MAX_REPLY_WORDS:
            line = " | ".join(parts)  # the settings are one `!chatset` away
        return line if len(line) <= MAX_REPLY_CHARS else line[: MAX_REPLY_CHARS - 3] + "..."

    def model_line(self) -> str:
        version = self.reloader.version or "?"
        figures = version_figures(self.reloader.model_dir) if self.reloader.model_dir else {}
        details = [figures.get("preset") or ""]
        if isinstance(figures.get("bits_per_char"), (int, float)):
            details.append(f"{figures['bits_per_char']:.2f} bits/char")
        detail = ", ".join(d for d in details if d)
        line = f"model {version}" + (f" ({detail})" if detail else "")
        if self.reloader.last_error:
            line += " | last reload failed"
        return line

    # -- model: reload, retrain, rollback

    async def reload(self) -> str:
        return await self.reloader.reload()

    def retrain(self, channel: str) -> str:
        home = self.reloader.home
        if home is None:
            return "the model is a plain checkpoint; set STREAMCHAT_MODEL to a model home (models/<name>/) to retrain"
        launcher = self.launchers.get(channel)
        if launcher is None:
            launcher = self.launchers[channel] = RetrainLauncher(
                home.path, self.channel_dir(channel), extra_args=self.retrain_args,
                on_finish=lambda status: self._retrain_finished(channel, status),
            )
        return launcher.start()

    def _retrain_finished(self, channel: str, status: dict) -> None:
        async def after() -> None:
            if status.get("outcome") == "promoted":
                await self.reloader.reload()
            if self.announce is not None:
                self.announce(channel, describe_status(self.reloader.home))

        asyncio.get_running_loop().create_task(after())

    async def rollback(self) -> str:
        home = self.reloader.home
        if home is None:
            return "the model is a plain checkpoint: there is nothing to roll back to"

        def switch():
            with home.lock():
                return home.rollback()

        try:
            _, target = await asyncio.get_running_loop().run_in_executor(None, switch)
        except StreamchatError as error:
            if "already running" in str(error):
                return "no rollback while a retrain runs; try again when it is done"
            return f"no rollback: {str(error).removeprefix(f'{home.path}: ')[:200]}"
        outcome = await self.reloader.reload()
        return f"rolled back to {target}; {outcome}"

    async def close(self) -> None:
        await self.reloader.stop()


class ChannelControls:
    """Posting on/off and the `!chatset` settings of each channel, stored across restarts."""

    def __init__(self, loop: LearningLoop):
        self.loop = loop
        self.stores: dict[str, ChannelSettingsStore] = {}
        self.default_temperature = SamplingSettings.temperature  # until a generator is loaded

    def restore(self, channel: str) -> None:
        """Put the channel's stored settings in force (at start)."""
        brain = self.loop.brains[channel]
        store = self.stores[channel] = ChannelSettingsStore(self.loop.channel_dir(channel))
        brain.apply_settings(store.apply(brain.settings))
        brain.posting = store.posting
        self.loop.worker.sampling[channel] = {"temperature": store.get("temperature", self.default_temperature)}

    def set_posting(self, channel: str, on: bool) -> str:
        self.stores[channel].set_posting(on)
        self.loop.brains[channel].posting = on
        return "posting on" if on else "posting off (still collecting chat)"

    def line(self, channel: str) -> str:
        """The settings in force, on one line."""
        brain = self.loop.brains[channel]
        s = brain.settings
        temperature = self.loop.worker.sampling.get(channel, {}).get("temperature", self.default_temperature)
        interval = f"{s.join_minutes:g}m" if s.join_minutes else "off"
        messages = f"{s.join_messages}" if s.join_messages else "off"
        policy = privacy.PolicyStore(self.loop.channel_dir(channel)).load()
        return (f"posting {'on' if brain.posting else 'off'}, interval {interval}, "
                f"messages {messages}, cooldown {s.cooldown:g}s, usercooldown {s.user_cooldown:g}s, "
                f"temperature {temperature:g}, optinonly {'on' if policy.opt_in_only else 'off'}")

    def change(self, channel: str, args: str, usage: str) -> str:
        """`!chatset [name value]`: the settings in force, or one of them changed."""
        parts = args.split()
        if not parts:
            return self.line(channel)
        if len(parts) != 2:
            return usage
        name, raw = parts[0].lower(), parts[1]
        if name == "optinonly":
            if raw.lower() not in ("on", "off"):
                return usage
            privacy.set_opt_in_only(self.loop.channel_dir(channel), raw.lower() == "on")
            self.loop.privacy.policy_changed(channel)
            return f"optinonly {raw.lower()}" + (": learning only from viewers who typed the opt-in command"
                                                 if raw.lower() == "on" else "")
        if name not in TUNABLES:
            return f"no setting {name[:20]!r}; {usage}"
        try:
            value = self.stores[channel].set(name, raw)
        except SettingError as error:
            return str(error)
        if TUNABLES[name].field == "temperature":
            self.loop.worker.sampling.setdefault(channel, {})["temperature"] = value
        else:
            brain = self.loop.brains[channel]
            brain.apply_settings(self.stores[channel].apply(brain.settings))
        return f"{name} set to {value:g}"


class PrivacyControls:
    """What the model may say and learn: blocked words, forgotten users, viewers' opt-out and opt-in."""

    def __init__(self, loop: LearningLoop):
        self.loop = loop

    def _file_guard(self, channel: str):
        collector = self.loop.collector
        return collector.file_guard(channel) if collector is not None else None

    def policy_changed(self, channel: str) -> None:
        if self.loop.collector is not None:
            self.loop.collector.reload_policy(channel)

    def purge_copies(self) -> None:
        """After a purge: a stopped retrain's copies of collected chat go too."""
        home = self.loop.reloader.home
        if home is not None and home.purge_stale_work():
            logger.info("removed a stopped retrain's work folder %s after a purge", home.work_dir)

    # -- words

    async def block(self, channel: str, word: str) -> str:
        # On a thread: the filter recompiles its pattern (a tenth of a second) and files are written.
        return await asyncio.to_thread(self._block, channel, word)

    def _block(self, channel: str, word: str) -> str:
        added = privacy.block_word(self.loop.channel_dir(channel), word)
        self.loop.generator.filters.add_banned_word(word)
        self.policy_changed(channel)
        return "blocked: never said, never learned" if added else "that word was blocked already"

    async def unblock(self, channel: str, word: str) -> str:
        return await asyncio.to_thread(self._unblock, channel, word)

    def _unblock(self, channel: str, word: str) -> str:
        filters = self.loop.generator.filters
        removed = privacy.unblock_word(self.loop.channel_dir(channel), word)
        shipped = filters.is_shipped(word)
        if not removed:
            return "that word is on the shipped list: it stays banned" if shipped else "that word was not blocked here"
        still_blocked = any(
            privacy.same_word(word, other)
            for c in self.loop.brains if c != channel
            for other in privacy.PolicyStore(self.loop.channel_dir(c)).load().blocked_words
        )
        if not still_blocked:
            filters.remove_banned_word(word)  # never a word of the shipped list
        self.policy_changed(channel)
        if shipped:
            return "unblocked for learning here; it is on the shipped list, so the bot still never says it"
        return "unblocked"

    # -- people

    def user_hash(self, user_id: str) -> str:
        if self.loop.collector is None:
            raise StreamchatError("collection is off (STREAMCHAT_COLLECT=0): there is nothing to purge")
        return self.loop.collector.user_hash(user_id)

    async def forget(self, channel: str, user_id: str) -> str:
        user = self.user_hash(user_id)
        await asyncio.to_thread(self.loop.brains[channel].forget_user, str(user_id))  # context, and a ban-style clear
        removed = await asyncio.to_thread(privacy.forget, self.loop.channel_dir(channel), user,
                                          file_guard=self._file_guard(channel))
        self.policy_changed(channel)
        await asyncio.to_thread(self.purge_copies)
        logger.info("%s: forgot a user (%d more record(s) purged)", channel, removed)
        return "forgotten: their collected messages are purged, and none will be collected again"

    async def opt_out(self, user_id: str) -> str:
        """A viewer's opt-out holds in every channel of this bot."""
        user = self.user_hash(user_id)
        removed = 0
        for channel in self.loop.brains:
            removed += await asyncio.to_thread(privacy.opt_out, self.loop.channel_dir(channel), user,
                                               file_guard=self._file_guard(channel))
            self.policy_changed(channel)
        await asyncio.to_thread(self.purge_copies)
        return f"ok, I won't learn from your messages ({removed} removed)"

    async def opt_in(self, user_id: str) -> str:
        user = self.user_hash(user_id)
        for channel in self.loop.brains:
            privacy.opt_in(self.loop.channel_dir(channel), user)
            self.policy_changed(channel)
        return "ok, I may learn from your messages again"
