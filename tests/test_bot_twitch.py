"""End to end: the real bot object (TwitchIO 3) and the real engine with the tiny model, against the
fake Twitch on 127.0.0.1, connected through TWITCH_API_URL / TWITCH_AUTH_URL / TWITCH_EVENTSUB_URL."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time

import pytest

from bot.brain import Outcome
from fake_twitch import FakeTwitch, RunningBot, bot_environment
from trainer.errors import StreamchatError
from trainer.corpus.records import read_records
from trainer.engine.safety import FilterChain
from trainer.text import has_url, mentions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def generator(tiny_checkpoint):
    from trainer.engine.generate import Generator

    return Generator.load(tiny_checkpoint, seed=1)


def collected(tmp_path, channel="streamer") -> list:
    return [r for path in sorted((tmp_path / "collected" / channel).glob("*.jsonl")) for r in read_records(path)]


def assert_safe(text: str, allowed: set[str]) -> None:
    """What may appear in a Twitch channel: checked independently of the bot's own code path."""
    assert 0 < len(text) <= 500
    assert text == " ".join(text.split()) and text.isprintable()
    assert not text.startswith(("/", ".", "!", "\\"))
    assert not has_url(text)
    assert set(mentions(text)) <= {name.lower() for name in allowed}
    reason = FilterChain().check(text, allow_mention=next(iter(allowed), None))
    assert reason in (None, "repeat"), (text, reason)


async def wait_idle(bot, fake, timeout=20):
    """Until the bot has taken in every `!chat` sent so far, finished generating, and sent or dropped every post."""
    def requests_seen():
        asked = sum(1 for d in fake.deliveries if d.text.startswith("!chat"))
        return sum(b.stats[o.value] for b in bot.brains.values() for o in Outcome) >= asked

    async def settled():
        if not requests_seen():
            return False
        for brain in bot.brains.values():
            await brain.idle()
        return all(not b.pending and not b.send_queue.pending for b in bot.brains.values())

    deadline = time.monotonic() + timeout
    while not await settled():
        assert time.monotonic() < deadline, "the bot did not settle"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # the last post's echo


def test_chat_replies_collects_and_honours_deletions(tmp_path, generator):
    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            env = bot_environment(fake, tmp_path)
            async with RunningBot(env, generator) as bot:
                channel_id = fake.user_by_login("streamer")["id"]
                assert fake.subscribed(channel_id) and fake.subscribed(channel_id, "channel.chat.message_delete")
                human = [await fake.chat("streamer", f"viewer{i}", f"hello chat number {i} pawsHi") for i in range(6)]
                await fake.chat("streamer", "nightbot", "Follow the channel rules!")
                await fake.chat("streamer", "viewer1", "!discord")
                ask = await fake.chat("streamer", "viewer2", "!chat what do you think of")
                bare = await fake.chat("streamer", "viewer3", "!chat")
                await fake.wait_until(lambda: len(fake.accepted()) >= 2, 20, "two replies")
                await wait_idle(bot, fake)
                replies = {s.reply_to: s for s in fake.accepted()}
                assert set(replies) == {ask, bare}
                assert replies[ask].text.startswith("what do you think of")
                assert replies[ask].token_kind == "app"  # posted as a Chat Bot (app token)
                for reply in replies.values():
                    assert_safe(reply.text, {"viewer2", "viewer3"})
                # collection: every human message, not the bot's echoed posts, not commands, not bots
                records = collected(tmp_path)
                assert [r.id for r in records] == human
                assert all(r.user and "viewer" not in r.to_json() for r in records)  # never a name
                # moderators delete a message and clear a user: out of the collected chat and the context
                await fake.delete_message("streamer", "viewer0", human[0])
                await fake.clear_user("streamer", "viewer1")
                await fake.wait_until(lambda: len(collected(tmp_path)) == 4, 10, "the purge")
                assert [r.id for r in collected(tmp_path)] == human[2:]
                assert all("number 1 " not in text and "number 0 " not in text for text in bot.brains["streamer"].context)

    asyncio.run(scenario())


