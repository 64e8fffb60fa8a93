"""Moderators steer the bot from chat; viewers opt out of being learned from.

| command (default name)   | who        | what                                                        |
|--------------------------|------------|-------------------------------------------------------------|
| `!chaton` / `!chatoff`   | moderators | the bot's posting on / off (collection goes on)             |
| `!chatstatus`            | moderators | model version and figures, uptime, collected, last retrain, |
|                          |            | settings in force                                           |
| `!chatset [name value]`  | moderators | interval, messages, cooldown, usercooldown, temperature,    |
|                          |            | optinonly; alone: the settings in force                     |
| `!chatreload`            | moderators | load the model home's current version now                   |
| `!chatretrain`           | moderators | retrain in the background (low priority); see status        |
| `!chatrollback`          | moderators | back to the previous version                                |
| `!chatblock <word>`      | moderators | never say it, never learn from messages with it             |
| `!chatunblock <word>`    | moderators | undo a block                                                |
| `!chatforget <user>`     | moderators | purge the user's collected messages; never collect again    |
| `!chatoptout`            | anyone     | purge my messages, never learn from me                      |
| `!chatoptin`             | anyone     | learn from me again (joins the list in opt-in-only mode)    |

Permissions come from the badges on the command's chat message (broadcaster, moderator,
lead moderator): never a list of people. A viewer's moderator command is ignored without a
word. Names are configurable (`STREAMCHAT_COMMAND_<KEY>=name`, e.g.
`STREAMCHAT_COMMAND_STATUS=botstatus`). Replies are one short line through the channel's send
queue (Twitch's limits, the engine's filters); a malformed command gets a one-line usage.

`LearningLoop` holds the logic and the state (settings stores, model reloader, retrain
launchers) independent of Twitch; `moderation_component` is the TwitchIO side.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bot.config import read_environment
from bot.reload import ModelReloader
from bot.retraining import RetrainLauncher, describe_status
from bot.settings_store import TUNABLES, ChannelSettingsStore, SettingError
from trainer.corpus import privacy
from trainer.errors import StreamchatError
from trainer.engine.generate import SamplingSettings
from trainer.loop.home import version_figures

logger = logging.getLogger(__name__)

DEFAULT_NAMES: dict[str, str] = {
    "on": "chaton", "off": "chatoff", "status": "chatstatus", "set": "chatset", "reload": "chatreload",
    "retrain": "chatretrain", "rollback": "chatrollback", "block": "chatblock", "unblock": "chatunblock",
    "forget": "chatforget", "optout": "chatoptout", "optin": "chatoptin",
}
VIEWER_COMMANDS = frozenset({"optout", "optin"})
NAME_PATTERN = re.compile(r"^[a-z0-9_]{1,25}$")
LOGIN_PATTERN = re.compile(r"^@?[A-Za-z0-9_]{1,25}$")
MAX_WORD_CHARS = 50
# Replies pass the engine's filters like any post: at most 60 words and 500 characters.
MAX_REPLY_WORDS = 55
MAX_REPLY_CHARS = 450


def command_names(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The command names in force: defaults, each replaceable by `STREAMCHAT_COMMAND_<KEY>`."""
    env = read_environment(environ) if environ is None else environ
    names = {}
    problems = []
    for key, default in DEFAULT_NAMES.items():
        variable = f"STREAMCHAT_COMMAND_{key.upper()}"
        name = env.get(variable, "").strip().lstrip("!").lower() or default
        if not NAME_PATTERN.match(name):
            problems.append(f"{variable}={name!r} is not a command name (letters, digits, _)")
        names[key] = name
    taken = [n for n in names.values() if list(names.values()).count(n) > 1] + (["chat"] if "chat" in names.values() else [])
    if taken:
        problems.append(f"command names must be different from each other and from `chat`: {', '.join(sorted(set(taken)))}")
    if problems:
        raise StreamchatError("the moderator command names need fixing:\n  - " + "\n  - ".join(problems))
    return names


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"
    return f"{seconds // 86400}d{seconds // 3600 % 24}h"


@dataclass
class _Count:
    size: int
    mtime: float
    lines: int


class LineCounter:
    """Messages in collected files, recounted only for files that changed since the last look."""

    def __init__(self):
        self._cache: dict[Path, _Count] = {}

    def count(self, path: Path) -> int:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return 0
        cached = self._cache.get(path)
        if cached and cached.size == stat.st_size and cached.mtime == stat.st_mtime:
            return cached.lines
        lines = 0
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                lines += chunk.count(b"\n")
        self._cache[path] = _Count(stat.st_size, stat.st_mtime, lines)
        return lines

    def today_and_total(self, channel_dir: Path) -> tuple[int, int]:
        today = datetime.now(timezone.utc).strftime("%Y-%m-%d") + ".jsonl"
        counts = {p.name: self.count(p) for p in privacy.collected_files(channel_dir)}
        return counts.get(today, 0), sum(counts.values())


