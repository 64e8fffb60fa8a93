"""What the bot does in one channel, independent of Twitch: the same logic runs in the terminal.

A `ChannelBrain` sees every chat message of its channel (`observe`) and every `!chat`
request (`request_chat`), and decides:

- what is human chat: not the bot's own messages, not other bots' (the import's list plus the
  user's), not commands; that chat is cleaned with the import's rules, kept as the model's
  recent context and handed to the collector;
- whether to answer a `!chat` (or a message that starts with the bot's name, `@bot ...`): a global and a per-viewer cooldown (silent: a request in a
  cooldown is simply not answered) and a bound on requests waiting for the model (more are
  dropped quietly); moderators and the broadcaster skip the per-viewer cooldown;
- when to join the conversation: after about N human messages and/or about T minutes since it
  last spoke (each threshold drawn again with jitter after every post), only while chat is
  active (at least `active_messages` human messages in the last `active_seconds`), never more
  often than once per `join_min_seconds`, and never ahead of `!chat` answers waiting to be sent.

Generation runs on the `ModelWorker` thread; posts go to the channel's `SendQueue`.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.collector import Collector
from bot.config import ChannelSettings
from bot.generation import ModelWorker
from bot.sendqueue import Post, SendQueue
from trainer.ingest.cleaning import DEFAULT_BOTS, clean_message

logger = logging.getLogger(__name__)

COMMAND = "!chat"


@dataclass(frozen=True)
class ChatEvent:
    """One chat message, as any platform delivers it."""

    channel: str  # the channel's login
    message_id: str
    user_id: str
    login: str
    text: str
    when: datetime | None = None  # when Twitch saw it (UTC); None: now
    moderator: bool = False  # a moderator or the broadcaster (from the message's badges)


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    COOLDOWN = "cooldown"
    USER_COOLDOWN = "user cooldown"
    QUEUE_FULL = "queue full"
    IGNORED = "ignored"


def addressed_prompt(text: str, bot_login: str) -> str | None:
    """What a viewer says to the bot by name (`@bot what do you think`, `bot, is this good`), or
    None when the message does not start with the bot's name."""
    if not bot_login:
        return None
    match = re.match(rf"@?{re.escape(bot_login)}\b[,:!?]?(?:\s+|$)(.*)", text.strip(), re.IGNORECASE | re.DOTALL)
    return match.group(1).strip() if match else None


def parse_chat_command(text: str) -> str | None:
    """The prompt of a `!chat` message ("" when bare), or None when `text` is not `!chat`."""
    stripped = text.strip()
    head, _, rest = stripped.partition(" ")
    if head.lower() != COMMAND:
        return None
    return rest.strip()


@dataclass
class _Remembered:
    message_id: str
    user_id: str
    text: str


