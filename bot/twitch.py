"""The bot on Twitch: TwitchIO 3 (EventSub websocket to read chat, Helix to post).

`StreamchatBot` is a `commands.Bot`. At start it checks the bot's token, looks the channels
up through Helix (logins -> ids), makes a `ChannelBrain` and a `SendQueue` per channel, adds
the `ChatComponent` (the `!chat` command and the chat listeners) and subscribes, per channel,
to `channel.chat.message`, `channel.chat.message_delete` and `channel.chat.clear_user_messages`
on the EventSub websocket with the bot's user token. TwitchIO reconnects the websocket by
itself (and subscribes again after a drop); refreshed tokens are saved at once.

Where TwitchIO talks is decided by three values, set from the settings by `use_endpoints`
before the bot starts: `Route.BASE` (Helix), `Route.ID_BASE` (OAuth) and
`eventsub.websockets.WSS`. That is how the tests point the real bot at a fake Twitch.

More behaviour (moderator commands, model reload) plugs in as further components:
`StreamchatBot(..., components=[factory])`, each `factory(bot)` returning a `commands.Component`;
`bot.brains` (by channel login), `bot.worker` and `bot.collector` are theirs to use.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from datetime import timezone

import aiohttp
import twitchio
from twitchio import eventsub
from twitchio.ext import commands
from twitchio.http import Route

from bot.brain import ChannelBrain, ChatEvent
from bot.collector import Collector
from bot.config import BOT_SCOPES, BROADCASTER_SCOPES, EXIT_TWITCH, Settings
from bot.generation import ModelWorker
from bot.sendqueue import SendFailed, SendQueue, SendRejected, Transport
from bot.tokens import write_tokens
from trainer.errors import StreamchatError

logger = logging.getLogger(__name__)

_SECRET_IN_URL = re.compile(r"((?:client_secret|refresh_token|access_token|code)=)[^&\s'\"]+")


def _redact(record: logging.LogRecord) -> bool:
    """TwitchIO puts a failed request's URL in some log lines, and a token request's URL carries
    the client secret and the refresh token: replace them before anything is written."""
    message = record.getMessage()
    if "=" in message:
        cleaned = _SECRET_IN_URL.sub(r"\1<redacted>", message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
    # TwitchIO warns at every start that the optional Starlette adapter is missing; we use aiohttp's.
    return "StarletteAdapter" not in message


for _name in [n for n in list(logging.root.manager.loggerDict) if n == "twitchio" or n.startswith("twitchio.")]:
    logging.getLogger(_name).addFilter(_redact)


def use_endpoints(settings: Settings) -> None:
    """Point TwitchIO at the configured Helix, OAuth and EventSub addresses (Twitch's by default)."""
    Route.BASE = settings.api_url
    Route.ID_BASE = settings.auth_url
    eventsub.websockets.WSS = settings.eventsub_url


def chat_event(channel: str, message: twitchio.ChatMessage) -> ChatEvent:
    when = message.timestamp
    return ChatEvent(
        channel=channel,
        message_id=message.id,
        user_id=str(message.chatter.id),
        login=message.chatter.name or "",
        text=message.text or "",
        when=when.astimezone(timezone.utc) if when else None,
        moderator=bool(message.chatter.moderator),  # moderator, lead moderator or broadcaster
    )


class ChatComponent(commands.Component):
    """`!chat [prompt]`, and the chat listeners that feed each channel's brain."""

    def __init__(self, bot: StreamchatBot):
        self.bot = bot

    @commands.Component.listener()
    async def event_message(self, payload: twitchio.ChatMessage) -> None:
        brain = self.bot.brain_for(payload.broadcaster.id)
        if brain is None or payload.source_broadcaster is not None:  # shared chat: another channel's message
            return
        brain.observe(chat_event(brain.channel, payload))

    @commands.command(name="chat")
    async def chat(self, ctx: commands.Context, *, prompt: str = "") -> None:
        """`!chat` posts a message of the bot's own; `!chat <words>` completes the viewer's words."""
        message = ctx.message
        brain = self.bot.brain_for(ctx.broadcaster.id)
        if brain is None or message is None or message.source_broadcaster is not None:
            return
        outcome = brain.request_chat(chat_event(brain.channel, message), prompt)
        logger.debug("%s: !chat from a viewer: %s", brain.channel, outcome.value)

    @commands.Component.listener()
    async def event_message_delete(self, payload) -> None:
        brain = self.bot.brain_for(payload.broadcaster.id)
        if brain is not None:
            await asyncio.to_thread(brain.forget_message, payload.message_id)

    @commands.Component.listener()
    async def event_chat_clear_user(self, payload) -> None:
        brain = self.bot.brain_for(payload.broadcaster.id)
        if brain is not None:
            # Twitch's time of the clear, not ours: the messages it clears carry Twitch's timestamps.
            when = payload.timestamp
            await asyncio.to_thread(brain.forget_user, str(payload.user.id),
                                    when.strftime("%Y-%m-%dT%H:%M:%SZ") if when is not None else None)


class StreamchatBot(commands.Bot):
    def __init__(
        self,
        settings: Settings,
        worker: ModelWorker,
        *,
        collector: Collector | None = None,
        check: Callable[[str, str | None], str | None] | None = None,
        components: Sequence[Callable[[StreamchatBot], commands.Component]] = (),
    ):
        super().__init__(
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            bot_id=settings.bot_id,
            prefix="!",
            case_insensitive=True,  # `!Chat` works too, as in the terminal
            fetch_client_user=False,
        )
        self.settings = settings
        self.worker = worker
        self.collector = collector
        self.check = check
        self.component_factories = list(components)
        self.brains: dict[str, ChannelBrain] = {}  # by channel login
        self._by_id: dict[str, ChannelBrain] = {}  # by broadcaster id
        self.bot_login = ""
        self._ticker: asyncio.Task | None = None
        self.started = asyncio.Event()

    def brain_for(self, broadcaster_id: str) -> ChannelBrain | None:
        return self._by_id.get(str(broadcaster_id))

    # ---- tokens: our file, mode 0600, saved on every refresh --------------------------------

    async def load_tokens(self, path: str | None = None) -> None:
        await super().load_tokens(str(self.settings.tokens_path))

    async def save_tokens(self, path: str | None = None) -> None:
        tokens = dict(self.tokens)
        if tokens:  # never overwrite good tokens with nothing (e.g. after a failed start)
            write_tokens(self.settings.tokens_path, tokens)

    async def event_token_refreshed(self, payload) -> None:
        logger.info("refreshed the access token of user %s", payload.user_id)
        await self.save_tokens()

    # ---- start ----------------------------------------------------------------------------------

    async def setup_hook(self) -> None:
        s = self.settings
        if s.bot_id not in self.tokens:
            raise StreamchatError(
                f"no valid user token for the bot account (TWITCH_BOT_ID={s.bot_id}) in {s.tokens_path}: "
                "it is missing, or Twitch rejected it and it could not be refreshed. "
                "Run `python -m bot login` as the bot account.",
                exit_code=EXIT_TWITCH,
            )
        users = await self.fetch_users(ids=[s.bot_id], logins=s.channels)
        by_login = {u.name.lower(): u for u in users if u.name}
        bot_user = next((u for u in users if str(u.id) == s.bot_id), None)
        if bot_user is None:
            raise StreamchatError(f"TWITCH_BOT_ID={s.bot_id} is not a Twitch user; check the id "
                                  "(`python -m bot login` prints it)", exit_code=EXIT_TWITCH)
        self.bot_login = bot_user.name or ""
        unknown = [login for login in s.channels if login not in by_login]
        if unknown:
            raise StreamchatError(
                f"unknown channel(s) in TWITCH_CHANNELS: {', '.join(unknown)} (no such Twitch login); fix the spelling",
                exit_code=EXIT_TWITCH,
            )
        for login in s.channels:
            broadcaster_id = str(by_login[login].id)
            queue = SendQueue(login, self._transport(broadcaster_id, login), s.channel(login), check=self.check)
            brain = ChannelBrain(
                login, s.channel(login), self.worker, queue, bot_id=s.bot_id, bot_login=self.bot_login,
                extra_bots=s.extra_bots, collector=self.collector,
            )
            self.brains[login] = brain
            self._by_id[broadcaster_id] = brain

        await self.add_component(ChatComponent(self))
        for factory in self.component_factories:
            await self.add_component(factory(self))

        for login in s.channels:
            broadcaster_id = str(by_login[login].id)
            for subscription in (
                eventsub.ChatMessageSubscription(broadcaster_user_id=broadcaster_id, user_id=s.bot_id),
                eventsub.ChatMessageDeleteSubscription(broadcaster_user_id=broadcaster_id, user_id=s.bot_id),
                eventsub.ChatClearUserMessagesSubscription(broadcaster_user_id=broadcaster_id, user_id=s.bot_id),
            ):
                await self._subscribe(subscription, login)
        for brain in self.brains.values():
            brain.send_queue.start()
        self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="streamchat-ticker")
        logger.info("in %s as %s; reading chat", ", ".join(s.channels), self.bot_login)
        self.started.set()

    async def _subscribe(self, subscription, login: str) -> None:
        try:
            await self.subscribe_websocket(payload=subscription, token_for=self.settings.bot_id)
        except twitchio.HTTPException as error:
            if error.status in (401, 403):
                raise StreamchatError(
                    f"Twitch refused to let the bot read chat in {login} ({error.status}). The bot account needs the "
                    f"scopes {' '.join(BOT_SCOPES)}, and the broadcaster must authorize {' '.join(BROADCASTER_SCOPES)} "
                    "or make the bot a moderator: run `python -m bot login`.",
                    exit_code=EXIT_TWITCH,
                ) from None
            raise

    def _transport(self, broadcaster_id: str, login: str) -> Transport:
        """Post with the app token (Twitch shows the Chat Bot badge); fall back to the bot's user token
        where the broadcaster has not authorized `channel:bot` and the bot is no moderator."""
        channel = self.create_partialuser(broadcaster_id, login)
        use_user_token = False

        async def send(text: str, reply_to: str | None) -> None:
            nonlocal use_user_token
            try:
                await channel.send_message(
                    message=text,
                    sender=self.settings.bot_id,
                    token_for=self.settings.bot_id if use_user_token else None,
                    reply_to_message_id=reply_to,
                )
            except twitchio.MessageRejectedError as error:
                raise SendRejected(error.code or "rejected", error.message or "") from None
            except twitchio.HTTPException as error:
                if error.status == 403 and not use_user_token:
                    use_user_token = True
                    logger.warning("%s: posting as a Chat Bot was refused (the broadcaster has not authorized "
                                   "channel:bot); posting with the bot's user token instead", login)
                    raise SendFailed(None, "retrying with the user token") from None
                if error.status == 429 or error.status >= 500:
                    raise SendFailed(error.status) from None
                raise SendRejected(f"http_{error.status}") from None
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as error:
                raise SendFailed(None, type(error).__name__) from None

        return send

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for brain in self.brains.values():
                try:
                    brain.tick()
                except Exception:
                    logger.exception("%s: join-in check failed", brain.channel)

    # ---- errors and shutdown --------------------------------------------------------------------

    async def event_command_error(self, payload: commands.CommandErrorPayload) -> None:
        if isinstance(payload.exception, commands.CommandNotFound):
            return  # another bot's command: not ours, not an error
        logger.error("command %s failed", payload.context.command, exc_info=payload.exception)

    async def close(self, **options) -> None:
        if self._ticker:
            self._ticker.cancel()
            self._ticker = None
        for brain in self.brains.values():
            await brain.send_queue.close()
            logger.info("%s: %s; posts dropped: %s", brain.channel,
                        ", ".join(f"{name} {count}" for name, count in sorted(brain.stats.items())) or "no chat",
                        dict(brain.send_queue.dropped) or "none")
        await super().close(**options)
