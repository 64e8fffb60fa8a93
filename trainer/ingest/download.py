"""`python -m trainer download VOD_OR_CHANNEL...`: fetch chat logs with tcd into data/raw/.

tcd (Twitch Chat Downloader, PyPI `tcd`) is an optional extra: it pins `requests==2.27.1` and
friends, so install it apart (`pip install 'streamchat[download]'`, best in its own venv, and put
its `tcd` on PATH). We pass the credentials from `.env` (`TWITCH_CLIENT_ID`,
`TWITCH_CLIENT_SECRET`) on its command line and close its stdin, so it never prompts.

Since December 2022 Twitch answers tcd's comments endpoint (Kraken v5) with `410 Gone`, so tcd
no longer gets chat. We detect that, and a missing tcd, and say what works instead:
TwitchDownloader's `TwitchDownloaderCLI chatdownload --id <VOD> -o data/raw/<VOD>.json`, then
`python -m trainer prepare data/raw --out data/prepared/<name>`.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from trainer.errors import StreamchatError

logger = logging.getLogger(__name__)

DEFAULT_OUT = Path("data/raw")
TCD_FORMATS = ("default", "irc", "json", "srt", "ssa")
_VIDEO = re.compile(r"(?:https?://(?:www\.)?twitch\.tv/videos/|v)?(\d{5,})/?$")
_CHANNEL = re.compile(r"(?:https?://(?:www\.)?twitch\.tv/)?([A-Za-z0-9_]{3,25})/?$")


def instead(ids: list[str] | None = None) -> str:
    """What to do when tcd can't download chat."""
    vod = (ids or ["<VOD id>"])[0]
    return (
        "Download chat with TwitchDownloader instead (https://github.com/lay295/TwitchDownloader, "
        f"the CLI is one binary): `TwitchDownloaderCLI chatdownload --id {vod} -o data/raw/{vod}.json`, "
        "then `python -m trainer prepare data/raw --out data/prepared/mychannel`. "
        "Logs you already have (Chatterino, justlog, IRC captures, ...) work the same way: copy them into data/raw/."
    )


def find_tcd() -> str | None:
    """The tcd executable: on PATH, or beside this Python (an extra installed in the same venv)."""
    found = shutil.which("tcd")
    if found:
        return found
    beside = Path(sys.executable).parent / "tcd"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def parse_targets(targets: list[str]) -> tuple[list[str], list[str]]:
    """Split the arguments into VOD ids and channel logins (URLs accepted)."""
    videos, channels = [], []
    for target in targets:
        for item in filter(None, (t.strip() for t in target.split(","))):
            video = _VIDEO.match(item)
            if video:
                videos.append(video.group(1))
                continue
            channel = _CHANNEL.match(item)
            if channel:
                channels.append(channel.group(1).lower())
                continue
            raise StreamchatError(f"{item!r} is neither a VOD id (digits, or twitch.tv/videos/<id>) nor a channel login")
    return videos, channels


def credentials(env_file: Path | None) -> tuple[str, str]:
    from dotenv import dotenv_values

    values: dict[str, str] = {}
    path = env_file or Path(".env")
    if path.is_file():
        values.update({k: v for k, v in dotenv_values(path).items() if v})
    elif env_file is not None:
        raise StreamchatError(f"{env_file}: no such file; copy .env.example to .env and fill it in")
    values.update({k: v for k, v in os.environ.items() if v})  # the environment wins over .env
    client_id = values.get("TWITCH_CLIENT_ID", "").strip()
    secret = values.get("TWITCH_CLIENT_SECRET", "").strip()
    if not client_id or not secret:
        raise StreamchatError(
            f"TWITCH_CLIENT_ID and TWITCH_CLIENT_SECRET are needed (put them in {path}; see .env.example; "
            "register an application at https://dev.twitch.tv/console/apps to get them)"
        )
    return client_id, secret


