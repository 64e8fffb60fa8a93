"""End to end: the real bot with the learning loop against the fake Twitch — moderators' commands,
settings across restarts, opt-outs, live reload, and collect → retrain → promotion → new replies."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from fake_twitch import FakeTwitch, bot_environment
from test_loop_retrain import make_collected, sample_texts
from trainer.corpus import privacy
from trainer.loop.home import ModelHome
from trainer.corpus.records import read_records

pytestmark = pytest.mark.slow

CHANNEL = "streamer"
MOD = ["moderator"]
FAST = {"STREAMCHAT_RATE_LIMIT": "1000"}  # many short replies in a few seconds; Twitch's limit is tested elsewhere


class LoopBot:
    """The bot as `python -m bot run` builds it (learning loop + moderator commands), in this loop."""

    def __init__(self, env: dict[str, str]):
        from bot.config import load_settings

        self.env = env
        self.settings = load_settings(env, dotenv=None)
        self.bot = None
        self.loop = None
        self.task: asyncio.Task | None = None

    async def __aenter__(self):
        from bot.cli import run_bot
        from bot.commands import ModeratorCommands, command_names
        from bot.learning import LearningLoop

        self.loop = await asyncio.to_thread(
            LearningLoop.from_environment, self.settings.model, self.settings.collect_dir, self.env)
        self.loop.reloader.poll_seconds = 0.2
        ready = asyncio.Event()

        def on_ready(bot) -> None:
            self.bot = bot
            ready.set()

        component = ModeratorCommands.factory(self.loop, command_names(self.env))
        self.task = asyncio.get_running_loop().create_task(
            run_bot(self.settings, self.loop.generator, components=[component], on_ready=on_ready))
        waiter = asyncio.ensure_future(ready.wait())
        done, _ = await asyncio.wait({waiter, self.task}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if self.task in done:
            waiter.cancel()
            self.task.result()
            raise RuntimeError("the bot stopped during start-up")
        assert waiter in done, "the bot did not start"
        return self

    async def __aexit__(self, *_: Any) -> None:
        if self.bot is not None:
            await self.bot.close()
        if self.task is not None:
            await asyncio.wait_for(self.task, 20)

    @property
    def brain(self):
        return self.bot.brains[CHANNEL]


async def settle(bot: LoopBot, seconds: float = 0.4) -> None:
    await bot.brain.idle()
    deadline = time.monotonic() + 10
    while bot.brain.send_queue.pending and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(seconds)


async def ask(fake: FakeTwitch, bot: LoopBot, user: str, text: str, badges=(), *, wait: float = 10) -> str | None:
    """Say `text`; return the bot's reply to it, or None when none came within `wait` seconds."""
    message_id = await fake.chat(CHANNEL, user, text, badges=badges)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        replies = [s.text for s in fake.accepted() if s.reply_to == message_id]
        if replies:
            return replies[-1]
        await asyncio.sleep(0.05)
    return None


async def silent(fake: FakeTwitch, bot: LoopBot, user: str, text: str, badges=()) -> bool:
    """Say `text`; True when the bot did not answer it (within a second and a half)."""
    return await ask(fake, bot, user, text, badges, wait=1.5) is None


def collected(root: Path) -> list:
    return [r for p in privacy.collected_files(root / "collected" / CHANNEL) for r in read_records(p)]


