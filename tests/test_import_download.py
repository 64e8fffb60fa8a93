"""`python -m trainer download` against a stand-in `tcd` executable the test writes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from trainer.ingest import download
from trainer.errors import StreamchatError

REPO = Path(__file__).resolve().parents[1]

# The stand-in records its arguments and stdin, then behaves as $TCD_MODE says.
FAKE_TCD = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["TCD_ARGS_FILE"], "w") as f:
    json.dump({{"args": args, "stdin_closed": sys.stdin.read() == ""}}, f)
mode = os.environ.get("TCD_MODE", "ok")
if mode == "gone":
    print("requests.exceptions.HTTPError: 410 Client Error: Gone for url: https://api.twitch.tv/v5/videos/1/comments")
    sys.exit(1)
if mode == "prompt":
    print("Client ID: ", end="")
    input()
out = args[args.index("--output") + 1]
for vod in args[args.index("--video") + 1].split(","):
    with open(os.path.join(out, vod + ".txt"), "w") as f:
        f.write("[0:00:05] <viewer_one> hello chat Kappa\\n")
"""


@pytest.fixture
def fake_tcd(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tcd = bin_dir / "tcd"
    tcd.write_text(FAKE_TCD.format(python=sys.executable))
    tcd.chmod(tcd.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TCD_ARGS_FILE", str(tmp_path / "args.json"))
    env_file = tmp_path / ".env"
    env_file.write_text("TWITCH_CLIENT_ID=myclientid\nTWITCH_CLIENT_SECRET=mysecret\n")
    monkeypatch.delenv("TWITCH_CLIENT_ID", raising=False)
    monkeypatch.delenv("TWITCH_CLIENT_SECRET", raising=False)
    return tmp_path, env_file


def test_downloads_vods_with_credentials_on_the_command_line(fake_tcd):
    tmp_path, env_file = fake_tcd
    out = tmp_path / "raw"
    written = download.download(["752430475", "https://www.twitch.tv/videos/744492625"], out, env_file=env_file)
    assert [p.name for p in written] == ["744492625.txt", "752430475.txt"]
    called = json.loads((tmp_path / "args.json").read_text())
    args = called["args"]
    assert args[args.index("--client-id") + 1] == "myclientid"
    assert args[args.index("--client-secret") + 1] == "mysecret"
    assert args[args.index("--video") + 1] == "752430475,744492625"
    assert args[args.index("--format") + 1] == "default"
    assert called["stdin_closed"]  # never an interactive prompt


def test_channels_pass_first(fake_tcd, monkeypatch):
    tmp_path, env_file = fake_tcd
    videos, channels = download.parse_targets(["sodapoppin,https://twitch.tv/Lirik", "v123456"])
    assert videos == ["123456"] and channels == ["sodapoppin", "lirik"]
    command = download.tcd_command("tcd", [], channels, Path("out"), "irc", 3, "id", "secret")
    assert command[command.index("--channel") + 1] == "sodapoppin,lirik"
    assert command[command.index("--first") + 1] == "3"
    with pytest.raises(StreamchatError, match="neither a VOD id"):
        download.parse_targets(["not a name!"])


def test_410_gone_says_what_to_do_instead(fake_tcd, monkeypatch):
    tmp_path, env_file = fake_tcd
    monkeypatch.setenv("TCD_MODE", "gone")
    with pytest.raises(StreamchatError) as error:
        download.download(["752430475"], tmp_path / "raw", env_file=env_file)
    message = str(error.value)
    assert "410 Gone" in message
    assert "TwitchDownloaderCLI chatdownload --id 752430475 -o data/raw/752430475.json" in message
    assert "python -m trainer prepare" in message
    assert "mysecret" not in message


def test_prompt_is_never_waited_for(fake_tcd, monkeypatch):
    tmp_path, env_file = fake_tcd
    monkeypatch.setenv("TCD_MODE", "prompt")
    with pytest.raises(StreamchatError, match="asked for input"):
        download.download(["752430475"], tmp_path / "raw", env_file=env_file, timeout=60)


def test_missing_tcd_and_missing_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(download, "find_tcd", lambda: None)
    with pytest.raises(StreamchatError) as error:
        download.download(["752430475"], tmp_path / "raw")
    assert "tcd is not installed" in str(error.value) and "streamchat[download]" in str(error.value)
    assert "TwitchDownloaderCLI chatdownload" in str(error.value)
    monkeypatch.delenv("TWITCH_CLIENT_ID", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StreamchatError, match="TWITCH_CLIENT_ID and TWITCH_CLIENT_SECRET"):
        download.credentials(None)


def test_cli_runs_the_stand_in(fake_tcd):
    tmp_path, env_file = fake_tcd
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "trainer", "download", "752430475", "--out", str(tmp_path / "raw"), "--env", str(env_file)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "752430475.txt" in result.stdout and "python -m trainer prepare" in result.stdout
    env["TCD_MODE"] = "gone"
    result = subprocess.run(
        [sys.executable, "-m", "trainer", "download", "752430475", "--env", str(env_file)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 2 and "410 Gone" in result.stderr
