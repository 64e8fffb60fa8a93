"""The bot's parts on their own: settings, Twitch-safe text, the send queue, the collector, the brain.

The send-queue and cooldown tests use a deterministic stand-in for the engine (they test timing
and rules, not text); everything end to end uses the real engine (test_bot_twitch.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time

import pytest

from bot.brain import ChannelBrain, ChatEvent, Outcome, parse_chat_command
from bot.collector import Collector
from bot.config import ChannelSettings, load_settings
from bot.generation import ModelWorker
from bot.sendqueue import Post, SendFailed, SendQueue, SendRejected, twitch_safe_text
from trainer.errors import StreamchatError
from trainer.corpus.records import read_records
from trainer.engine.safety import FilterChain

TWITCH_ENV = {
    "TWITCH_CLIENT_ID": "abc",
    "TWITCH_CLIENT_SECRET": "def",
    "TWITCH_BOT_ID": "123",
    "TWITCH_CHANNELS": "#SomeChannel, other_channel",
    "STREAMCHAT_MODEL": "models/x",
}


class StandIn:
    """A deterministic engine stand-in: echoes the prompt, counts calls, can be slow."""

    def __init__(self, delay: float = 0.0):
        self.filters = FilterChain(banned_words=())
        self.delay = delay
        self.calls = 0

    def complete(self, prompt, context=(), *, allow_mention=None, channel=None):
        self.calls += 1
        time.sleep(self.delay)
        return f"{prompt} indeed {self.calls}"

    def message(self, context=(), *, channel=None):
        self.calls += 1
        time.sleep(self.delay)
        return f"own message {self.calls}"


# ---- settings -----------------------------------------------------------------------------------


def test_settings_from_environment_with_per_channel_override():
    env = {**TWITCH_ENV, "STREAMCHAT_COOLDOWN": "7", "STREAMCHAT_JOIN_MESSAGES__OTHER_CHANNEL": "0",
           "STREAMCHAT_EXTRA_BOTS": "MyBot, @another"}
    settings = load_settings(env, dotenv=None)
    assert settings.channels == ["somechannel", "other_channel"]
    assert settings.behaviour.cooldown == 7
    assert settings.channel("somechannel").join_messages == ChannelSettings().join_messages == 150  # the default
    assert settings.channel("other_channel").join_messages == 0
    assert settings.channel("other_channel").cooldown == 7
    assert settings.extra_bots == {"mybot", "another"}
    assert settings.api_url == "https://api.twitch.tv/helix/"
    assert settings.collect_dir.as_posix() == "data/collected"


def test_settings_errors_name_every_problem():
    env = {"TWITCH_CHANNELS": "ok_name,bad-name!", "TWITCH_BOT_ID": "botname", "STREAMCHAT_COOLDOWN": "soon",
           "TWITCH_API_URL": "ftp://x"}
    with pytest.raises(StreamchatError) as caught:
        load_settings(env, dotenv=None)
    message = str(caught.value)
    for expected in ("TWITCH_CLIENT_ID", "TWITCH_CLIENT_SECRET", "TWITCH_BOT_ID='botname'", "bad-name!",
                     "STREAMCHAT_COOLDOWN='soon'", "TWITCH_API_URL", "STREAMCHAT_MODEL"):
        assert expected in message
    assert caught.value.exit_code == 2


def test_settings_read_dotenv_under_the_environment(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("TWITCH_CHANNELS=fromfile\nSTREAMCHAT_COOLDOWN=3\n")
    settings = load_settings({**TWITCH_ENV, "TWITCH_CHANNELS": "fromenv"}, dotenv=dotenv)
    assert settings.channels == ["fromenv"] and settings.behaviour.cooldown == 3


# ---- Twitch-safe text ----------------------------------------------------------------------------


@pytest.mark.parametrize("raw, expected", [
    ("/ban someone", "ban someone"),
    (".color red", "color red"),
    ("!chat !chat hi", "chat !chat hi"),
    ("  / . ! \\ hi", "hi"),
    ("a\x00b\x07c\nd\te\u202eevil\u200b", "a b c d eevil"),
    ("", None),
    ("\x00\x01 /", None),
])
def test_twitch_safe_text(raw, expected):
    assert twitch_safe_text(raw) == expected


def test_twitch_safe_text_cuts_at_500_on_a_word():
    text = twitch_safe_text("word " * 300)
    assert len(text) <= 500 and text.endswith("word")


# ---- the send queue -----------------------------------------------------------------------------


class Recorder:
    def __init__(self, answers=()):
        self.sent: list[tuple[float, str, str | None]] = []
        self.answers = list(answers)

    async def __call__(self, text, reply_to):
        if self.answers:
            answer = self.answers.pop(0)
            if answer is not None:
                raise answer
        self.sent.append((time.monotonic(), text, reply_to))


def test_send_queue_keeps_the_rate_window_spacing_and_duplicate_rule():
    async def scenario():
        settings = ChannelSettings(send_interval=0.05, rate_limit=4, rate_window=0.6, duplicate_window=5, max_wait=10)
        recorder = Recorder()
        queue = SendQueue("c", recorder, settings, capacity=20)
        queue.start()
        for i in range(10):
            assert queue.submit(Post(f"message {i}"))
        assert queue.submit(Post("/ban x  "))  # the text is repaired, not dropped
        queue.submit(Post("message 0"))  # same text again: never twice within the window
        while queue.pending:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        await queue.close()
        return recorder, queue

    recorder, queue = asyncio.run(scenario())
    times = [t for t, _, _ in recorder.sent]
    texts = [text for _, text, _ in recorder.sent]
    assert texts.count("message 0") == 1 and queue.dropped["duplicate"] == 1
    assert "ban x" in texts  # command prefix stripped
    assert all(b - a >= 0.045 for a, b in zip(times, times[1:]))
    for i, start in enumerate(times):  # never more than 4 in any 0.6 s window
        assert sum(1 for t in times[i:] if t - start < 0.6 - 1e-3) <= 4


def test_send_queue_moderator_limit_is_higher():
    async def scenario(moderator):
        settings = ChannelSettings(send_interval=0.0, rate_limit=2, rate_limit_moderator=6, rate_window=5, max_wait=10)
        recorder = Recorder()
        queue = SendQueue("c", recorder, settings)
        queue.set_moderator(moderator)
        queue.start()
        for i in range(8):
            queue.submit(Post(f"m{i}"))
        await asyncio.sleep(0.5)
        await queue.close()
        return len(recorder.sent)

    assert asyncio.run(scenario(False)) == 2
    assert asyncio.run(scenario(True)) == 6


def test_send_queue_survives_rejections_429_and_errors():
    async def scenario():
        settings = ChannelSettings(send_interval=0.0, rate_window=0.3, max_wait=30)
        recorder = Recorder([SendRejected("msg_duplicate"), SendFailed(429), None, SendFailed(503), SendFailed(503),
                             RuntimeError("surprise")])
        queue = SendQueue("c", recorder, settings)
        queue.start()
        for text in ("first", "second", "third", "fourth", "fifth"):
            queue.submit(Post(text))
        deadline = time.monotonic() + 15
        while (queue.pending or len(recorder.sent) < 2) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)
        await queue.close()
        return recorder, queue

    recorder, queue = asyncio.run(scenario())
    texts = [text for _, text, _ in recorder.sent]
    # first: msg_duplicate (dropped); second: 429 then retried and sent; third: 503 twice (dropped);
    # fourth: a surprise exception (dropped); fifth: sent.
    assert texts == ["second", "fifth"]
    assert queue.dropped["msg_duplicate"] == 1 and queue.dropped["failed"] == 1 and queue.dropped["error"] == 1


def test_send_queue_drops_stale_posts_and_unsafe_ones():
    async def scenario():
        settings = ChannelSettings(send_interval=0.0, max_wait=0.05)
        recorder = Recorder()
        chain = FilterChain(banned_words=())

        def check(text, allow_mention):
            return text if chain.check(text, allow_mention=allow_mention) is None else None

        queue = SendQueue("c", recorder, settings, check=check)
        assert not queue.submit(Post("visit example.com now"))
        assert not queue.submit(Post("hi @someone"))
        assert queue.submit(Post("hi @viewer", allow_mention="viewer"))
        old = Post("too late")
        old.created -= 1
        assert queue.submit(old)
        queue.start()
        await asyncio.sleep(0.2)
        await queue.close()
        return recorder, queue

    recorder, queue = asyncio.run(scenario())
    assert [text for _, text, _ in recorder.sent] == ["hi @viewer"]
    assert queue.dropped["unsafe"] == 2 and queue.dropped["stale"] == 1


# ---- the collector ------------------------------------------------------------------------------


def test_collector_salt_hash_restart_and_torn_tail(tmp_path):
    root = tmp_path / "collected"
    collector = Collector(root)
    assert stat.S_IMODE(os.stat(root / ".salt").st_mode) == 0o600
    assert collector.collect("chan", "m1", "42", "hello there")
    assert collector.collect("chan", "m2", "42", "second")
    assert not collector.collect("chan", "m1", "42", "hello there")  # same id: not twice
    collector.close()
    day_file = next((root / "chan").glob("*.jsonl"))
    with open(day_file, "a") as handle:
        handle.write('{"text": "half a rec')  # a write cut short by a crash
    again = Collector(root)
    assert again.user_hash("42") == collector.user_hash("42")  # the salt persists
    assert not again.collect("chan", "m2", "42", "second")  # restart: ids re-read, no duplicates
    assert again.collect("chan", "m3", "7", "third")
    again.close()
    records = list(read_records(day_file))
    assert [r.id for r in records] == ["m1", "m2", "m3"]
    raw = day_file.read_text()
    assert '"42"' not in raw and "chan/" in records[0].stream
    assert records[0].user == collector.user_hash("42") and len(records[0].user) == 32
    other = Collector(tmp_path / "elsewhere")
    assert other.user_hash("42") != collector.user_hash("42")  # salted per installation


def test_collector_honours_deletions_clears_and_opt_outs(tmp_path):
    from trainer.corpus import privacy

    collector = Collector(tmp_path)
    for i, user in enumerate(["1", "2", "1", "3"]):
        collector.collect("chan", f"m{i}", user, f"message {i}")
    assert collector.forget_message("chan", "m1") == 1
    assert collector.forget_user("chan", "1") == 2
    assert collector.collect("chan", "m9", "3", "after the purge")  # appends go to the new file
    privacy.opt_out(tmp_path / "chan", collector.user_hash("3"), file_guard=collector.file_guard("chan"))
    collector.reload_policy("chan")
    assert not collector.collect("chan", "m10", "3", "opted out now")
    collector.close()
    day_file = next((tmp_path / "chan").glob("*.jsonl"))
    assert [r.id for r in read_records(day_file)] == []


# ---- the brain ----------------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def make_brain(settings, generator=None, collector=None):
    clock = Clock()
    recorder = Recorder()
    queue = SendQueue("chan", recorder, settings, clock=clock)
    brain = ChannelBrain("chan", settings, ModelWorker(generator or StandIn()), queue, bot_id="99",
                         bot_login="streamchat_bot", extra_bots=["custombot"], collector=collector, clock=clock)
    return brain, queue, clock


def event(user="alice", text="hello", user_id=None, moderator=False, message_id=None):
    return ChatEvent("chan", message_id or f"id-{time.monotonic_ns()}", user_id or f"u-{user}", user, text,
                     moderator=moderator)


def test_parse_chat_command():
    assert parse_chat_command("!chat") == ""
    assert parse_chat_command("  !CHAT  is this   ") == "is this"
    assert parse_chat_command("!chatter hi") is None
    assert parse_chat_command("hello !chat") is None


def test_brain_cooldowns_are_silent_and_per_user():
    async def scenario():
        settings = ChannelSettings(cooldown=5, user_cooldown=30, queue_size=5, join_messages=0, join_minutes=0)
        brain, queue, clock = make_brain(settings)
        outcomes = [brain.request_chat(event("alice"), "one")]
        outcomes.append(brain.request_chat(event("bob"), "two"))  # global cooldown
        clock.now += 6
        outcomes.append(brain.request_chat(event("alice"), "three"))  # alice's own cooldown
        outcomes.append(brain.request_chat(event("bob"), "four"))
        clock.now += 6
        outcomes.append(brain.request_chat(event("alice", moderator=True), "five"))  # moderators skip theirs
        outcomes.append(brain.request_chat(event("streamchat_bot", user_id="99"), "self"))
        outcomes.append(brain.request_chat(event("nightbot"), "bot"))
        await brain.idle()
        return outcomes, [p.text for p in queue._queue]

    outcomes, posted = asyncio.run(scenario())
    assert outcomes == [Outcome.ACCEPTED, Outcome.COOLDOWN, Outcome.USER_COOLDOWN, Outcome.ACCEPTED,
                        Outcome.ACCEPTED, Outcome.IGNORED, Outcome.IGNORED]
    assert [p.split(" indeed")[0] for p in posted] == ["one", "four", "five"]


def test_brain_queue_bound_drops_quietly_while_generating():
    async def scenario():
        settings = ChannelSettings(cooldown=0, user_cooldown=0, queue_size=2, join_messages=0, join_minutes=0)
        generator = StandIn(delay=0.2)
        brain, queue, _ = make_brain(settings, generator)
        outcomes = [brain.request_chat(event(f"viewer{i}"), f"prompt {i}") for i in range(5)]
        await asyncio.sleep(0.05)
        # the loop stays free while the engine works on its thread: chat is read at once
        started = time.monotonic()
        for i in range(50):
            brain.observe(event("chatter", f"message number {i}"))
        observe_time = time.monotonic() - started
        await brain.idle()
        return outcomes, generator.calls, observe_time, brain

    outcomes, calls, observe_time, brain = asyncio.run(scenario())
    assert outcomes.count(Outcome.ACCEPTED) == 2 and outcomes.count(Outcome.QUEUE_FULL) == 3
    assert calls == 2 and observe_time < 0.15
    assert len(brain.context) == 30  # the context window keeps the latest messages


def test_brain_observes_only_human_chat(tmp_path):
    async def scenario():
        collector = Collector(tmp_path)
        settings = ChannelSettings(join_messages=0, join_minutes=0, context_messages=10)
        brain, queue, _ = make_brain(settings, collector=collector)
        brain.observe(event("alice", "hello chat"))
        brain.observe(event("streamchat_bot", "my own post", user_id="99", moderator=True))
        brain.observe(event("nightbot", "follow the rules"))
        brain.observe(event("custombot", "a custom bot"))
        brain.observe(event("bob", "!discord"))
        brain.observe(event("carol", "visit https://example.com @dave"))
        collector.close()
        return brain, queue

    brain, queue = asyncio.run(scenario())
    assert brain.context == ["hello chat", "visit @user"]
    assert queue.moderator  # learned from the badge on its own echoed message
    texts = [r.text for path in (tmp_path / "chan").glob("*.jsonl") for r in read_records(path)]
    assert texts == ["hello chat", "visit @user"]


def test_brain_joins_in_after_n_messages_only_while_active():
    async def scenario():
        settings = ChannelSettings(cooldown=0, join_messages=10, join_minutes=0, join_jitter=0.0,
                                   active_messages=5, active_seconds=60)
        brain, queue, clock = make_brain(settings)
        for i in range(9):
            brain.observe(event(f"v{i}", f"message {i}"))
            clock.now += 1
        await brain.idle()
        before = queue.pending
        brain.observe(event("v9", "the tenth"))
        await brain.idle()
        after_ten = queue.pending
        # slow chat: 10 more messages, 30 s apart, is never "active"
        for i in range(12):
            clock.now += 30
            brain.observe(event(f"w{i}", f"slow {i}"))
        await brain.idle()
        return before, after_ten, queue.pending

    before, after_ten, after_slow = asyncio.run(scenario())
    assert (before, after_ten, after_slow) == (0, 1, 1)


def test_brain_joins_in_after_t_minutes_with_jitter():
    async def scenario():
        settings = ChannelSettings(cooldown=0, join_messages=0, join_minutes=2, join_jitter=0.5,
                                   active_messages=3, active_seconds=600)
        brain, queue, clock = make_brain(settings)
        threshold = brain._join_after_seconds
        for i in range(3):
            brain.observe(event(f"v{i}", f"message {i}"))
        brain.tick()
        await brain.idle()
        early = queue.pending
        clock.now += threshold + 0.1
        brain.tick()
        await brain.idle()
        return threshold, early, queue.pending, brain._join_after_seconds

    threshold, early, later, next_threshold = asyncio.run(scenario())
    assert 60 <= threshold <= 180 and early == 0 and later == 1
    assert 60 <= next_threshold <= 180


def test_env_example_documents_every_setting_and_loads(tmp_path):
    import re
    from pathlib import Path

    from bot.config import BEHAVIOUR_VARIABLES

    example = Path(__file__).resolve().parents[1] / ".env.example"
    text = example.read_text()
    source = (Path(__file__).resolve().parents[1] / "bot" / "config.py").read_text()
    read = set(re.findall(r'get\("((?:TWITCH|STREAMCHAT)_[A-Z_]+)"', source)) | {v for _, v, _ in BEHAVIOUR_VARIABLES}
    documented = set(re.findall(r"^((?:TWITCH|STREAMCHAT)_[A-Z_]+)=", text, re.MULTILINE))
    assert read <= documented, read - documented
    filled = text.replace("TWITCH_CLIENT_ID=\n", "TWITCH_CLIENT_ID=a\n").replace("TWITCH_CLIENT_SECRET=\n", "TWITCH_CLIENT_SECRET=b\n")
    filled = filled.replace("TWITCH_BOT_ID=\n", "TWITCH_BOT_ID=1\n").replace("TWITCH_CHANNELS=\n", "TWITCH_CHANNELS=c\n")
    dotenv = tmp_path / ".env"
    dotenv.write_text(filled)
    settings = load_settings({}, dotenv=dotenv)
    assert settings.behaviour == ChannelSettings()  # the example shows the defaults


def test_per_channel_sampling_overrides_do_not_leak():
    from trainer.engine.generate import SamplingSettings

    class Seen(StandIn):
        def __init__(self):
            super().__init__()
            self.settings = SamplingSettings()
            self.temperatures = []

        def message(self, context=(), *, channel=None):
            self.temperatures.append((channel, self.settings.temperature))
            return "ok"

    async def scenario():
        generator = Seen()
        worker = ModelWorker(generator)
        worker.sampling["hot"] = {"temperature": 1.5}
        for channel in ("hot", "plain", "hot", "plain"):
            await worker.message([], channel=channel)
        worker.close()
        return generator.temperatures

    assert asyncio.run(scenario()) == [("hot", 1.5), ("plain", 1.0), ("hot", 1.5), ("plain", 1.0)]  # 1.0: the default


def test_twitchio_log_lines_never_carry_secrets(caplog):
    import logging

    import bot.twitch  # noqa: F401  (installs the redaction filter)

    url = "https://id.twitch.tv/oauth2/token?client_id=abc&client_secret=s3cr3t&grant_type=refresh_token&refresh_token=r3fr3sh"
    with caplog.at_level(logging.ERROR):
        logging.getLogger("twitchio.eventsub.websockets").error("Unable to resubscribe: %s", f"Request {url} failed")
    assert "s3cr3t" not in caplog.text and "r3fr3sh" not in caplog.text and "client_secret=<redacted>" in caplog.text


def test_brain_settings_change_resizes_its_windows():
    async def scenario():
        brain, _, _ = make_brain(ChannelSettings(join_messages=0, join_minutes=0, context_messages=5))
        for i in range(8):
            brain.observe(event(f"v{i}", f"line {i}"))
        brain.apply_settings(ChannelSettings(join_messages=0, join_minutes=0, context_messages=3))
        await asyncio.to_thread(brain.forget_user, "u-v7")  # from a worker thread, as the bot does
        return brain.context

    assert asyncio.run(scenario()) == ["line 5", "line 6"]


def test_a_purge_guard_holds_off_appends_to_its_channel(tmp_path):
    import threading

    collector = Collector(tmp_path)
    collector.collect("chan", "m0", "1", "before")
    day_file = next((tmp_path / "chan").glob("*.jsonl"))
    appended = threading.Event()

    def collect_more():
        collector.collect("chan", "m1", "2", "during the purge")
        appended.set()

    with collector.file_guard("chan")(day_file):
        worker = threading.Thread(target=collect_more)
        worker.start()
        assert not appended.wait(0.3)  # the append waits for the rewrite
        assert [r.id for r in read_records(day_file)] == ["m0"]
    worker.join(5)
    assert appended.is_set()
    collector.close()
    assert [r.id for r in read_records(day_file)] == ["m0", "m1"]


def test_a_malformed_line_in_todays_file_does_not_stop_collection(tmp_path, caplog):
    collector = Collector(tmp_path)
    assert collector.collect("chan", "m0", "1", "before the damage")
    collector.close()
    day_file = next((tmp_path / "chan").glob("*.jsonl"))
    with open(day_file, "a") as handle:
        handle.write("{not a record}\n[1, 2]\n")
    settings = ChannelSettings(join_messages=0, join_minutes=0)
    brain, _, _ = make_brain(settings, collector=Collector(tmp_path))
    with caplog.at_level("WARNING", logger="bot.collector"):
        for i in range(10):
            assert brain.observe(event(f"viewer{i}", f"message number {i}", message_id=f"m{i + 1}"))
    assert brain.context[-10:] == [f"message number {i}" for i in range(10)]
    assert brain.collector.collected == 10 and brain.stats["human"] == 10
    assert sum("malformed line" in r.getMessage() for r in caplog.records) == 1
    brain.collector.close()
    ids = [json.loads(line).get("id") for line in day_file.read_text().splitlines() if line.startswith('{"')]
    assert ids == ["m0"] + [f"m{i + 1}" for i in range(10)]