def test_a_clear_uses_twitchs_time_when_its_clock_runs_ahead(tmp_path, generator):
    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            fake.clock_offset = 3.0  # Twitch's timestamps 3 s ahead of this machine
            env = bot_environment(fake, tmp_path)
            async with RunningBot(env, generator) as bot:
                for i in range(5):
                    await fake.chat("streamer", "viewer1", f"message number {i} here")
                await fake.wait_until(lambda: len(collected(tmp_path)) == 5, 10, "collected")
                await fake.clear_user("streamer", "viewer1")
                await fake.wait_until(lambda: len(collected(tmp_path)) == 0, 10, "all five purged")
                await wait_idle(bot, fake)

    asyncio.run(scenario())


def test_a_completion_continues_after_the_viewers_words(tmp_path, generator):
    """`!chat KEKW` is answered `KEKW <new words>`, never glued onto the prompt (`KEKWIN`)."""
    prompts = ["KEKW", "gg", "who is the best player", "is this real?"]

    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            async with RunningBot(bot_environment(fake, tmp_path), generator) as bot:
                asks = {}
                for i, prompt in enumerate(prompts * 3):
                    asks[await fake.chat("streamer", f"viewer{i}", "!chat " + prompt)] = prompt
                    await wait_idle(bot, fake)
                replies = {s.reply_to: s.text for s in fake.accepted()}
                assert len(replies) >= len(asks) - 2  # a rare candidate set may be all filtered
                for ask, text in replies.items():
                    prompt = asks[ask]
                    assert text == prompt or text.startswith(prompt + " "), (prompt, text)

    asyncio.run(scenario())


def test_two_channels_keep_their_own_context_settings_and_files(tmp_path, generator):
    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            env = bot_environment(fake, tmp_path, channels=("streamer", "other"),
                                  STREAMCHAT_USER_COOLDOWN__OTHER="60")
            async with RunningBot(env, generator) as bot:
                a = [await fake.chat("streamer", "v1", f"streamer chat {i}") for i in range(3)]
                b = [await fake.chat("other", "v1", f"other chat {i}") for i in range(2)]
                for channel in ("streamer", "other", "streamer", "other"):
                    await fake.chat(channel, "asker", "!Chat twice in a row")  # case does not matter
                await wait_idle(bot, fake)
                streamer_id, other_id = (fake.user_by_login(c)["id"] for c in ("streamer", "other"))
                assert len(fake.accepted(streamer_id)) == 2 and len(fake.accepted(other_id)) == 1
                assert bot.brains["streamer"].context == [f"streamer chat {i}" for i in range(3)]
                assert bot.brains["other"].context == [f"other chat {i}" for i in range(2)]
                assert [r.id for r in collected(tmp_path, "streamer")] == a
                assert [r.id for r in collected(tmp_path, "other")] == b

    asyncio.run(scenario())


HOSTILE = [
    "/ban someone",
    ".color red",
    "/me is a bot",
    "@alice @bob @carol @dave @erin look",
    "go to https://evil.example.com/free and www.scam.net or bit.ly/x",
    "word " * 600,  # 3,000 characters
    "a\x00b\x07c\x1b[31mred\u202eevil\u200b\r\nnewline",
    "!chat !chat nested",
    "\\\\ /// ... !!! ok",
]


def test_hostile_prompts_yield_only_safe_posts(tmp_path, generator):
    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            env = bot_environment(fake, tmp_path)
            async with RunningBot(env, generator) as bot:
                for i in range(5):
                    await fake.chat("streamer", f"chatter{i}", f"normal chat line {i} LUL")
                for i, prompt in enumerate(HOSTILE):
                    await fake.chat("streamer", f"hostile{i}", "!chat " + prompt)
                await fake.wait_until(lambda: bot.brains["streamer"].stats["accepted"] == len(HOSTILE), 10)
                await wait_idle(bot, fake, timeout=40)
                posts = fake.accepted()
                assert posts, "the bot answered none of the prompts"
                for post in posts:
                    assert_safe(post.text, {f"hostile{i}" for i in range(len(HOSTILE))})
                assert all(s.status == 200 for s in fake.sent)  # nothing Twitch would refuse as too long

    asyncio.run(scenario())


