"""`python -m bot local`: the bot in a chat room in your terminal. No Twitch account, no network.

You type as a viewer; `!chat <words>` asks the bot to complete your words, `!chat` alone asks
for a message of its own, anything else is chat it reads (and, now and then, joins in on).
`--replay LOG` plays other viewers' messages from a chat log (any format `prepare` reads) at
their real pace times `--speed`. It is the same `ChannelBrain`, send queue and engine as on
Twitch, with the same settings (STREAMCHAT_COOLDOWN, STREAMCHAT_JOIN_MESSAGES, ...).

With no model yet it trains a tiny one on the bundled sample (`data/sample/`, a minute or so
with a progress bar) unless `--no-train` is given, in which case it says how to make one.
When stdin is not a terminal it runs scripted: each input line is a viewer message, and at the
end of the input it waits for the bot's last answers and exits, so tests and CI can drive it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from bot.brain import ChannelBrain, ChatEvent, Outcome, parse_chat_command
from bot.config import EXIT_MODEL, ChannelSettings, load_settings
from bot.sendqueue import SendQueue
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
    train = parser.add_mutually_exclusive_group()
    train.add_argument("--train-sample", action="store_true",
                       help="train the tiny sample model now, even if one exists")
    train.add_argument("--no-train", action="store_true",
                       help="don't train a sample model when there is none; say how to make one")
    parser.add_argument("--train-steps", type=int, default=SAMPLE_TRAIN_STEPS,
                        help=f"training steps for the sample model (default {SAMPLE_TRAIN_STEPS})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.generation import load_generator

    if args.speed <= 0:
        raise StreamchatError(f"--speed must be above 0 (got {args.speed})")
    if args.replay is not None and not args.replay.is_file():
        raise StreamchatError(f"--replay: no file at {args.replay}")
    settings = load_settings(twitch=False, model=False)
    if args.train_sample:  # the sample model goes to its own place unless --model says otherwise
        model = args.model or DEFAULT_MODEL
        explicit = False
    else:
        model = args.model or settings.model or DEFAULT_MODEL
        explicit = args.model is not None or settings.model is not None
    if args.train_sample or (not _has_model(model) and not explicit and not args.no_train):
        train_sample(model, steps=args.train_steps)
    elif not _has_model(model):
        raise StreamchatError(
            f"no model at {model}. Make one from your channel's chat logs:\n"
            "  python -m trainer prepare LOGS... --out data/prepared/mychannel\n"
            "  python -m trainer train --data data/prepared/mychannel --out models/mychannel\n"
            f"or try the bundled sample: python -m bot local --train-sample",
            exit_code=EXIT_MODEL,
        )
    generator = load_generator(model)
    room = LocalRoom(generator, settings.behaviour, viewer=args.name, replay=args.replay, speed=args.speed,
                     interactive=sys.stdin.isatty())
    asyncio.run(room.run())
    return 0


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
                 speed: float = 1.0, interactive: bool = True, output=None):
        from bot.generation import ModelWorker

        self.worker = ModelWorker(generator)
        self.settings = settings
        self.viewer = viewer
        self.replay = replay
        self.speed = speed
        self.interactive = interactive
        self.out = output or sys.stdout
        self.queue = SendQueue(CHANNEL, self._show_post, settings, check=self.worker.check)
        self.brain = ChannelBrain(CHANNEL, settings, self.worker, self.queue, bot_id="0", bot_login=BOT_NAME)
        self._viewer_ids: dict[str, str] = {}

    async def run(self) -> None:
        self.queue.start()
        ticker = asyncio.get_running_loop().create_task(self._tick())
        if self.interactive:
            self._say(f"# streamchat local chat room. Type as '{self.viewer}'; `!chat <words>` or `!chat` to ask "
                      "the bot; Ctrl-D to leave.")
        try:
            tasks = [self._read_input()]
            if self.replay is not None:
                tasks.append(self._replay())
            await asyncio.gather(*tasks)
            await self._drain()
        finally:
            ticker.cancel()
            await self.queue.close()
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
            if not self.interactive:
                self._say(f"{self.viewer}: {text}")
            self.hear(self.viewer, text)

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
            self._say(f"{user}: {message.text}")
            self.hear(user, message.text)

    def hear(self, user: str, text: str) -> Outcome | None:
        """One viewer message into the room (what Twitch's websocket does on the real channel)."""
        user_id = self._viewer_ids.setdefault(user, str(len(self._viewer_ids) + 1))
        event = ChatEvent(CHANNEL, str(uuid.uuid4()), user_id, user, text, datetime.now(timezone.utc))
        prompt = parse_chat_command(text)
        if prompt is None:
            self.brain.observe(event)
            return None
        outcome = self.brain.request_chat(event, prompt)
        if outcome is not Outcome.ACCEPTED:
            print(f"({BOT_NAME} stays quiet: {outcome.value})", file=sys.stderr)
        return outcome

    # ---- output -------------------------------------------------------------------------------

    async def _show_post(self, text: str, reply_to: str | None) -> None:
        self._say(f"{BOT_NAME}: {text}")

    def _say(self, line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"[{stamp}] {line}" if self.interactive else line, file=self.out, flush=True)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.brain.tick()

    async def _drain(self) -> None:
        """Wait for answers still being generated or queued (the end of a scripted run)."""
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