def test_moderator_commands_for_moderators_only_and_settings_survive_a_restart(tmp_path, tiny_checkpoint):
    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            env = bot_environment(fake, tmp_path, model=str(tiny_checkpoint), **FAST)
            async with LoopBot(env) as bot:
                # A viewer's moderator commands are ignored without a word.
                for text in ("!chatoff", "!chatset cooldown 9", "!chatstatus", "!chatblock pawsHi", "!chatretrain"):
                    assert await silent(fake, bot, "viewer", text)
                assert bot.brain.posting and bot.brain.settings.cooldown == 0
                assert not (tmp_path / "collected" / CHANNEL / ".settings.json").exists()

                assert await ask(fake, bot, "mod", "!chatset cooldown 7", MOD) == "cooldown set to 7"
                assert await ask(fake, bot, CHANNEL, "!chatset temperature 0.5") == "temperature set to 0.5"
                assert await ask(fake, bot, "mod", "!chatset interval 15", MOD) == "interval set to 15"
                assert bot.brain.settings.cooldown == 7 and bot.brain.settings.join_minutes == 15
                assert bot.bot.worker.sampling[CHANNEL]["temperature"] == 0.5
                assert (await ask(fake, bot, "mod", "!chatset bogus 1", MOD)).startswith("no setting 'bogus'; usage: !chatset")
                assert (await ask(fake, bot, "mod", "!chatset cooldown", MOD)).startswith("usage: !chatset")
                assert "must be a number" in await ask(fake, bot, "mod", "!chatset temperature hot", MOD)
                shown = await ask(fake, bot, "mod", "!chatset", MOD)
                assert "cooldown 7s" in shown and "temperature 0.5" in shown

                assert await ask(fake, bot, "mod", "!chatoff", MOD) == "posting off (still collecting chat)"
                before = len(collected(tmp_path))
                assert await silent(fake, bot, "viewer", "!chat say something")
                await fake.chat(CHANNEL, "viewer", "this still gets collected")
                await settle(bot)
                assert len(collected(tmp_path)) == before + 1

                status = await ask(fake, bot, "mod", "!chatstatus", MOD)
                assert status.startswith("model ") and "collected today 1, total 1" in status
                assert "posting off" in status and "cooldown 7s" in status

                assert await ask(fake, bot, "mod", "!chatblock zebraword", MOD) == "blocked: never said, never learned"
                assert bot.loop.generator.filters.banned_word_in("the zebraword here") is not None
                assert "zebraword" in privacy.PolicyStore(tmp_path / "collected" / CHANNEL).load().blocked_words
                await fake.chat(CHANNEL, "viewer", "a zebraword message is not collected")
                await settle(bot)
                assert len(collected(tmp_path)) == before + 1
                assert (await ask(fake, bot, "mod", "!chatblock", MOD)).startswith("usage:")
                assert await ask(fake, bot, "mod", "!chatunblock zebraword", MOD) == "unblocked"
                assert bot.loop.generator.filters.banned_word_in("the zebraword here") is None
                # Blocked again; the same reply within 30 s is not posted twice (Twitch's duplicate rule).
                assert await silent(fake, bot, "mod", "!chatblock zebraword", MOD)
                assert "zebraword" in privacy.PolicyStore(tmp_path / "collected" / CHANNEL).load().blocked_words

            # A restart: the moderators' settings and the blocked word are still in force.
            async with LoopBot(env) as bot:
                assert bot.brain.settings.cooldown == 7 and bot.brain.settings.join_minutes == 15
                assert bot.bot.worker.sampling[CHANNEL]["temperature"] == 0.5
                assert not bot.brain.posting
                assert bot.loop.generator.filters.banned_word_in("zebraword") is not None
                assert await ask(fake, bot, "mod", "!chaton", MOD) == "posting on"
                assert await ask(fake, bot, "viewer", "!chat hello") is not None

    asyncio.run(scenario())


def test_configurable_names(tmp_path, tiny_checkpoint):
    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            env = bot_environment(fake, tmp_path, model=str(tiny_checkpoint), STREAMCHAT_COMMAND_STATUS="botstatus", **FAST)
            async with LoopBot(env) as bot:
                assert await silent(fake, bot, "mod", "!chatstatus", MOD)
                assert (await ask(fake, bot, "mod", "!botstatus", MOD)).startswith("model ")

    asyncio.run(scenario())