def test_cooldowns_are_silent(tmp_path, generator):
    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            env = bot_environment(fake, tmp_path, STREAMCHAT_COOLDOWN="1.5", STREAMCHAT_USER_COOLDOWN="60")
            async with RunningBot(env, generator) as bot:
                first = await fake.chat("streamer", "alice", "!chat first question")
                await fake.chat("streamer", "bob", "!chat too soon for the channel")
                await wait_idle(bot, fake)
                await asyncio.sleep(1.6)
                await fake.chat("streamer", "alice", "!chat too soon for alice")
                later = await fake.chat("streamer", "bob", "!chat now it is fine")
                await wait_idle(bot, fake)
                await asyncio.sleep(1.6)
                modded = await fake.chat("streamer", "alice", "!chat moderators skip their own cooldown",
                                         badges=["moderator"])
                await wait_idle(bot, fake)
                assert [s.reply_to for s in fake.accepted()] == [first, later, modded]
                stats = bot.brains["streamer"].stats
                assert stats["cooldown"] == 1 and stats["user cooldown"] == 1

    asyncio.run(scenario())


def test_burst_of_requests_keeps_the_send_limits(tmp_path, generator):
    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            env = bot_environment(fake, tmp_path, STREAMCHAT_RATE_LIMIT="4", STREAMCHAT_RATE_WINDOW="1.5",
                                  STREAMCHAT_SEND_INTERVAL="0.15", STREAMCHAT_QUEUE_SIZE="12",
                                  STREAMCHAT_RATE_LIMIT_MODERATOR="50")
            async with RunningBot(env, generator) as bot:
                for i in range(16):
                    await fake.chat("streamer", f"viewer{i}", f"!chat burst number {i} is")
                await wait_idle(bot, fake, timeout=40)
                stats = bot.brains["streamer"].stats
                times = [s.at for s in fake.sent]
                assert stats["accepted"] == 12 and stats["queue full"] == 4  # the bound: dropped quietly
                assert 8 <= len(fake.accepted()) <= 12
                assert all(b - a >= 0.14 for a, b in zip(times, times[1:]))
                for i, start in enumerate(times):
                    assert sum(1 for t in times[i:] if t - start < 1.5 - 0.01) <= 4
                texts = [s.text for s in fake.accepted()]
                assert len(texts) == len(set(texts))
                # Twitch shows the bot a moderator badge: the limit rises to the moderator's.
                queue = bot.brains["streamer"].send_queue
                assert not queue.moderator
                fake.moderator_in.add(fake.user_by_login("streamer")["id"])
                await fake.chat("streamer", "late", "!chat now as a moderator")
                await fake.wait_until(lambda: queue.moderator, 10, "the moderator badge")

    asyncio.run(scenario())


def test_a_flood_of_150_requests_never_exceeds_the_window_at_twitchs_side(tmp_path, generator):
    """Twitch counts posts as they arrive: no window of its length may hold one post too many,
    measured on the fake Twitch's clock, whatever the delays between the bot and it."""
    limit, window = 5, 0.4

    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            env = bot_environment(fake, tmp_path, STREAMCHAT_RATE_LIMIT=str(limit), STREAMCHAT_RATE_WINDOW=str(window),
                                  STREAMCHAT_SEND_INTERVAL="0.01", STREAMCHAT_QUEUE_SIZE="150",
                                  STREAMCHAT_MAX_WAIT="600")
            async with RunningBot(env, generator) as bot:
                for i in range(150):  # as fast as the window lets posts out, so the queue stays full
                    await fake.chat("streamer", f"viewer{i}", f"!chat flood number {i} says")
                    await asyncio.sleep(window / limit / 2)
                await wait_idle(bot, fake, timeout=240)
                times = [s.at for s in fake.sent]
                assert len(times) >= 40, (len(times), bot.brains["streamer"].stats, bot.brains["streamer"].send_queue.dropped)
                busiest = max(sum(1 for t in times[i:] if t - start < window) for i, start in enumerate(times))
                assert busiest <= limit, f"{busiest} posts reached Twitch within {window} s"

    asyncio.run(scenario())