class LearningLoop:
    """The bot's half of the learning loop: moderators' commands, settings, reload, retrain, privacy.

    Create it before the bot starts (it loads the model, following a model home), then
    `attach` it to the bot's brains, worker and collector once they exist. Every command
    method returns the one-line reply, or None to stay silent.
    """

    def __init__(self, collect_dir: Path, reloader: ModelReloader, *, retrain_args: list[str] | None = None):
        self.collect_dir = Path(collect_dir)
        self.reloader = reloader
        self.retrain_args = list(retrain_args or [])
        self.started = time.time()
        self.brains: dict = {}
        self.worker = None
        self.collector = None
        self.stores: dict[str, ChannelSettingsStore] = {}
        self.launchers: dict[str, RetrainLauncher] = {}
        self.counter = LineCounter()
        self.default_temperature = SamplingSettings.temperature  # until a generator is attached
        self.announce = None  # announce(channel, text): post an unprompted line (retrain finished)

    @classmethod
    def from_environment(cls, model: Path, collect_dir: Path, environ: Mapping[str, str] | None = None) -> LearningLoop:
        """Load the model (StreamchatError with EXIT_MODEL when it can't be) and read STREAMCHAT_RETRAIN_ARGS."""
        from bot.generation import load_generator

        env = read_environment(environ) if environ is None else environ
        try:
            retrain_args = shlex.split(env.get("STREAMCHAT_RETRAIN_ARGS", ""))
        except ValueError as error:
            raise StreamchatError(f"STREAMCHAT_RETRAIN_ARGS is not a valid argument list: {error}") from None
        loop = cls(collect_dir, ModelReloader(model, load=load_generator), retrain_args=retrain_args)
        loop.reloader.prepare = loop.prepare_generator
        loop.reloader.load_initial()
        loop.default_temperature = loop.reloader.generator.settings.temperature
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
        for channel, brain in self.brains.items():
            store = self.stores[channel] = ChannelSettingsStore(self.channel_dir(channel))
            brain.apply_settings(store.apply(brain.settings))
            brain.posting = store.posting
            worker.sampling[channel] = {"temperature": store.get("temperature", self.default_temperature)}
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

    def _file_guard(self, channel: str):
        return self.collector.file_guard(channel) if self.collector is not None else None

    def _policy_changed(self, channel: str) -> None:
        if self.collector is not None:
            self.collector.reload_policy(channel)

    # -- on / off / settings

    def set_posting(self, channel: str, on: bool) -> str:
        self.stores[channel].set_posting(on)
        self.brains[channel].posting = on
        return "posting on" if on else "posting off (still collecting chat)"

    def settings_line(self, channel: str) -> str:
        s = self.brains[channel].settings
        temperature = self.worker.sampling.get(channel, {}).get("temperature", self.default_temperature)
        interval = f"{s.join_minutes:g}m" if s.join_minutes else "off"
        messages = f"{s.join_messages}" if s.join_messages else "off"
        policy = privacy.PolicyStore(self.channel_dir(channel)).load()
        return (f"posting {'on' if self.brains[channel].posting else 'off'}, interval {interval}, "
                f"messages {messages}, cooldown {s.cooldown:g}s, usercooldown {s.user_cooldown:g}s, "
                f"temperature {temperature:g}, optinonly {'on' if policy.opt_in_only else 'off'}")

    def change_setting(self, channel: str, args: str, usage: str) -> str:
        parts = args.split()
        if not parts:
            return self.settings_line(channel)
        if len(parts) != 2:
            return usage
        name, raw = parts[0].lower(), parts[1]
        if name == "optinonly":
            if raw.lower() not in ("on", "off"):
                return usage
            privacy.set_opt_in_only(self.channel_dir(channel), raw.lower() == "on")
            self._policy_changed(channel)
            return f"optinonly {raw.lower()}" + (": learning only from viewers who typed the opt-in command"
                                                 if raw.lower() == "on" else "")
        if name not in TUNABLES:
            return f"no setting {name[:20]!r}; {usage}"
        try:
            value = self.stores[channel].set(name, raw)
        except SettingError as error:
            return str(error)
        field = TUNABLES[name].field
        if field == "temperature":
            self.worker.sampling.setdefault(channel, {})["temperature"] = value
        else:
            brain = self.brains[channel]
            brain.apply_settings(self.stores[channel].apply(brain.settings))
        return f"{name} set to {value:g}"

    # -- status

    async def status(self, channel: str) -> str:
        loop = asyncio.get_running_loop()
        today, total = await loop.run_in_executor(None, self.counter.today_and_total, self.channel_dir(channel))
        parts = [self.model_line(), f"up {_duration(time.time() - self.started)}",
                 f"collected today {today}, total {total}"]
        if self.reloader.home is not None:
            launcher = self.launchers.get(channel)
            parts.append(describe_status(self.reloader.home, starting=bool(launcher and launcher.spawned())))
        line = " | ".join([*parts, self.settings_line(channel)])
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

    # -- words

    async def block(self, channel: str, word: str) -> str:
        # On a thread: the filter recompiles its pattern (a tenth of a second) and files are written.
        return await asyncio.to_thread(self._block, channel, word)

    def _block(self, channel: str, word: str) -> str:
        added = privacy.block_word(self.channel_dir(channel), word)
        self.generator.filters.add_banned_word(word)
        self._policy_changed(channel)
        return "blocked: never said, never learned" if added else "that word was blocked already"

    async def unblock(self, channel: str, word: str) -> str:
        return await asyncio.to_thread(self._unblock, channel, word)

    def _unblock(self, channel: str, word: str) -> str:
        removed = privacy.unblock_word(self.channel_dir(channel), word)
        if not removed:
            return "that word was not blocked here"
        still_blocked = any(
            word.casefold() in (w.casefold() for w in privacy.PolicyStore(self.channel_dir(c)).load().blocked_words)
            for c in self.brains if c != channel
        )
        if not still_blocked and _normalize(word) not in _default_banned():
            self.generator.filters.remove_banned_word(word)
        self._policy_changed(channel)
        return "unblocked"

    # -- people

    def user_hash(self, user_id: str) -> str:
        if self.collector is None:
            raise StreamchatError("collection is off (STREAMCHAT_COLLECT=0): there is nothing to purge")
        return self.collector.user_hash(user_id)

    async def forget(self, channel: str, user_id: str) -> str:
        user = self.user_hash(user_id)
        await asyncio.to_thread(self.brains[channel].forget_user, str(user_id))  # context, and a ban-style clear
        removed = await asyncio.to_thread(privacy.forget, self.channel_dir(channel), user, file_guard=self._file_guard(channel))
        self._policy_changed(channel)
        logger.info("%s: forgot a user (%d more record(s) purged)", channel, removed)
        return "forgotten: their collected messages are purged, and none will be collected again"

    async def opt_out(self, user_id: str) -> str:
        """A viewer's opt-out holds in every channel of this bot."""
        user = self.user_hash(user_id)
        removed = 0
        for channel in self.brains:
            removed += await asyncio.to_thread(privacy.opt_out, self.channel_dir(channel), user,
                                               file_guard=self._file_guard(channel))
            self._policy_changed(channel)
        return f"ok, I won't learn from your messages ({removed} removed)"

    async def opt_in(self, user_id: str) -> str:
        user = self.user_hash(user_id)
        for channel in self.brains:
            privacy.opt_in(self.channel_dir(channel), user)
            self._policy_changed(channel)
        return "ok, I may learn from your messages again"

    async def close(self) -> None:
        await self.reloader.stop()