class ChannelBrain:
    def __init__(
        self,
        channel: str,
        settings: ChannelSettings,
        worker: ModelWorker,
        send_queue: SendQueue,
        *,
        bot_id: str,
        bot_login: str = "",
        extra_bots: Iterable[str] = (),
        collector: Collector | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ):
        self.channel = channel
        self.settings = settings
        self.worker = worker
        self.send_queue = send_queue
        self.bot_id = str(bot_id)
        self.bot_login = bot_login.lower()
        self.bots = frozenset(DEFAULT_BOTS) | {b.lower() for b in extra_bots} | ({bot_login.lower()} if bot_login else set())
        self.collector = collector
        self.clock = clock
        self.rng = rng or random.Random()
        self.recent: deque[_Remembered] = deque(maxlen=max(1, settings.context_messages))
        # Deletions and clears purge files on a worker thread and edit `recent` from there.
        self._recent_lock = threading.Lock()
        self.pending = 0  # `!chat` requests accepted and not yet generated
        self.posting = True  # moderators switch the bot's posting off and on; collection goes on
        self.stats: Counter[str] = Counter()
        self._joining = False
        self._next_chat = 0.0
        self._user_next: dict[str, float] = {}
        self._activity: deque[float] = deque(maxlen=max(1, settings.active_messages))
        self._since_post = 0
        self._last_post = clock()
        self._last_join = float("-inf")
        self._join_after_messages = 0
        self._join_after_seconds = 0.0
        self._draw_join_thresholds()
        self._tasks: set[asyncio.Task] = set()

    @property
    def context(self) -> list[str]:
        with self._recent_lock:
            return [m.text for m in self.recent]

    # ---- incoming chat ------------------------------------------------------------------------

    def observe(self, event: ChatEvent) -> bool:
        """Take in one chat message; True when it was human chat (context, collected, counted)."""
        if event.user_id == self.bot_id:
            # Twitch echoes the bot's own posts, with its badges: that is how it learns it's a moderator.
            self.send_queue.set_moderator(event.moderator)
            return False
        if event.login.lower() in self.bots or event.text.lstrip().startswith("!"):
            return False
        cleaned = clean_message(event.text)
        if cleaned is None:
            return False
        if self.settings.answer_name:
            prompt = addressed_prompt(event.text, self.bot_login)
            if prompt is not None:  # spoken to by name: answered as `!chat <words>` is
                self.request_chat(event, prompt)
        self.stats["human"] += 1
        if self.collector is not None:
            try:
                self.collector.collect(self.channel, event.message_id, event.user_id, cleaned, event.when)
            except OSError as error:  # a full disk must not silence the bot; say so loudly
                self.stats["collect_failed"] += 1
                logger.error("%s: could not collect a message: %s", self.channel, error)
        with self._recent_lock:
            self.recent.append(_Remembered(event.message_id, event.user_id, cleaned))
        now = self.clock()
        self._activity.append(now)
        self._since_post += 1
        self.maybe_join(now)
        return True

    def request_chat(self, event: ChatEvent, prompt: str) -> Outcome:
        """A viewer's `!chat [prompt]`: answered (later, through the send queue) or quietly not."""
        if event.user_id == self.bot_id or event.login.lower() in self.bots or not self.posting:
            return self._count(Outcome.IGNORED)
        now = self.clock()
        if now < self._next_chat:
            return self._count(Outcome.COOLDOWN)
        if not event.moderator and now < self._user_next.get(event.user_id, 0.0):
            return self._count(Outcome.USER_COOLDOWN)
        if self.pending >= self.settings.queue_size:
            return self._count(Outcome.QUEUE_FULL)
        self._next_chat = now + self.settings.cooldown
        if len(self._user_next) > 10_000:
            self._user_next = {user: until for user, until in self._user_next.items() if until > now}
        self._user_next[event.user_id] = now + self.settings.user_cooldown
        self.pending += 1
        self._spawn(self._answer(event, prompt.strip(), now))
        return self._count(Outcome.ACCEPTED)

    def cooldown_left(self, event: ChatEvent) -> float:
        """Seconds until `event`'s viewer may be answered again (0: now)."""
        now = self.clock()
        left = self._next_chat - now
        if not event.moderator:
            left = max(left, self._user_next.get(event.user_id, 0.0) - now)
        return max(0.0, left)

    def forget_message(self, message_id: str) -> None:
        """A moderator deleted a message: out of the context and the collected chat (any thread)."""
        with self._recent_lock:
            self.recent = deque((m for m in self.recent if m.message_id != message_id), maxlen=self.recent.maxlen)
        if self.collector is not None:
            self.collector.forget_message(self.channel, message_id)

    def forget_user(self, user_id: str, when: str | None = None) -> None:
        """A moderator cleared a user's messages (ban or timeout) at `when` (Twitch's time, ISO
        8601 UTC; None: now); callable from any thread."""
        with self._recent_lock:
            self.recent = deque((m for m in self.recent if m.user_id != user_id), maxlen=self.recent.maxlen)
        if self.collector is not None:
            self.collector.forget_user(self.channel, user_id, when)

    def apply_settings(self, settings: ChannelSettings) -> None:
        """A moderator changed the channel's settings: in force from now on."""
        self.settings = settings
        with self._recent_lock:  # the window sizes follow the new settings
            self.recent = deque(self.recent, maxlen=max(1, settings.context_messages))
        self._activity = deque(self._activity, maxlen=max(1, settings.active_messages))
        self._draw_join_thresholds()

    # ---- joining in ---------------------------------------------------------------------------

    def tick(self) -> None:
        """Called about once a second: the time-based join-in."""
        self.maybe_join(self.clock())

    def is_active(self, now: float) -> bool:
        s = self.settings
        return len(self._activity) >= s.active_messages and now - self._activity[0] <= s.active_seconds

    def maybe_join(self, now: float) -> None:
        s = self.settings
        if not self.posting or self._joining or self.pending or (not s.join_messages and not s.join_minutes):
            return
        if now < self._next_chat or now - self._last_join < s.join_min_seconds or self.send_queue.pending:
            return
        if not self.is_active(now):
            return
        by_messages = bool(s.join_messages) and self._since_post >= self._join_after_messages
        by_time = bool(s.join_minutes) and now - self._last_post >= self._join_after_seconds
        if by_messages or by_time:
            self._joining = True
            self._last_join = now
            self._spawn(self._join(now))

    # ---- generation and posting -----------------------------------------------------------------

    async def _answer(self, event: ChatEvent, prompt: str, arrived: float) -> None:
        try:
            # The engine cleans the prompt (command characters, links, names) and keeps its end.
            if prompt:
                text = await self.worker.complete(prompt, self.context, allow_mention=event.login, channel=self.channel)
            else:
                text = await self.worker.message(self.context, channel=self.channel)
        finally:
            self.pending -= 1
        if text:
            self._post(Post(text, reply_to=event.message_id, origin="chat", created=arrived, allow_mention=event.login))
        else:
            self.stats["no_text"] += 1

    async def _join(self, started: float) -> None:
        try:
            text = await self.worker.message(self.context, channel=self.channel)
        finally:
            self._joining = False
        if text:
            self._post(Post(text, origin="join", created=started))
        else:
            self.stats["no_text"] += 1
            self._after_post()  # try again after another N messages / T minutes, not at once

    def _post(self, post: Post) -> None:
        if self.send_queue.submit(post):
            self.stats[f"posted_{post.origin}"] += 1
            self._after_post()
        else:
            self.stats["post_dropped"] += 1

    def _after_post(self) -> None:
        now = self.clock()
        self._since_post = 0
        self._last_post = now
        self._draw_join_thresholds()

    def _draw_join_thresholds(self) -> None:
        s = self.settings
        jitter = lambda: 1 + self.rng.uniform(-s.join_jitter, s.join_jitter)  # noqa: E731
        self._join_after_messages = max(1, round(s.join_messages * jitter()))
        self._join_after_seconds = max(1.0, s.join_minutes * 60 * jitter())

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s: a bot task failed", self.channel, exc_info=task.exception())

    async def idle(self) -> None:
        """Wait until no generation is running or waiting (for scripted runs and tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _count(self, outcome: Outcome) -> Outcome:
        self.stats[outcome.value] += 1
        return outcome
