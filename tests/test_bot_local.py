"""`python -m bot local` as the rehearsal of the bot on Twitch: moderators' commands (`--mod`,
`/mod`), chat collected for retraining, a model home followed while the room runs, the bot
answering its name, cooldowns said in the room, Ctrl-D during a replay, and a copied
.env.example that leaves the demo working."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trainer.loop.home import ModelHome

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
QUICK = {"STREAMCHAT_SEND_INTERVAL": "0", "STREAMCHAT_COOLDOWN": "0", "STREAMCHAT_JOIN_MESSAGES": "0",
         "STREAMCHAT_JOIN_MINUTES": "0", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWITCH_", "STREAMCHAT_"))}
    return {**env, **QUICK, **extra}


def local(args, script: str, cwd: Path, **extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", "local", *args], input=script, capture_output=True,
                          text=True, cwd=cwd, timeout=180, env=clean_env(**extra))


def test_moderators_commands_name_answers_cooldowns_and_collection(tmp_path, tiny_checkpoint):
    script = ("hello chat pawsHi\n!chat what a\n!chat again\n!chatstatus\n/mod\n!chatstatus\n"
              "@streamchat what do you think\n")
    result = local(["--model", str(tiny_checkpoint)], script, tmp_path, STREAMCHAT_USER_COOLDOWN="30")
    assert result.returncode == 0, result.stderr[-2000:]
    out, err = result.stdout.splitlines(), result.stderr
    assert "(streamchat stays quiet: cooldown 30 s)" in err  # the second !chat, within the viewer's cooldown
    assert "!chatstatus is for moderators; type /mod to act as one" in err
    status = [line for line in out if line.startswith("streamchat: model ")]
    assert len(status) == 1 and "collected today" in status[0]  # answered once: after /mod
    answers = [line for line in out if line.startswith("streamchat: ") and line not in status]
    assert len(answers) == 2  # `!chat what a`, and the moderator's message to the bot by name
    collected = list((tmp_path / "data" / "collected" / "local").glob("*.jsonl"))
    assert collected and "hello chat pawsHi" in collected[0].read_text()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = local(["--model", str(tiny_checkpoint), "--mod", "--no-collect"], "!chatoff\n!chat hi\n", elsewhere)
    assert result.returncode == 0, result.stderr[-2000:]
    posts = [line for line in result.stdout.splitlines() if line.startswith("streamchat: ")]
    assert len(posts) == 1 and "off" in posts[0]  # the moderator's !chatoff answered; !chat then ignored
    assert not list((elsewhere / "data").rglob("*.jsonl"))  # nothing collected (the setting is kept)


def test_a_rollback_while_the_room_runs_is_picked_up(tmp_path, tiny_checkpoint):
    home = ModelHome(tmp_path / "home")
    first = home.add_version(tiny_checkpoint, move=False)
    home.promote(first)
    time.sleep(1.1)  # version names are timestamps
    second = home.add_version(tiny_checkpoint, move=False)
    home.promote(second)
    room = subprocess.Popen([sys.executable, "-m", "bot", "local", "--model", str(home.path), "--mod"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, env=clean_env())
    try:
        room.stdin.write("hello chat\n")
        room.stdin.flush()
        time.sleep(8)  # the room is up and its reloader polls the home
        home.rollback()  # from outside, as `python -m trainer rollback` does
        time.sleep(8)
        out, err = room.communicate("!chatstatus\n", timeout=120)
    finally:
        room.kill()
    assert room.returncode == 0, err[-2000:]
    status = [line for line in out.splitlines() if line.startswith("streamchat: model ")]
    assert status and status[0].startswith(f"streamchat: model {first}"), out


def test_ctrl_d_leaves_during_a_replay_and_me_lines_read_as_chat(tmp_path, tiny_checkpoint):
    log = tmp_path / "chat.txt"
    log.write_text("".join(f"[0:{i // 60:02d}:{i % 60:02d}] <viewer> \x01ACTION waves {i}\x01\n" for i in range(600)))
    controller, terminal = pty.openpty()
    room = subprocess.Popen([sys.executable, "-m", "bot", "local", "--model", str(tiny_checkpoint),
                             "--replay", str(log), "--no-collect"],
                            stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env=clean_env())
    try:
        time.sleep(8)
        os.write(controller, b"\x04")  # Ctrl-D at the start of a line: end of input
        out, err = room.communicate(timeout=60)
    finally:
        room.kill()
        os.close(controller)
        os.close(terminal)
    assert room.returncode == 0, err[-2000:]
    replayed = [line for line in out.splitlines() if "viewer: " in line]
    assert replayed and len(replayed) < 100  # left long before the 600 lines' 10 minutes
    assert "waves 0" in replayed[0] and "ACTION" not in out and "\x01" not in out


def test_a_copied_env_example_leaves_the_demo_on_the_sample(tmp_path, tiny_checkpoint):
    shutil.copyfile(REPO / ".env.example", tmp_path / ".env")  # STREAMCHAT_MODEL=models/mychannel, not there
    shutil.copytree(tiny_checkpoint, tmp_path / "models" / "sample")
    result = local([], "!chat hello\n", tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "STREAMCHAT_MODEL=models/mychannel has no model yet; using the sample model" in result.stderr
    assert any(line.startswith("streamchat: hello") for line in result.stdout.splitlines())
