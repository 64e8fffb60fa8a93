"""`python -m bot login`: the one-time authorization, with TwitchIO's built-in OAuth adapter.

Twitch needs two yeses before the bot may read and post chat:
1. the bot account authorizes the application to read and send chat as a bot
   (`user:read:chat user:write:chat user:bot`);
2. each broadcaster allows the bot in their channel (`channel:bot`), unless the bot is a
   moderator there.

This command serves TwitchIO's OAuth pages on http://localhost:4343 (the redirect URL your
application must list at https://dev.twitch.tv/console/apps is
http://localhost:4343/oauth/callback), prints the two links to open, and saves each token as
it arrives to STREAMCHAT_TOKENS (TwitchIO's `.tio.tokens.json` format, mode 0600). Tokens are
never printed or logged. On a machine without a browser, open the links on another computer
through an SSH tunnel: `ssh -L 4343:localhost:4343 <server>`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from urllib.parse import quote

from bot.config import BOT_SCOPES, BROADCASTER_SCOPES, EXIT_TWITCH, Settings, load_settings
from bot.tokens import read_tokens, write_tokens
from trainer.errors import StreamchatError

logger = logging.getLogger(__name__)

DEFAULT_PORT = 4343


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "login",
        help="authorize the bot account and the broadcaster once; saves the tokens (STREAMCHAT_TOKENS)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"local port of the OAuth pages (default {DEFAULT_PORT})")
    parser.add_argument("--bot-only", action="store_true",
                        help="only the bot account (the bot is a moderator in its channels, or they authorized already)")
    parser.add_argument("--timeout", type=float, default=600, help="give up after this many seconds (default 600)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(twitch=False, model=False)
    if not settings.client_id or not settings.client_secret:
        raise StreamchatError(
            "set TWITCH_CLIENT_ID and TWITCH_CLIENT_SECRET first (in .env): register an application at "
            f"https://dev.twitch.tv/console/apps with the OAuth redirect URL http://localhost:{args.port}/oauth/callback"
        )
    asyncio.run(authorize(settings, port=args.port, broadcaster=not args.bot_only, timeout=args.timeout))
    return 0


async def authorize(settings: Settings, *, port: int = DEFAULT_PORT, broadcaster: bool = True,
                    timeout: float = 600, out=None) -> dict[str, dict]:
    """Serve the OAuth pages until the bot account (and a broadcaster) authorized; return the saved tokens."""
    import aiohttp
    import twitchio
    from twitchio import web

    from bot.twitch import use_endpoints

    out = out or sys.stdout
    use_endpoints(settings)
    saved = read_tokens(settings.tokens_path)
    bot_done = asyncio.Event()
    broadcaster_done = asyncio.Event()
    if not broadcaster:
        broadcaster_done.set()

    class LoginClient(twitchio.Client):
        async def event_oauth_authorized(self, payload) -> None:
            scopes = set(payload.scope if isinstance(payload.scope, list) else str(payload.scope).split())
            saved[payload.user_id] = {
                "user_id": payload.user_id,
                "token": payload.access_token,
                "refresh": payload.refresh_token,
                "last_validated": "",
            }
            write_tokens(settings.tokens_path, saved)
            print(f"\n  Authorized: {payload.user_login} (user id {payload.user_id}), scopes: {' '.join(sorted(scopes))}.",
                  file=out, flush=True)
            if set(BOT_SCOPES) <= scopes:
                print(f"  This is the bot account: put TWITCH_BOT_ID={payload.user_id} in your .env.", file=out, flush=True)
                bot_done.set()
            if set(BROADCASTER_SCOPES) <= scopes:
                print(f"  {payload.user_login} lets the bot into their channel.", file=out, flush=True)
                broadcaster_done.set()

    adapter = web.AiohttpAdapter(host="localhost", port=port)
    client = LoginClient(client_id=settings.client_id, client_secret=settings.client_secret, adapter=adapter)
    try:
        async with client:
            try:
                await client.login(load_tokens=False, save_tokens=False)
            except twitchio.HTTPException as error:
                raise StreamchatError(
                    f"Twitch rejected TWITCH_CLIENT_ID / TWITCH_CLIENT_SECRET ({error.status}); check them at "
                    "https://dev.twitch.tv/console/apps", exit_code=EXIT_TWITCH) from None
            except (aiohttp.ClientConnectionError, OSError) as error:  # as `bot run` says it
                raise StreamchatError(
                    f"cannot reach Twitch ({error}); check the network, or TWITCH_API_URL / TWITCH_AUTH_URL",
                    exit_code=EXIT_TWITCH) from None
            await adapter.run()
            base = f"http://localhost:{port}/oauth?scopes="
            print(
                "streamchat login: two authorizations, each done once.\n"
                f"  Your application at https://dev.twitch.tv/console/apps must list the OAuth redirect URL\n"
                f"  http://localhost:{port}/oauth/callback\n\n"
                "1. Log in to Twitch in your browser AS THE BOT ACCOUNT, then open:\n"
                f"   {base}{quote(' '.join(BOT_SCOPES))}&force_verify=true\n"
                "   (lets the bot read chat and post as a Chat Bot)",
                file=out, flush=True,
            )
            if broadcaster:
                print(
                    "2. Then log in AS THE BROADCASTER (each channel in TWITCH_CHANNELS) and open:\n"
                    f"   {base}{quote(' '.join(BROADCASTER_SCOPES))}&force_verify=true\n"
                    "   (lets the bot into the channel; not needed where the bot is a moderator:\n"
                    "    then stop here with Ctrl-C after step 1, or use --bot-only)",
                    file=out, flush=True,
                )
            print(f"\nWaiting for Twitch (tokens go to {settings.tokens_path}, readable only by you) ...",
                  file=out, flush=True)
            try:
                async with asyncio.timeout(timeout):
                    await bot_done.wait()
                    await broadcaster_done.wait()
            except TimeoutError:
                raise StreamchatError(f"no authorization within {timeout:.0f} s; run `python -m bot login` again") from None
            print("\nDone. Start the bot with: python -m bot run", file=out, flush=True)
    finally:
        await adapter.close()
    return saved