def test_duplicate_rejection_and_429_are_survived(tmp_path, generator):
    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            env = bot_environment(fake, tmp_path, STREAMCHAT_RATE_WINDOW="3")  # short 429 / 5xx pauses
            async with RunningBot(env, generator) as bot:
                fake.fail_next_sends("duplicate", 429, 500)
                dropped = await fake.chat("streamer", "a", "!chat one two")
                await wait_idle(bot, fake)
                retried = await fake.chat("streamer", "b", "!chat three four")
                await wait_idle(bot, fake)
                fine = await fake.chat("streamer", "c", "!chat five six")
                await wait_idle(bot, fake)
                answers = [(s.reply_to, s.status, s.is_sent, s.drop_code) for s in fake.sent]
                assert answers[0] == (dropped, 200, False, "msg_duplicate")
                assert answers[1][:2] == (retried, 429) and answers[2][:2] == (retried, 500)  # retried once, then given up
                assert (fine, 200, True, None) == answers[-1]
                assert bot.brains["streamer"].send_queue.dropped["msg_duplicate"] == 1

    asyncio.run(scenario())


def test_posts_with_the_user_token_where_the_broadcaster_did_not_authorize_channel_bot(tmp_path, generator):
    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            env = bot_environment(fake, tmp_path, STREAMCHAT_RATE_WINDOW="3")
            fake.no_channel_bot.add(fake.user_by_login("streamer")["id"])
            async with RunningBot(env, generator) as bot:
                first = await fake.chat("streamer", "a", "!chat hello bot")
                await wait_idle(bot, fake)
                second = await fake.chat("streamer", "b", "!chat and again")
                await wait_idle(bot, fake)
                return [(s.reply_to, s.token_kind, s.status) for s in fake.sent], first, second

    sent, first, second = asyncio.run(scenario())
    assert sent == [(first, "app", 403), (first, "user", 200), (second, "user", 200)]


def test_websocket_drop_and_session_reconnect_are_survived(tmp_path, generator):
    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            env = bot_environment(fake, tmp_path)
            async with RunningBot(env, generator) as bot:
                channel_id = fake.user_by_login("streamer")["id"]
                ids = [await fake.chat("streamer", "v", f"before the drop {i}") for i in range(3)]
                await fake.drop_connections()
                await fake.wait_until(lambda: fake.subscribed(channel_id), 20, "subscriptions after the drop")
                ids += [await fake.chat("streamer", "v", f"after the drop {i}") for i in range(3)]
                old_sessions = set(fake.sessions)
                await fake.send_reconnect()
                await fake.wait_until(lambda: fake.sessions and not set(fake.sessions) & old_sessions, 10, "reconnect")
                assert fake.subscribed(channel_id)  # the subscriptions moved with the session
                ids += [await fake.chat("streamer", "v", f"after the reconnect {i}") for i in range(3)]
                reply = await fake.chat("streamer", "w", "!chat still there")
                await fake.wait_until(lambda: any(s.reply_to == reply for s in fake.accepted()), 20, "the reply")
                await wait_idle(bot, fake)
                assert all(d.sessions == 1 for d in fake.deliveries)  # exactly one connection got each message
                assert [r.id for r in collected(tmp_path)] == ids

    asyncio.run(scenario())


def test_tokens_are_refreshed_on_401_and_saved(tmp_path, generator):
    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            env = bot_environment(fake, tmp_path)
            tokens_path = tmp_path / "tokens.json"
            before = json.loads(tokens_path.read_text())
            async with RunningBot(env, generator):
                bot_id = env["TWITCH_BOT_ID"]
                channel_id = fake.user_by_login("streamer")["id"]
                fake.revoke_all(app=True, user_id=bot_id)  # every token expires at once
                ask = await fake.chat("streamer", "v", "!chat after expiry")
                await fake.wait_until(lambda: any(s.reply_to == ask for s in fake.accepted()), 20, "the reply")
                assert fake.grants.count("client_credentials") == 2  # a new app token for the post
                await fake.drop_connections()  # resubscribing needs the bot's user token: refreshed
                await fake.wait_until(lambda: fake.subscribed(channel_id), 20, "subscriptions after refresh")
                assert "refresh_token" in fake.grants
                after = json.loads(tokens_path.read_text())
                assert after[bot_id]["token"] != before[bot_id]["token"]
                assert after[bot_id]["token"] in fake.tokens  # the saved token is the working one
                assert stat.S_IMODE(os.stat(tokens_path).st_mode) == 0o600

    asyncio.run(scenario())