def tcd_command(tcd: str, videos: list[str], channels: list[str], out: Path, fmt: str, first: int,
                client_id: str, secret: str) -> list[str]:
    command = [tcd, "--format", fmt, "--output", str(out), "--client-id", client_id, "--client-secret", secret]
    if videos:
        command += ["--video", ",".join(videos)]
    if channels:
        command += ["--channel", ",".join(channels), "--first", str(first)]
    return command


def download(targets: list[str], out: Path = DEFAULT_OUT, *, fmt: str = "default", first: int = 5,
             env_file: Path | None = None, timeout: float | None = None) -> list[Path]:
    """Run tcd for VOD ids and/or channels; return the files it wrote into `out`."""
    videos, channels = parse_targets(targets)
    if not videos and not channels:
        raise StreamchatError("give at least one VOD id or channel login")
    if fmt not in TCD_FORMATS:
        raise StreamchatError(f"tcd format {fmt!r} unknown; use one of {', '.join(TCD_FORMATS)}")
    tcd = find_tcd()
    if tcd is None:
        raise StreamchatError(
            "tcd is not installed. It is an optional extra (pip install 'streamchat[download]', best in its "
            "own venv because it pins requests==2.27.1) — but it can't download chat any more either: "
            "Twitch removed its comments endpoint (410 Gone). " + instead(videos)
        )
    client_id, secret = credentials(env_file)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    before = {p: p.stat().st_mtime for p in out.iterdir() if p.is_file()}
    command = tcd_command(tcd, videos, channels, out, fmt, first, client_id, secret)
    shown = " ".join("***" if part in (client_id, secret) else part for part in command)
    logger.info("running %s", shown)
    try:
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        raise StreamchatError(f"tcd did not finish within {timeout:.0f} s; " + instead(videos)) from None
    except OSError as error:
        raise StreamchatError(f"could not run tcd at {tcd} ({error.strerror}); " + instead(videos)) from None
    output = (result.stdout or "") + (result.stderr or "")
    for secret_value in (client_id, secret):
        output = output.replace(secret_value, "***")
    if re.search(r"\b410\b.*Gone|Gone.*\b410\b|410 Client Error", output):
        raise StreamchatError(
            "tcd reached Twitch, but Twitch answered 410 Gone: the comments API tcd uses was removed in "
            "December 2022, so tcd can't download chat any more. " + instead(videos)
        )
    if "EOFError" in output:
        raise StreamchatError("tcd asked for input it did not get (credentials?); check TWITCH_CLIENT_ID and "
                              "TWITCH_CLIENT_SECRET in .env. " + instead(videos))
    if result.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-5:])
        raise StreamchatError(f"tcd failed (exit {result.returncode}):\n{tail}\n" + instead(videos))
    written = sorted(p for p in out.iterdir() if p.is_file() and before.get(p) != p.stat().st_mtime)
    if not written:
        raise StreamchatError("tcd ran but wrote no file into "
                              f"{out}. Its output:\n{output.strip()[-500:]}\n" + instead(videos))
    return written


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "download",
        help="download chat of VODs or channels with tcd (optional extra) into data/raw/",
        description="Run tcd (Twitch Chat Downloader) for VOD ids or channel logins, with the credentials "
        "from .env, writing into data/raw/. Twitch removed tcd's endpoint (410 Gone); when that happens "
        "this says what to use instead.",
    )
    parser.add_argument("targets", nargs="+", metavar="VOD_OR_CHANNEL", help="VOD ids, video URLs or channel logins")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR", help="where files go (data/raw)")
    parser.add_argument("--format", dest="fmt", default="default", choices=TCD_FORMATS, help="tcd output format")
    parser.add_argument("--first", type=int, default=5, metavar="N", help="for channels: the N most recent VODs")
    parser.add_argument("--env", type=Path, default=None, metavar="FILE", help="the .env file (default ./.env)")
    parser.set_defaults(func=run)


def run(args) -> int:
    written = download(args.targets, args.out, fmt=args.fmt, first=args.first, env_file=args.env)
    for path in written:
        print(path)
    print(f"downloaded {len(written)} file(s) into {args.out}; next: "
          f"python -m trainer prepare {args.out} --out data/prepared/<name>")
    return 0