def test_opt_out_forget_and_opt_in_from_chat(tmp_path, tiny_checkpoint):
    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            env = bot_environment(fake, tmp_path, model=str(tiny_checkpoint), **FAST)
            async with LoopBot(env) as bot:
                for user in ("alice", "bob", "carol"):
                    await fake.chat(CHANNEL, user, f"{user} says hello to chat")
                # A moderator deletes one of dave's messages; erin is banned (her messages cleared).
                deleted = await fake.chat(CHANNEL, "dave", "dave says something deletable")
                await fake.chat(CHANNEL, "erin", "erin says something bannable")
                await settle(bot)
                await fake.delete_message(CHANNEL, "dave", deleted)
                await fake.clear_user(CHANNEL, "erin")
                await fake.wait_until(lambda: len(collected(tmp_path)) == 3, 10, "the purges")
                reply = await ask(fake, bot, "alice", "!chatoptout")
                assert reply == "ok, I won't learn from your messages (1 removed)"
                assert await silent(fake, bot, "viewer", "!chatforget bob")  # viewers can't
                assert (await ask(fake, bot, "mod", "!chatforget @bob", MOD)).startswith("forgotten")
                assert (await ask(fake, bot, "mod", "!chatforget", MOD)).startswith("usage:")
                assert await ask(fake, bot, "mod", "!chatforget nosuchuser", MOD) == "no such Twitch user"
                for user in ("alice", "bob", "carol"):
                    await fake.chat(CHANNEL, user, f"{user} talks again")
                await settle(bot)
                assert [r.text for r in collected(tmp_path)] == ["carol says hello to chat", "carol talks again"]
                # alice changes her mind; bob stays forgotten.
                assert await ask(fake, bot, "alice", "!chatoptin") == "ok, I may learn from your messages again"
                await fake.chat(CHANNEL, "alice", "alice is back")
                await settle(bot)
                assert collected(tmp_path)[-1].text == "alice is back"
                # Opt-in-only mode: only viewers who opted in are collected.
                assert (await ask(fake, bot, "mod", "!chatset optinonly on", MOD)).startswith("optinonly on")
                await fake.chat(CHANNEL, "carol", "carol did not opt in")
                await fake.chat(CHANNEL, "alice", "alice did")
                await settle(bot)
                assert collected(tmp_path)[-1].text == "alice did"
                assert "carol did not opt in" not in [r.text for r in collected(tmp_path)]
        # What the next retrain may learn from (the corpus builder's view of the collection).
        channel_dir = tmp_path / "collected" / CHANNEL
        assert [r.text for r in privacy.learnable_records(channel_dir)] == ["alice is back", "alice did"]
        privacy.set_opt_in_only(channel_dir, False)
        assert [r.text for r in privacy.learnable_records(channel_dir)] == [
            "carol says hello to chat", "carol talks again", "alice is back", "alice did"]

    asyncio.run(scenario())


def test_rollback_reload_and_a_broken_version(tmp_path, tiny_checkpoint):
    home = ModelHome(tmp_path / "models" / CHANNEL)
    first = home.add_version(tiny_checkpoint, move=False)
    home.promote(first)
    second = home.add_version(tiny_checkpoint, move=False)
    home.promote(second)

    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            env = bot_environment(fake, tmp_path, model=str(home.path), **FAST)
            async with LoopBot(env) as bot:
                assert bot.loop.reloader.version == second
                assert await ask(fake, bot, "mod", "!chatreload", MOD) == f"already on model {second}"
                # Viewers keep asking while the model is swapped: every one of them is answered.
                rollback = await fake.chat(CHANNEL, "mod", "!chatrollback", badges=MOD)
                asks = [await fake.chat(CHANNEL, f"viewer{i}", f"!chat during the swap number {i}") for i in range(4)]
                answered = lambda: {s.reply_to for s in fake.accepted()}  # noqa: E731
                await fake.wait_until(lambda: {rollback, *asks} <= answered(), 30, "every answer")
                reply = next(s.text for s in fake.accepted() if s.reply_to == rollback)
                assert reply == f"rolled back to {first}; now on model {first} (was {second})"
                assert home.current_version() == first and bot.bot.worker.generator.model_dir.name == first
                assert (await ask(fake, bot, "mod", "!chatrollback", MOD)).startswith("no rollback")
                # A version that can't load: reported, the old engine kept, the bot keeps answering.
                broken = home.version_dir(home.add_version(tiny_checkpoint, move=False))
                (broken / "model.safetensors").write_bytes(b"not weights")
                home.set_current(broken.name)
                deadline = time.monotonic() + 20
                while bot.loop.reloader.last_error is None:
                    assert time.monotonic() < deadline, "the watcher never tried the broken version"
                    await asyncio.sleep(0.1)
                assert bot.loop.reloader.version == first
                await fake.wait_until(lambda: any(s.text == f"model {broken.name} failed to load; still on {first}"
                                                  for s in fake.accepted()), 10, "the failure report")
                assert await ask(fake, bot, "viewer", "!chat still here") is not None
                assert "last reload failed" in await ask(fake, bot, "mod", "!chatstatus", MOD)

    asyncio.run(scenario())


