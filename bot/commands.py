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

Permissions are TwitchIO's guards: `commands.is_moderator()` reads the badges on the
command's chat message (broadcaster, moderator, lead moderator), never a list of people, and a
component guard keeps every command to the bot's own channels (not shared chat). A guard that
fails is ignored without a word. Names are configurable (`STREAMCHAT_COMMAND_<KEY>=name`, e.g.
`STREAMCHAT_COMMAND_STATUS=botstatus`). Replies are one short line through the channel's send
queue (Twitch's limits, the engine's filters); a malformed command gets a one-line usage.

The logic lives in bot/learning.py (`LearningLoop`); this module is the TwitchIO side.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping

from twitchio.ext import commands

from bot.config import read_environment
from bot.learning import LearningLoop
from bot.sendqueue import Post
from bot.settings_store import TUNABLES
from trainer.errors import StreamchatError

logger = logging.getLogger(__name__)

DEFAULT_NAMES: dict[str, str] = {
    "on": "chaton", "off": "chatoff", "status": "chatstatus", "set": "chatset", "reload": "chatreload",
    "retrain": "chatretrain", "rollback": "chatrollback", "block": "chatblock", "unblock": "chatunblock",
    "forget": "chatforget", "optout": "chatoptout", "optin": "chatoptin",
}
NAME_PATTERN = re.compile(r"^[a-z0-9_]{1,25}$")
LOGIN_PATTERN = re.compile(r"^@?[A-Za-z0-9_]{1,25}$")
MAX_WORD_CHARS = 50


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


def _command(key: str):
    """A command whose name is configurable: declared under its default name, with its key in
    `extras` so that `ModeratorCommands` can give it the name in force."""
    return commands.command(name=DEFAULT_NAMES[key], extras={"key": key})