@pytest.mark.parametrize("problem", ["unknown channel", "invalid token", "wrong secret", "unknown bot"])
def test_start_up_problems_are_clear_errors(tmp_path, generator, problem):
    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            env = bot_environment(fake, tmp_path)
            if problem == "unknown channel":
                env["TWITCH_CHANNELS"] = "streamer,nosuchchannel"
            elif problem == "invalid token":
                fake.revoke_all(user_id=env["TWITCH_BOT_ID"])
                fake.refresh_tokens.clear()
            elif problem == "wrong secret":
                env["TWITCH_CLIENT_SECRET"] = "wrong"
            else:
                env["TWITCH_BOT_ID"] = "999999"
                (tmp_path / "tokens.json").write_text("{}")
            with pytest.raises(StreamchatError) as caught:
                async with RunningBot(env, generator):
                    pass
            return caught.value

    error = asyncio.run(scenario())
    assert error.exit_code == 3
    expected = {"unknown channel": "nosuchchannel", "invalid token": "python -m bot login",
                "wrong secret": "TWITCH_CLIENT_SECRET", "unknown bot": "python -m bot login"}[problem]
    assert expected in str(error)
    assert "fakeclientsecret" not in str(error)


def test_prepare_reads_what_the_bot_collected(tmp_path, generator):
    from trainer.ingest.prepare import prepare

    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            env = bot_environment(fake, tmp_path)
            async with RunningBot(env, generator):
                for i in range(40):
                    await fake.chat("streamer", f"viewer{i % 5}", f"collected line number {i} with words KEKW")
                await fake.wait_until(lambda: len(collected(tmp_path)) == 40, 10, "collection")

    asyncio.run(scenario())
    stats = prepare([tmp_path / "collected" / "streamer"], tmp_path / "prepared", progress=False)
    train = list(read_records(tmp_path / "prepared" / "train.jsonl"))
    valid = list(read_records(tmp_path / "prepared" / "valid.jsonl"))
    assert len(train) + len(valid) == 40, stats
    assert all(r.channel == "streamer" for r in train + valid)


def test_an_unreadable_model_is_a_clear_error(tmp_path, tiny_checkpoint):
    import shutil

    from bot.generation import load_generator

    broken = tmp_path / "broken"
    shutil.copytree(tiny_checkpoint, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    for path, expected in ((broken, "broken"), (tmp_path / "missing", "missing")):
        with pytest.raises(StreamchatError) as caught:
            load_generator(path)
        assert caught.value.exit_code == 4 and expected in str(caught.value)


def test_the_bot_answers_its_name_like_chat(tmp_path, generator):
    from fake_twitch import BOT_LOGIN

    async def scenario():
        async with FakeTwitch(keepalive_interval=1) as fake:
            env = {**bot_environment(fake, tmp_path), "STREAMCHAT_USER_COOLDOWN": "30", "STREAMCHAT_COOLDOWN": "0"}
            async with RunningBot(env, generator) as bot:
                asked = await fake.chat("streamer", "alice", f"@{BOT_LOGIN} what do you think")
                named = await fake.chat("streamer", "bob", f"{BOT_LOGIN.upper()}, is this good")
                await fake.chat("streamer", "carol", f"i think {BOT_LOGIN} is fine")  # not at the start
                await fake.chat("streamer", "alice", f"@{BOT_LOGIN} again so soon")  # alice's cooldown
                await fake.wait_until(lambda: len(fake.accepted()) >= 2, 20, "two answers")
                await asyncio.sleep(1.0)
                for brain in bot.brains.values():
                    await brain.idle()
                replies = {s.reply_to: s for s in fake.accepted()}
                assert set(replies) == {asked, named}
                assert replies[asked].text.startswith("what do you think")
                assert replies[named].text.startswith("is this good")
                assert bot.brains["streamer"].stats[Outcome.USER_COOLDOWN.value] == 1
                for reply in replies.values():
                    assert_safe(reply.text, {"alice", "bob"})

        async with FakeTwitch(keepalive_interval=1) as fake:
            env = {**bot_environment(fake, tmp_path / "off"), "STREAMCHAT_ANSWER_NAME": "0"}
            async with RunningBot(env, generator):
                await fake.chat("streamer", "alice", f"@{BOT_LOGIN} what do you think")
                await asyncio.sleep(2.0)
                assert not fake.accepted()

    asyncio.run(scenario())