def test_collect_retrain_promote_and_reply_from_the_new_version(tmp_path, tiny_checkpoint):
    """Chat is collected, a moderator starts a retrain from chat, it is promoted, and the running
    bot answers from the new version without a restart."""
    home = ModelHome(tmp_path / "models" / CHANNEL)
    home.promote(home.add_version(tiny_checkpoint, move=False))
    old = home.current_version()
    texts = sample_texts(tiny_checkpoint)
    # Yesterday's collection, as an earlier run of the bot left it ...
    history = make_collected(tmp_path / "history", texts, n=700)
    channel_dir = tmp_path / "collected" / CHANNEL
    channel_dir.mkdir(parents=True)
    (history / "2026-11-27.jsonl").rename(channel_dir / "2026-11-27.jsonl")

    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            env = bot_environment(
                fake, tmp_path, model=str(home.path),
                # a tiny, quick retrain that is promoted whatever its figures (test_loop_retrain covers the decision)
                STREAMCHAT_RETRAIN_ARGS="--max-steps 20 --samples 0 --margin 10", **FAST,
            )
            async with LoopBot(env) as bot:
                # ... and today's chat, collected live.
                for i, text in enumerate(texts[700:1000]):
                    await fake.chat(CHANNEL, f"viewer{i % 25}", text)
                await settle(bot)
                assert len(collected(tmp_path)) > 600
                assert await silent(fake, bot, "viewer", "!chatretrain")
                assert not home.status_path.exists()
                assert await ask(fake, bot, "mod", "!chatretrain", MOD) == "retrain started in the background; see status"
                assert (await ask(fake, bot, "mod", "!chatretrain", MOD)).startswith("a retrain is already running")
                assert "retraining" in await ask(fake, bot, "mod", "!chatstatus", MOD)
                deadline = time.monotonic() + 240
                while home.read_status().get("state") in (None, "running"):
                    assert time.monotonic() < deadline, "the retrain did not finish"
                    await asyncio.sleep(0.5)
                status = home.read_status()
                assert status["outcome"] == "promoted", (status, home.log_path.read_text()[-3000:])
                new = home.current_version()
                assert new != old
                while bot.loop.reloader.version != new:
                    assert time.monotonic() < deadline, "the bot did not pick up the new version"
                    await asyncio.sleep(0.1)
                assert bot.bot.worker.generator.model_dir.name == new
                reply = await ask(fake, bot, "viewer", "!chat what a game")
                assert reply is not None and reply.startswith("what a game")
                # Once the retrain process has exited, the bot says how it went.
                await fake.wait_until(
                    lambda: any(s.text.startswith("last retrain") and "promoted" in s.text for s in fake.accepted()),
                    30, "the retrain's announcement")
                assert f"model {new}" in await ask(fake, bot, "mod", "!chatstatus", MOD)
                log = home.log_path.read_text()
                assert "promoted" in log

    asyncio.run(scenario())


def test_disguised_words_and_links_in_a_prompt_are_never_echoed(tmp_path, tiny_checkpoint):
    """Through the real bot: a blocked word in small capitals and a link of a newer top-level
    domain are not echoed back; the shipped list cannot be lifted from chat, however spelled."""
    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            env = bot_environment(fake, tmp_path, model=str(tiny_checkpoint), **FAST)
            async with LoopBot(env) as bot:
                assert await ask(fake, bot, "mod", "!chatblock kitten", MOD) == "blocked: never said, never learned"
                for prompt in ("my ᴋɪᴛᴛᴇɴ is", "my k|i|t|t|e|n is", "claim at drops.best now", "see a.рф ok"):
                    await ask(fake, bot, "viewer", f"!chat {prompt}", wait=3)
                posted = [s.text for s in fake.accepted()]
                assert not any(bot.loop.generator.filters.content_reason(text) for text in posted), posted
                filters = bot.loop.generator.filters
                # Another spelling of a shipped word cannot lift it either (the reply says so).
                reply = await ask(fake, bot, "mod", "!chatunblock rétard", MOD)
                assert reply == "that word is on the shipped list: it stays banned", reply
                assert filters.banned_word_in("what a retard") is not None

    asyncio.run(scenario())
