"""`python -m bot local`: the bot in a chat room in your terminal. No Twitch account, no network.

You type as a viewer; `!chat <words>` asks the bot to complete your words, `!chat` alone asks
for a message of its own, anything else is chat it reads (and, now and then, joins in on).
`--replay LOG` plays other viewers' messages from a chat log (any format `prepare` reads) at
their real pace times `--speed`. It is the rehearsal of the bot on Twitch, with the same parts:
`ChannelBrain`, send queue and engine, the `LearningLoop` (moderators' commands, following a
model home, so a retrain or rollback is picked up while the room runs) and the `Collector`
(chat goes to data/collected/local/, ready for `python -m trainer retrain`), with the same
settings (STREAMCHAT_COOLDOWN, ...). `--mod` (or `/mod` in the room) makes you a moderator.

With no model yet it trains a tiny one on the bundled sample (`data/sample/`, a minute or so
with a progress bar) unless `--no-train` is given, in which case it says how to make one.
When stdin is not a terminal it runs scripted: each input line is a viewer message, and at the
end of the input it waits for the bot's last answers and exits, so tests and CI can drive it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import re
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from bot.brain import ChannelBrain, ChatEvent, Outcome, addressed_prompt, parse_chat_command
from bot.config import EXIT_MODEL, ChannelSettings, load_settings
from bot.sendqueue import Post, SendQueue
from trainer.errors import StreamchatError

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = Path("models/sample")
SAMPLE_DATA = REPO / "data" / "sample"
SAMPLE_PREPARED = Path("data/prepared/sample")
# Steps, not seconds: the demo's model (and the tests' model) is the same on a fast or a busy
# machine. 600 steps of the tiny preset: ~15 s on one quiet core, and its messages are made of
# the sample's own words (tests/test_demo_quality.py measures it).
SAMPLE_TRAIN_STEPS = 600
BOT_NAME = "streamchat"
CHANNEL = "local"
MAX_REPLAY_GAP = 10.0  # seconds; a long silence in the log is shortened to this


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "local",
        help="chat with the bot in the terminal (no Twitch account, no network)",
        description="A chat room in the terminal with the bot's real logic: type as a viewer, "
        "`!chat <words>` to have the bot complete them, `!chat` for a message of its own.",
    )
    parser.add_argument("--model", type=Path, default=None,
                        help=f"checkpoint or model home (default: STREAMCHAT_MODEL, else {DEFAULT_MODEL})")
    parser.add_argument("--replay", type=Path, default=None, metavar="LOG",
                        help="replay other viewers' messages from a chat log (any format `prepare` reads)")
    parser.add_argument("--speed", type=float, default=1.0, help="replay speed factor (default 1: real time)")
    parser.add_argument("--name", default="you", help="your viewer name in the room (default: you)")
    parser.add_argument("--mod", action="store_true",
                        help="be a moderator in the room (moderators' commands; `/mod` and `/unmod` switch it)")
    parser.add_argument("--no-collect", action="store_true",
                        help=f"don't collect the room's chat (default: to STREAMCHAT_COLLECT_DIR/{CHANNEL})")
    train = parser.add_mutually_exclusive_group()
    train.add_argument("--train-sample", action="store_true",
                       help="train the tiny sample model now, even if one exists")
    train.add_argument("--no-train", action="store_true",
                       help="don't train a sample model when there is none; say how to make one")
    parser.add_argument("--train-steps", type=int, default=SAMPLE_TRAIN_STEPS,
                        help=f"training steps for the sample model (default {SAMPLE_TRAIN_STEPS})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.learning import LearningLoop

    if args.speed <= 0:
        raise StreamchatError(f"--speed must be above 0 (got {args.speed})")
    if args.replay is not None and not args.replay.is_file():
        raise StreamchatError(f"--replay: no file at {args.replay}")
    settings = load_settings(twitch=False, model=False)
    model = choose_model(args, settings.model)
    if args.train_sample or (model == DEFAULT_MODEL and not _has_model(model) and not args.no_train):
        train_sample(model, steps=args.train_steps)
    elif not _has_model(model):
        raise StreamchatError(
            f"no model at {model}. Make one from your channel's chat logs:\n"
            "  python -m trainer prepare LOGS... --out data/prepared/mychannel\n"
            "  python -m trainer train --data data/prepared/mychannel --out models/mychannel\n"
            f"or try the bundled sample: python -m bot local --train-sample",
            exit_code=EXIT_MODEL,
        )
    learning = LearningLoop.from_environment(model, settings.collect_dir)
    collector = None
    if settings.collect and not args.no_collect:
        from bot.collector import Collector

        collector = Collector(settings.collect_dir)
    room = LocalRoom(learning.generator, settings.channel(CHANNEL), viewer=args.name, replay=args.replay,
                     speed=args.speed, interactive=sys.stdin.isatty(), learning=learning, collector=collector,
                     moderator=args.mod)
    try:
        asyncio.run(room.run())
    finally:
        if collector is not None:
            collector.close()
    return 0


def choose_model(args: argparse.Namespace, configured: Path | None) -> Path:
    """`--model`, else STREAMCHAT_MODEL when a model is there, else the sample model.

    A STREAMCHAT_MODEL with nothing there yet (`cp .env.example .env` names models/mychannel
    before it exists) is said and passed over: the room still opens on the sample."""
    if args.model is not None:
        return args.model
    if args.train_sample or configured is None:
        return DEFAULT_MODEL
    if _has_model(configured):
        return configured
    print(f"(STREAMCHAT_MODEL={configured} has no model yet; using the sample model {DEFAULT_MODEL})",
          file=sys.stderr)
    return DEFAULT_MODEL


def _has_model(model: Path) -> bool:
    return (model / "streamchat.json").is_file() or (model / "current").exists()


def train_sample(model: Path, steps: int = SAMPLE_TRAIN_STEPS) -> Path:
    """Prepare the bundled sample chat and train the tiny preset on it, with progress bars."""
    from trainer.ingest.prepare import prepare
    from trainer.model.train import train

    if not SAMPLE_DATA.is_dir() or not any(SAMPLE_DATA.iterdir()):
        raise StreamchatError(f"the bundled sample chat is missing ({SAMPLE_DATA}); restore it from the repository")
    print(f"No model yet: training a tiny one on the bundled sample chat ({SAMPLE_DATA}).", file=sys.stderr)
    print("Step 1/2: preparing the sample chat.", file=sys.stderr)
    prepare([SAMPLE_DATA], SAMPLE_PREPARED, progress=True)
    print(f"Step 2/2: training the tiny model ({steps} steps, about half a minute).", file=sys.stderr)
    path = train(SAMPLE_PREPARED, model, preset="tiny", max_steps=steps, progress=True)
    print(f"Saved the model to {path}. Train one on your own channel's chat for the real thing.", file=sys.stderr)
    return path


class LocalRoom:
    """One channel in the terminal: your lines and a replayed log in, the bot's posts out."""

    def __init__(self, generator, settings: ChannelSettings, *, viewer: str = "you", replay: Path | None = None,
                 speed: float = 1.0, interactive: bool = True, output=None, learning=None, collector=None,
                 moderator: bool = False):
        from bot.generation import ModelWorker

        self.worker = ModelWorker(generator)
        self.settings = settings
        self.viewer = viewer
        self.replay = replay
        self.speed = speed
        self.interactive = interactive
        self.out = output or sys.stdout
        self.learning = learning
        self.moderator = moderator
        self.queue = SendQueue(CHANNEL, self._show_post, settings, check=self.worker.check)
        self.brain = ChannelBrain(CHANNEL, settings, self.worker, self.queue, bot_id="0", bot_login=BOT_NAME,
                                  collector=collector)
        self.commands = LocalCommands(self, learning) if learning is not None else None
        self._viewer_ids: dict[str, str] = {}

    async def run(self) -> None:
        if self.learning is not None:  # moderators' state, and following a model home
            self.learning.announce = lambda channel, text: self.queue.submit(Post(text, origin="moderation"))
            self.learning.attach({CHANNEL: self.brain}, self.worker, self.brain.collector)
        self.queue.start()
        ticker = asyncio.get_running_loop().create_task(self._tick())
        if self.interactive:
            self._say(f"# streamchat local chat room. Type as '{self.viewer}'; `!chat <words>` or `!chat` to ask "
                      f"the bot (or start with its name: `{BOT_NAME} ...`); `/mod` to act as a moderator; "
                      "Ctrl-D to leave.")
        replay = asyncio.get_running_loop().create_task(self._replay()) if self.replay is not None else None
        try:
            await self._read_input()
            if replay is not None:
                if self.interactive:
                    replay.cancel()  # Ctrl-D leaves the room, replay or not
                await asyncio.gather(replay, return_exceptions=self.interactive)
            await self._drain()
        finally:
            if replay is not None:
                replay.cancel()
            ticker.cancel()
            await self.queue.close()
            if self.learning is not None:
                await self.learning.close()
            self.worker.close()

    # ---- input --------------------------------------------------------------------------------

    async def _read_input(self) -> None:
        # A daemon thread, not the loop's executor: a thread blocked in readline() must not keep
        # the process alive after Ctrl-C.
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str] = asyncio.Queue()

        def read() -> None:
            for line in sys.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, "")

        threading.Thread(target=read, name="stdin", daemon=True).start()
        while True:
            line = await lines.get()
            if not line:
                return
            text = line.rstrip("\n")
            if not text.strip():
                continue
            if text.strip().lower() in ("/mod", "/unmod"):
                self.moderator = text.strip().lower() == "/mod"
                self._note(f"you are {'now' if self.moderator else 'no longer'} a moderator")
                continue
            if not self.interactive:
                self._say(f"{self.viewer}: {text}")
            self.hear(self.viewer, text, moderator=self.moderator)

    async def _replay(self) -> None:
        from trainer.ingest.formats import LogProblem, open_log

        try:
            source = open_log(self.replay)
        except LogProblem as error:
            raise StreamchatError(f"--replay {self.replay}: {error}") from None
        previous: float | None = None
        for message in source.messages:
            if message.is_system:
                continue
            moment = _seconds(message)
            gap = 1.0 if moment is None or previous is None else min(max(moment - previous, 0.0), MAX_REPLAY_GAP)
            previous = moment if moment is not None else previous
            await asyncio.sleep(gap / self.speed)
            user = (message.user or "viewer").lower()
            text = unwrap_action(message.text)
            self._say(f"{user}: {text}")
            self.hear(user, text)

    def user_id(self, user: str) -> str:
        return self._viewer_ids.setdefault(user.lower(), str(len(self._viewer_ids) + 1))

    def hear(self, user: str, text: str, *, moderator: bool = False) -> Outcome | None:
        """One viewer message into the room (what Twitch's websocket does on the real channel)."""
        event = ChatEvent(CHANNEL, str(uuid.uuid4()), self.user_id(user), user, text, datetime.now(timezone.utc),
                          moderator=moderator)
        if self.commands is not None and self.commands.handle(event):
            return None
        prompt = parse_chat_command(text)
        if prompt is None:
            addressed = self.brain.settings.answer_name and addressed_prompt(text, BOT_NAME) is not None
            answered = self.brain.stats[Outcome.ACCEPTED.value]
            left = self.brain.cooldown_left(event)
            self.brain.observe(event)
            if addressed and self.brain.stats[Outcome.ACCEPTED.value] == answered:
                self._quiet(left)
            return None
        left = self.brain.cooldown_left(event)
        outcome = self.brain.request_chat(event, prompt)
        if outcome in (Outcome.COOLDOWN, Outcome.USER_COOLDOWN):
            self._quiet(left)
        elif outcome is not Outcome.ACCEPTED:
            self._note(f"{BOT_NAME} stays quiet: {outcome.value}")
        return outcome

    def _quiet(self, left: float) -> None:
        """On Twitch a request in a cooldown gets silence; here the room says why."""
        if left > 0:
            self._note(f"{BOT_NAME} stays quiet: cooldown {math.ceil(left)} s")

    # ---- output -------------------------------------------------------------------------------

    async def _show_post(self, text: str, reply_to: str | None) -> None:
        self._say(f"{BOT_NAME}: {text}")

    def _note(self, line: str) -> None:
        print(f"({line})", file=sys.stderr, flush=True)

    def _say(self, line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"[{stamp}] {line}" if self.interactive else line, file=self.out, flush=True)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.brain.tick()

    async def _drain(self) -> None:
        """Wait for answers still being generated or queued (the end of a scripted run)."""
        if self.commands is not None and self.commands.pending:
            await asyncio.gather(*self.commands.pending, return_exceptions=True)
        await self.brain.idle()
        while self.queue.pending:
            await asyncio.sleep(0.05)