def _normalize(word: str) -> str:
    return " ".join(word.casefold().split())


_DEFAULT_BANNED: frozenset[str] | None = None


def _default_banned() -> frozenset[str]:
    global _DEFAULT_BANNED
    if _DEFAULT_BANNED is None:
        from trainer.engine.safety import default_banned_words

        _DEFAULT_BANNED = frozenset(_normalize(w) for w in default_banned_words())
    return _DEFAULT_BANNED


# ---------------------------------------------------------------- TwitchIO

def moderation_component(loop: LearningLoop, names: Mapping[str, str] | None = None):
    """A factory for `StreamchatBot(components=[...])`: the commands as a TwitchIO Component."""
    from twitchio.ext import commands

    from bot.sendqueue import Post

    names = dict(names or DEFAULT_NAMES)
    usage = {
        "set": f"usage: !{names['set']} [{'|'.join([*TUNABLES, 'optinonly'])} <value>]",
        "block": f"usage: !{names['block']} <word>",
        "unblock": f"usage: !{names['unblock']} <word>",
        "forget": f"usage: !{names['forget']} <user>",
    }

    def factory(bot):
        class Moderation(commands.Component):
            """Moderators' commands and viewers' opt-out (bot/moderation.py)."""

            def __init__(self):
                self.bot = bot

            async def component_load(self) -> None:
                loop.attach(bot.brains, bot.worker, bot.collector)
                loop.announce = self.announce

            async def component_teardown(self) -> None:
                await loop.close()

            # -- plumbing

            def _brain(self, ctx: commands.Context):
                brain = bot.brain_for(ctx.broadcaster.id)
                message = ctx.message
                if brain is None or message is None or message.source_broadcaster is not None:
                    return None  # not our channel, or shared chat from another channel
                return brain

            def _moderator(self, ctx, key: str):
                """The channel's brain when the chatter may use command `key` (else None: stay silent)."""
                brain = self._brain(ctx)
                if brain is None:
                    return None
                if key not in VIEWER_COMMANDS and not ctx.chatter.moderator:  # broadcaster counts as moderator
                    logger.debug("%s: %s ignored (not a moderator)", brain.channel, key)
                    return None
                return brain

            async def guarded(self, work) -> str:
                """A command's reply; a user-fixable problem becomes its message instead of an error."""
                try:
                    return await work
                except StreamchatError as error:
                    return str(error).split("\n")[0][:300]

            def reply(self, brain, ctx, text: str | None) -> None:
                if text:
                    brain.send_queue.submit(Post(text, reply_to=ctx.message.id, origin="moderation"))

            def announce(self, channel: str, text: str) -> None:
                brain = bot.brains.get(channel)
                if brain is not None and text:
                    brain.send_queue.submit(Post(text, origin="moderation"))

            async def component_command_error(self, payload) -> bool | None:
                logger.error("moderation command %s failed", payload.context.command, exc_info=payload.exception)
                return False

            # -- the commands

            @commands.command(name=names["on"])
            async def posting_on(self, ctx: commands.Context) -> None:
                if brain := self._moderator(ctx, "on"):
                    self.reply(brain, ctx, loop.set_posting(brain.channel, True))

            @commands.command(name=names["off"])
            async def posting_off(self, ctx: commands.Context) -> None:
                if brain := self._moderator(ctx, "off"):
                    self.reply(brain, ctx, loop.set_posting(brain.channel, False))

            @commands.command(name=names["status"])
            async def status(self, ctx: commands.Context) -> None:
                if brain := self._moderator(ctx, "status"):
                    self.reply(brain, ctx, await loop.status(brain.channel))

            @commands.command(name=names["set"])
            async def change(self, ctx: commands.Context, *, args: str = "") -> None:
                if brain := self._moderator(ctx, "set"):
                    self.reply(brain, ctx, loop.change_setting(brain.channel, args, usage["set"]))

            @commands.command(name=names["reload"])
            async def reload(self, ctx: commands.Context) -> None:
                if brain := self._moderator(ctx, "reload"):
                    self.reply(brain, ctx, await loop.reload())

            @commands.command(name=names["retrain"])
            async def retrain(self, ctx: commands.Context) -> None:
                if brain := self._moderator(ctx, "retrain"):
                    self.reply(brain, ctx, loop.retrain(brain.channel))

            @commands.command(name=names["rollback"])
            async def rollback(self, ctx: commands.Context) -> None:
                if brain := self._moderator(ctx, "rollback"):
                    self.reply(brain, ctx, await loop.rollback())

            @commands.command(name=names["block"])
            async def block(self, ctx: commands.Context, *, word: str = "") -> None:
                if brain := self._moderator(ctx, "block"):
                    word = word.strip()
                    ok = word and len(word) <= MAX_WORD_CHARS
                    self.reply(brain, ctx, await self.guarded(loop.block(brain.channel, word)) if ok else usage["block"])

            @commands.command(name=names["unblock"])
            async def unblock(self, ctx: commands.Context, *, word: str = "") -> None:
                if brain := self._moderator(ctx, "unblock"):
                    word = word.strip()
                    ok = word and len(word) <= MAX_WORD_CHARS
                    self.reply(brain, ctx, await loop.unblock(brain.channel, word) if ok else usage["unblock"])

            @commands.command(name=names["forget"])
            async def forget(self, ctx: commands.Context, *, user: str = "") -> None:
                if brain := self._moderator(ctx, "forget"):
                    login = user.strip()
                    if not LOGIN_PATTERN.match(login):
                        self.reply(brain, ctx, usage["forget"])
                        return
                    try:
                        users = await bot.fetch_users(logins=[login.lstrip("@").lower()])
                    except Exception as error:  # noqa: BLE001 - Twitch unreachable: say so, stay up
                        logger.warning("looking up a user to forget failed: %s", error)
                        self.reply(brain, ctx, "could not look that user up on Twitch; try again")
                        return
                    if not users:
                        self.reply(brain, ctx, "no such Twitch user")
                        return
                    self.reply(brain, ctx, await self.guarded(loop.forget(brain.channel, str(users[0].id))))

            @commands.command(name=names["optout"])
            async def opt_out(self, ctx: commands.Context) -> None:
                if brain := self._moderator(ctx, "optout"):
                    self.reply(brain, ctx, await self.guarded(loop.opt_out(str(ctx.chatter.id))))

            @commands.command(name=names["optin"])
            async def opt_in(self, ctx: commands.Context) -> None:
                if brain := self._moderator(ctx, "optin"):
                    self.reply(brain, ctx, await self.guarded(loop.opt_in(str(ctx.chatter.id))))

        return Moderation()

    return factory
