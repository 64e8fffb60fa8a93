"""`python -m bot login` end to end: TwitchIO's OAuth adapter, the fake Twitch's consent page, the token file."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import aiohttp

from bot.config import load_settings
from bot.login import authorize
from fake_twitch import FakeTwitch


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_login_saves_the_bot_and_broadcaster_tokens_privately(tmp_path):
    async def scenario():
        async with FakeTwitch() as fake:
            bot_id = fake.add_user("streamchat_bot")
            broadcaster_id = fake.add_user("streamer")
            settings = load_settings({**fake.env(), "STREAMCHAT_TOKENS": str(tmp_path / "tokens.json")},
                                     dotenv=None, twitch=False, model=False)
            port = free_port()
            out = io.StringIO()
            login = asyncio.get_running_loop().create_task(authorize(settings, port=port, timeout=30, out=out))
            base = f"http://localhost:{port}/oauth?scopes="
            async with aiohttp.ClientSession() as browser:
                for _ in range(200):  # until the adapter listens
                    try:
                        async with browser.get(f"http://localhost:{port}/oauth"):
                            break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.05)
                for user_id, scopes in ((bot_id, "user:read:chat+user:write:chat+user:bot"), (broadcaster_id, "channel:bot")):
                    fake.authorize_as = user_id  # who is logged in to Twitch in the browser
                    async with browser.get(base + scopes) as page:
                        assert page.status == 200 and "Success" in await page.text()
            saved = await asyncio.wait_for(login, 20)
            return fake, bot_id, broadcaster_id, saved, out.getvalue()

    fake, bot_id, broadcaster_id, saved, printed = asyncio.run(scenario())
    path = tmp_path / "tokens.json"
    on_disk = json.loads(path.read_text())
    assert set(on_disk) == {bot_id, broadcaster_id} and on_disk == saved
    assert all(entry["token"] in fake.tokens and entry["refresh"] for entry in on_disk.values())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert f"TWITCH_BOT_ID={bot_id}" in printed and "oauth/callback" in printed
    assert not any(entry["token"] in printed or entry["refresh"] in printed for entry in on_disk.values())


def test_login_without_network_is_one_line_and_exit_3(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on: Twitch is unreachable
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWITCH_", "STREAMCHAT_"))}
    env.update(TWITCH_CLIENT_ID="x", TWITCH_CLIENT_SECRET="y", TWITCH_AUTH_URL=f"http://127.0.0.1:{closed}/",
               TWITCH_API_URL=f"http://127.0.0.1:{closed}/helix/", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = subprocess.run([sys.executable, "-m", "bot", "login", "--port", str(port)], capture_output=True,
                            text=True, cwd=tmp_path, env=env, timeout=60)
    assert result.returncode == 3
    assert result.stderr.strip().startswith("error: cannot reach Twitch") and len(result.stderr.splitlines()) == 1
