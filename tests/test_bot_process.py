"""The bot as a process: `python -m bot run` against the fake Twitch (kill -9, restart, exit codes)
and `python -m bot local` driven by a script."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fake_twitch import FakeTwitch, bot_environment
from trainer.corpus.records import read_records

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def bot_process(args, env, cwd, log_path, stdin=subprocess.DEVNULL):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TWITCH_", "STREAMCHAT_"))}
    full_env.update(env, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    log = open(log_path, "w")
    return subprocess.Popen([sys.executable, "-m", "bot", *args], env=full_env, cwd=cwd, stdin=stdin,
                            stdout=log, stderr=subprocess.STDOUT)


def wait_for(predicate, timeout, what, process=None, log_path=None):
    deadline = time.monotonic() + timeout
    while not predicate():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the bot exited ({process.returncode}) while waiting for {what}:\n"
                                 + Path(log_path).read_text()[-3000:])
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def collected_ids(tmp_path):
    return [r.id for path in sorted((tmp_path / "collected" / "streamer").glob("*.jsonl")) for r in read_records(path)]


def line_count(tmp_path):
    return sum(path.read_bytes().count(b"\n") for path in (tmp_path / "collected" / "streamer").glob("*.jsonl"))


def test_kill_9_loses_no_collected_message_and_restart_never_duplicates(tmp_path, tiny_checkpoint):
    fake = FakeTwitch.in_thread(keepalive_interval=1)
    try:
        env = fake.call(bot_environment, fake, tmp_path, model=str(tiny_checkpoint))
        channel_id = fake.call(lambda: fake.user_by_login("streamer")["id"])
        ids = [f"message-{i:04d}" for i in range(600)]

        async def chat(batch, pause=0.002):
            for message_id in batch:
                await fake.chat("streamer", f"viewer{int(message_id[-4:]) % 37}", f"chat line {message_id} Kappa",
                                message_id=message_id)
                await asyncio.sleep(pause)

        log = tmp_path / "bot1.log"
        process = bot_process(["run"], env, tmp_path, log)
        wait_for(lambda: fake.call(fake.subscribed, channel_id), 60, "the bot to subscribe", process, log)
        sending = asyncio.run_coroutine_threadsafe(chat(ids[:500]), fake._loop)
        wait_for(lambda: line_count(tmp_path) >= 150, 60, "150 collected lines", process, log)
        acknowledged = line_count(tmp_path)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        sending.result(60)

        survived = collected_ids(tmp_path)  # read_records fails on any torn line in the middle
        assert len(survived) >= acknowledged
        assert survived == ids[: len(survived)]  # in order, nothing missing before the kill point
        assert len(survived) < 500  # it really died mid-stream

        # Restart: Twitch delivers everything again (same ids) and then new chat.
        log = tmp_path / "bot2.log"
        process = bot_process(["run"], env, tmp_path, log)
        wait_for(lambda: fake.call(fake.subscribed, channel_id), 60, "the bot to subscribe again", process, log)
        asyncio.run_coroutine_threadsafe(chat(ids), fake._loop).result(60)
        wait_for(lambda: len(collected_ids(tmp_path)) >= len(ids), 60, "all messages collected", process, log)
        time.sleep(0.3)
        assert collected_ids(tmp_path) == ids  # appended, never truncated or duplicated
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0, Path(log).read_text()[-2000:]
    finally:
        fake.close_thread()


def test_run_exit_codes_say_what_to_fix(tmp_path):
    env = {"TWITCH_CLIENT_ID": "x"}
    result = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=tmp_path, capture_output=True, text=True,
                            env={**{k: v for k, v in os.environ.items() if not k.startswith(("TWITCH_", "STREAMCHAT_"))}, **env})
    assert result.returncode == 2
    assert "TWITCH_CLIENT_SECRET is not set" in result.stderr and "TWITCH_CHANNELS is not set" in result.stderr
    assert "Traceback" not in result.stderr

    env = {"TWITCH_CLIENT_ID": "x", "TWITCH_CLIENT_SECRET": "y", "TWITCH_BOT_ID": "1", "TWITCH_CHANNELS": "c",
           "STREAMCHAT_MODEL": str(tmp_path / "nomodel"), "STREAMCHAT_TOKENS": str(tmp_path / "tokens.json")}
    (tmp_path / "tokens.json").write_text("{}")
    result = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=tmp_path, capture_output=True, text=True,
                            env={**{k: v for k, v in os.environ.items() if not k.startswith(("TWITCH_", "STREAMCHAT_"))}, **env})
    assert result.returncode == 4, result.stderr
    assert "nomodel" in result.stderr and "Traceback" not in result.stderr


def test_local_mode_driven_by_a_script(tmp_path, tiny_checkpoint):
    script = "hello everyone pawsHi\n!chat what a great\n!chat\nthat was fun\n"
    env = {"STREAMCHAT_SEND_INTERVAL": "0", "STREAMCHAT_COOLDOWN": "0", "STREAMCHAT_USER_COOLDOWN": "0",
           "STREAMCHAT_JOIN_MESSAGES": "0", "STREAMCHAT_JOIN_MINUTES": "0"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "local", "--model", str(tiny_checkpoint), "--no-train"],
        input=script, capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env={**{k: v for k, v in os.environ.items() if not k.startswith(("TWITCH_", "STREAMCHAT_"))}, **env,
             "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "you: hello everyone pawsHi" and "you: that was fun" in lines
    answers = [line for line in lines if line.startswith("streamchat: ")]
    assert len(answers) == 2 and answers[0].startswith("streamchat: what a great")
    collected = list((tmp_path / "data" / "collected" / "local").glob("*.jsonl"))  # rehearsing the learning loop
    assert len(collected) == 1 and "hello everyone pawsHi" in collected[0].read_text()


def test_local_mode_replays_a_log_and_joins_in(tmp_path, tiny_checkpoint):
    log = tmp_path / "chat.txt"
    log.write_text("".join(f"[0:00:{i:02d}] <viewer{i % 4}> this is replayed line {i} LUL\n" for i in range(12)))
    env = {"STREAMCHAT_SEND_INTERVAL": "0", "STREAMCHAT_COOLDOWN": "0", "STREAMCHAT_JOIN_MESSAGES": "5",
           "STREAMCHAT_JOIN_JITTER": "0", "STREAMCHAT_ACTIVE_MESSAGES": "3", "STREAMCHAT_JOIN_MINUTES": "0"}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "bot", "local", "--model", str(tiny_checkpoint), "--replay", str(log), "--speed", "20"],
        input="", capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env={**{k: v for k, v in os.environ.items() if not k.startswith(("TWITCH_", "STREAMCHAT_"))}, **env,
             "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert sum(line.startswith("viewer") for line in lines) == 12
    assert sum(line.startswith("streamchat: ") for line in lines) >= 1  # it joined the conversation
    assert time.monotonic() - started < 60


def test_local_mode_without_a_model_says_how_to_make_one(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bot", "local", "--model", str(tmp_path / "none"), "--no-train"],
                            input="", capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 4
    assert "python -m trainer train" in result.stderr and "Traceback" not in result.stderr


def test_local_mode_trains_the_sample_model_when_there_is_none(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWITCH_", "STREAMCHAT_"))}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "local", "--train-steps", "30"],
        input="!chat hello\n", capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env={**env, "OMP_NUM_THREADS": "1", "STREAMCHAT_SEND_INTERVAL": "0"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "training a tiny one on the bundled sample" in result.stderr
    assert (tmp_path / "models" / "sample" / "streamchat.json").is_file()
    assert any(line.startswith("streamchat: hello") for line in result.stdout.splitlines()), result.stdout
