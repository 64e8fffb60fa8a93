"""One send queue per channel: everything the bot posts goes through it, within Twitch's rules.

Twitch locks an account out for 30 minutes when it posts more than 20 messages in 30 s in a
channel where it is not a moderator (100 where it is), drops a message identical to the
previous one within 30 s, and refuses messages over 500 characters. TwitchIO has no outgoing
rate limiter, so this queue keeps those limits itself:

- a sliding window of send attempts (rate_limit, or rate_limit_moderator once Twitch shows the
  bot a moderator badge), and at least `send_interval` seconds between posts as non-moderator.
  Twitch counts a post when it arrives, which this side never sees: each attempt is timed when
  Twitch's answer came back (never before it arrived), and the window is kept WINDOW_MARGIN
  longer than Twitch's, so network jitter can't squeeze one post too many into its window;
- the same text never twice within `duplicate_window`;
- every text made safe for Twitch by `twitch_safe_text` and passed by the engine's filters;
- a post that waited longer than `max_wait` is dropped (an answer two minutes late is noise).

Rejections never stop the queue: `msg_duplicate` and other drops are logged and skipped, a 429
pauses the queue and retries the post once, a 5xx or network error retries it once after a
short pause.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.config import ChannelSettings
from trainer.text import TWITCH_MESSAGE_CHARS, cut_at_word, strip_command_prefix

logger = logging.getLogger(__name__)

WINDOW_MARGIN = 0.10  # the window kept is this fraction longer than Twitch's (a lockout lasts 30 minutes)


class SendRejected(Exception):
    """Twitch refused this message for good (`msg_duplicate`, a 4xx); don't retry it."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


class SendFailed(Exception):
    """The send failed for now (429, 5xx, network); retrying later may work."""

    def __init__(self, status: int | None, detail: str = ""):
        super().__init__(f"{status or 'network error'}: {detail}")
        self.status = status


# async send(text, reply_to) -> None; raises SendRejected or SendFailed.
Transport = Callable[[str, str | None], Awaitable[None]]


def twitch_safe_text(text: str) -> str | None:
    """`text` as one clean line Twitch posts as it is, or None when nothing postable is left.

    Removes control, bidi and invisible characters, collapses whitespace, strips the command
    prefixes (`trainer.text.COMMAND_PREFIXES`) from the start, and cuts to Twitch's 500
    characters at a word boundary.
    """
    return cut_at_word(strip_command_prefix(text), TWITCH_MESSAGE_CHARS) or None


@dataclass
class Post:
    text: str
    reply_to: str | None = None  # the message this answers (a Twitch reply)
    origin: str = "chat"  # "chat" (a `!chat` answer) or "join" (joining the conversation)
    allow_mention: str | None = None  # the one name the text may @mention (the viewer answered)
    created: float = field(default_factory=time.monotonic)
    retries: int = 0