def _seconds(message) -> float | None:
    if message.offset is not None:
        return float(message.offset)
    if message.ts:
        try:
            return datetime.fromisoformat(message.ts.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def unwrap_action(text: str) -> str:
    """A `/me` line as chat shows it: the text without IRC's ACTION wrapper."""
    match = re.fullmatch(r"\x01ACTION (.*?)\x01?", text, re.DOTALL)
    return match.group(1) if match else text


class LocalCommands:
    """The moderators' and viewers' commands of bot/commands.py, for the terminal: the same
    names (STREAMCHAT_COMMAND_<KEY>) and the same `LearningLoop` behind them. As on Twitch, a
    viewer's use of a moderator command is ignored (the room says so)."""

    VIEWERS = ("optout", "optin")

    def __init__(self, room: LocalRoom, learning):
        from bot.commands import command_names

        self.room = room
        self.learning = learning
        self.keys = {name: key for key, name in command_names().items()}
        self.pending: set[asyncio.Task] = set()  # commands still working (the room waits for them)

    def handle(self, event: ChatEvent) -> bool:
        """True when `event` was one of the commands (answered in the room)."""
        head, _, args = event.text.strip().partition(" ")
        key = self.keys.get(head[1:].lower()) if head.startswith("!") else None
        if key is None:
            return False
        if key not in self.VIEWERS and not event.moderator:
            self.room._note(f"!{head[1:]} is for moderators; type /mod to act as one")
            return True
        self._run(key, args.strip(), event)
        return True

    def _run(self, key: str, args: str, event: ChatEvent) -> None:
        """Run the command now (a setting changes before the next line is read); one that waits
        for the model or the disk answers when it is done."""
        from bot.commands import ModeratorCommands
        from bot.settings_store import TUNABLES

        learning, channel = self.learning, CHANNEL
        work = {
            "on": lambda: learning.settings.set_posting(channel, True),
            "off": lambda: learning.settings.set_posting(channel, False),
            "status": lambda: learning.status(channel),
            "set": lambda: learning.settings.change(
                channel, args, f"usage: !{self._name('set')} [{'|'.join([*TUNABLES, 'optinonly'])} <value>]"),
            "reload": learning.reload,
            "retrain": lambda: learning.retrain(channel),
            "rollback": learning.rollback,
            "block": lambda: learning.privacy.block(channel, args),
            "unblock": lambda: learning.privacy.unblock(channel, args),
            "forget": lambda: learning.privacy.forget(channel, self.room.user_id(args.lstrip("@"))),
            "optout": lambda: learning.privacy.opt_out(event.user_id),
            "optin": lambda: learning.privacy.opt_in(event.user_id),
        }[key]
        if key in ("block", "unblock", "forget") and not args:
            self._reply(f"usage: !{self._name(key)} {'USER' if key == 'forget' else 'WORD'}", event)
            return
        result = work()
        if not asyncio.iscoroutine(result):
            self._reply(result, event)
            return

        async def answer() -> None:
            self._reply(await ModeratorCommands.guarded(result), event)

        task = asyncio.get_running_loop().create_task(answer())
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    def _reply(self, text: str | None, event: ChatEvent) -> None:
        if text:
            self.room.queue.submit(Post(text, reply_to=event.message_id, origin="moderation"))

    def _name(self, key: str) -> str:
        return next(name for name, k in self.keys.items() if k == key)