class ModeratorCommands(commands.Component):
    """Moderators' commands and viewers' opt-out and opt-in; each calls the `LearningLoop`."""

    def __init__(self, bot, learning: LearningLoop, names: Mapping[str, str] | None = None):
        self.bot = bot
        self.learning = learning
        names = dict(names or DEFAULT_NAMES)
        # TwitchIO fixes a command's name where the class is defined and has no public way to
        # rename one; the names are configurable, so they are set here, before the bot adds
        # the component (every name, every time: one bot per process).
        for command in self.__all_commands__.values():
            command._name = names[command.extras["key"]]
        self.usage = {
            "set": f"usage: !{names['set']} [{'|'.join([*TUNABLES, 'optinonly'])} <value>]",
            "block": f"usage: !{names['block']} <word>",
            "unblock": f"usage: !{names['unblock']} <word>",
            "forget": f"usage: !{names['forget']} <user>",
        }

    @classmethod
    def factory(cls, learning: LearningLoop, names: Mapping[str, str] | None = None) -> Callable:
        """For `StreamchatBot(components=[...])`, which makes each component once it has the bot."""
        return lambda bot: cls(bot, learning, names)

    async def component_load(self) -> None:
        self.learning.attach(self.bot.brains, self.bot.worker, self.bot.collector)
        self.learning.announce = self.announce

    async def component_teardown(self) -> None:
        await self.learning.close()

    # -- guards and errors

    @commands.Component.guard()
    def in_our_channel(self, ctx: commands.Context) -> bool:
        """Only in the bot's own channels, and not shared chat from another channel."""
        message = ctx.message
        return (self.bot.brain_for(ctx.broadcaster.id) is not None and message is not None
                and message.source_broadcaster is None)

    async def component_command_error(self, payload: commands.CommandErrorPayload) -> bool | None:
        if isinstance(payload.exception, commands.GuardFailure):
            # A viewer's moderator command, or a command from shared chat: ignored without a word.
            logger.debug("%s ignored: %s", payload.context.command, payload.exception)
        else:
            logger.error("moderation command %s failed", payload.context.command, exc_info=payload.exception)
        return False  # handled here: not passed on to the bot's error handler

    # -- plumbing

    def _brain(self, ctx: commands.Context):
        return self.bot.brain_for(ctx.broadcaster.id)

    def reply(self, ctx: commands.Context, text: str | None) -> None:
        if text:
            self._brain(ctx).send_queue.submit(Post(text, reply_to=ctx.message.id, origin="moderation"))

    def announce(self, channel: str, text: str) -> None:
        brain = self.bot.brains.get(channel)
        if brain is not None and text:
            brain.send_queue.submit(Post(text, origin="moderation"))

    @staticmethod
    async def guarded(work) -> str:
        """A command's reply; a user-fixable problem becomes its message instead of an error."""
        try:
            return await work
        except StreamchatError as error:
            return str(error).split("\n")[0][:300]

    # -- moderators' commands

    @commands.is_moderator()
    @_command("on")
    async def posting_on(self, ctx: commands.Context) -> None:
        self.reply(ctx, self.learning.settings.set_posting(self._brain(ctx).channel, True))

    @commands.is_moderator()
    @_command("off")
    async def posting_off(self, ctx: commands.Context) -> None:
        self.reply(ctx, self.learning.settings.set_posting(self._brain(ctx).channel, False))

    @commands.is_moderator()
    @_command("status")
    async def status(self, ctx: commands.Context) -> None:
        self.reply(ctx, await self.learning.status(self._brain(ctx).channel))

    @commands.is_moderator()
    @_command("set")
    async def change(self, ctx: commands.Context, *, args: str = "") -> None:
        self.reply(ctx, self.learning.settings.change(self._brain(ctx).channel, args, self.usage["set"]))

    @commands.is_moderator()
    @_command("reload")
    async def reload(self, ctx: commands.Context) -> None:
        self.reply(ctx, await self.learning.reload())

    @commands.is_moderator()
    @_command("retrain")
    async def retrain(self, ctx: commands.Context) -> None:
        self.reply(ctx, self.learning.retrain(self._brain(ctx).channel))

    @commands.is_moderator()
    @_command("rollback")
    async def rollback(self, ctx: commands.Context) -> None:
        self.reply(ctx, await self.learning.rollback())

    @commands.is_moderator()
    @_command("block")
    async def block(self, ctx: commands.Context, *, word: str = "") -> None:
        word = word.strip()
        if not word or len(word) > MAX_WORD_CHARS:
            self.reply(ctx, self.usage["block"])
            return
        self.reply(ctx, await self.guarded(self.learning.privacy.block(self._brain(ctx).channel, word)))

    @commands.is_moderator()
    @_command("unblock")
    async def unblock(self, ctx: commands.Context, *, word: str = "") -> None:
        word = word.strip()
        if not word or len(word) > MAX_WORD_CHARS:
            self.reply(ctx, self.usage["unblock"])
            return
        self.reply(ctx, await self.learning.privacy.unblock(self._brain(ctx).channel, word))

    @commands.is_moderator()
    @_command("forget")
    async def forget(self, ctx: commands.Context, *, user: str = "") -> None:
        login = user.strip()
        if not LOGIN_PATTERN.match(login):
            self.reply(ctx, self.usage["forget"])
            return
        try:
            users = await self.bot.fetch_users(logins=[login.lstrip("@").lower()])
        except Exception as error:  # noqa: BLE001 - Twitch unreachable: say so, stay up
            logger.warning("looking up a user to forget failed: %s", error)
            self.reply(ctx, "could not look that user up on Twitch; try again")
            return
        if not users:
            self.reply(ctx, "no such Twitch user")
            return
        self.reply(ctx, await self.guarded(self.learning.privacy.forget(self._brain(ctx).channel, str(users[0].id))))

    # -- viewers' commands (open to anyone)

    @_command("optout")
    async def opt_out(self, ctx: commands.Context) -> None:
        self.reply(ctx, await self.guarded(self.learning.privacy.opt_out(str(ctx.chatter.id))))

    @_command("optin")
    async def opt_in(self, ctx: commands.Context) -> None:
        self.reply(ctx, await self.guarded(self.learning.privacy.opt_in(str(ctx.chatter.id))))