class SendQueue:
    def __init__(
        self,
        channel: str,
        transport: Transport,
        settings: ChannelSettings,
        *,
        check: Callable[[str, str | None], str | None] | None = None,
        capacity: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ):
        """`check(text, allow_mention)` is the engine's filter chain: the text to post, or None."""
        self.channel = channel
        self.transport = transport
        self.settings = settings
        self.check = check
        self.capacity = capacity
        self.clock = clock
        self.moderator = False  # set from the badges on the bot's own echoed messages
        self._queue: deque[Post] = deque()
        self._wakeup = asyncio.Event()
        self._attempts: deque[float] = deque()  # monotonic times of send attempts in the window
        self._recent: deque[tuple[float, str]] = deque()  # (time, text) of posts that went out
        self._paused_until = 0.0
        self._task: asyncio.Task | None = None
        self.sent: deque[tuple[float, Post]] = deque(maxlen=1000)  # (time sent, post): the latest, for figures
        self.dropped: Counter[str] = Counter()
        self.on_sent: list[Callable[[Post, float], None]] = []  # hooks: called after each post went out

    # ---- producer side ------------------------------------------------------------------------

    def submit(self, post: Post) -> bool:
        """Queue a post; False (and logged at debug) when it is dropped before queueing."""
        text = twitch_safe_text(post.text)
        if text is not None and self.check is not None:
            text = self.check(text, post.allow_mention)
            text = twitch_safe_text(text) if text is not None else None
        if text is None:
            return self._drop("unsafe", post)
        post.text = text
        if len(self._queue) >= self.capacity:
            return self._drop("queue full", post)
        self._queue.append(post)
        self._wakeup.set()
        return True

    def set_moderator(self, moderator: bool) -> None:
        if moderator != self.moderator:
            logger.info("%s: the bot is %s; sending up to %d messages per %gs", self.channel,
                        "a moderator" if moderator else "not a moderator",
                        self._limit_for(moderator), self.settings.rate_window)
        self.moderator = moderator

    # ---- the worker ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name=f"send-queue:{self.channel}")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def run(self) -> None:
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            post = self._queue[0]
            await self._wait_for_slot()
            self._queue.popleft()
            try:
                await self._send(post)
            except asyncio.CancelledError:
                raise
            except Exception:  # the queue must outlive any surprise
                logger.exception("%s: unexpected error while posting; dropped the message", self.channel)
                self.dropped["error"] += 1

    async def _send(self, post: Post) -> None:
        now = self.clock()
        if now - post.created > self.settings.max_wait:
            self._drop("stale", post)
            return
        self._forget_old(now)
        if any(text == post.text for _, text in self._recent):
            self._drop("duplicate", post)
            return
        try:
            await self._transmit(post)
        except SendRejected as error:
            logger.warning("%s: Twitch dropped a message (%s)", self.channel, error.code)
            self.dropped[error.code] += 1
            if error.code == "msg_duplicate":
                self._recent.append((now, post.text))
        except SendFailed as error:
            if error.status == 429:
                # Over the limit after all (another client on the account?): pause for a window's share.
                pause = max(self.settings.rate_window / 6, self.settings.send_interval)
                self._paused_until = self.clock() + pause
                logger.warning("%s: Twitch answered 429 (too many messages); pausing posts for %.1fs", self.channel, pause)
            else:
                self._paused_until = self.clock() + max(min(2.0, self.settings.rate_window / 10), self.settings.send_interval)
                logger.warning("%s: posting failed (%s); will retry", self.channel, error)
            if post.retries < 1:
                post.retries += 1
                self._queue.appendleft(post)
            else:
                self.dropped["failed"] += 1
        else:
            sent_at = self.clock()
            self._recent.append((sent_at, post.text))
            self.sent.append((sent_at, post))
            for hook in self.on_sent:
                hook(post, sent_at)

    async def _transmit(self, post: Post) -> None:
        """Hand a post to the transport, counting the attempt at the moment Twitch answered."""
        self._attempts.append(self.clock())
        try:
            await self.transport(post.text, post.reply_to)
        finally:
            self._attempts[-1] = self.clock()  # Twitch had it by then at the latest

    async def _wait_for_slot(self) -> None:
        """Sleep until a post may go out: pauses, the spacing, and the window's budget allow it."""
        while True:
            now = self.clock()
            self._forget_old(now)
            waits = [self._paused_until - now]
            interval = self.settings.send_interval if not self.moderator else min(self.settings.send_interval, 0.3)
            if self._attempts:
                waits.append(self._attempts[-1] + interval - now)
            if len(self._attempts) >= self._limit_for(self.moderator):
                waits.append(self._attempts[0] + self._window - now)
            wait = max(waits)
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    def _limit_for(self, moderator: bool) -> int:
        return self.settings.rate_limit_moderator if moderator else self.settings.rate_limit

    @property
    def _window(self) -> float:
        return self.settings.rate_window * (1 + WINDOW_MARGIN)

    def _forget_old(self, now: float) -> None:
        while self._attempts and now - self._attempts[0] >= self._window:
            self._attempts.popleft()
        while self._recent and now - self._recent[0][0] >= self.settings.duplicate_window:
            self._recent.popleft()

    def _drop(self, reason: str, post: Post) -> bool:
        self.dropped[reason] += 1
        logger.debug("%s: dropped a %s post (%s)", self.channel, post.origin, reason)
        return False
