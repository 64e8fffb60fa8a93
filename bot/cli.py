"""`python -m bot <command>`: `run` (on Twitch), `local` (a chat room in the terminal), `login`.

Exit codes: 0 done; 2 a setting is missing or wrong; 3 Twitch refused (token, client, channel);
4 the model is missing or unreadable; 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Callable, Sequence

from bot.config import EXIT_SETTINGS, EXIT_TWITCH, Settings, load_settings
from trainer.cli import configure_logging, dispatch
from trainer.errors import StreamchatError

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    from bot import local, login

    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="streamchat's chat bot: answers !chat, joins the conversation, collects chat for retraining.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    run_parser = subparsers.add_parser(
        "run",
        help="run the bot on Twitch (settings from the environment and .env; see .env.example)",
        description="Run the bot in the channels of TWITCH_CHANNELS, with the model STREAMCHAT_MODEL. "
        "Every setting comes from the environment or .env (see .env.example).",
    )
    run_parser.set_defaults(func=run)
    local.register(subparsers)
    login.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    if not args.verbose:
        # TwitchIO logs every websocket frame at debug and some routine steps at info.
        logging.getLogger("twitchio").setLevel(logging.WARNING)
    return dispatch(parser, args, no_command=EXIT_SETTINGS)


def run(args: argparse.Namespace) -> int:
    from bot.commands import ModeratorCommands, command_names
    from bot.learning import LearningLoop

    settings = load_settings()
    if not settings.tokens_path.is_file():
        raise StreamchatError(
            f"no token file at {settings.tokens_path} (STREAMCHAT_TOKENS): run `python -m bot login` first",
            exit_code=EXIT_SETTINGS,
        )
    names = command_names()
    # The learning loop loads the model (following a model home's `current`); with the
    # moderators' commands it adds live reload, retraining and opt-outs to the chat bot.
    learning = LearningLoop.from_environment(settings.model, settings.collect_dir)
    asyncio.run(run_bot(settings, learning.generator, components=[ModeratorCommands.factory(learning, names)]))
    return 0


async def run_bot(settings: Settings, generator, *, components: Sequence[Callable] = (), on_ready=None) -> None:
    """Run the bot until it is closed (SIGINT/SIGTERM, or `bot.close()`); Twitch's refusals become StreamchatErrors.

    `on_ready(bot)` is called once the bot reads chat (tests use it to get hold of the bot).
    """
    import aiohttp
    import twitchio

    from bot.collector import Collector
    from bot.generation import ModelWorker
    from bot.twitch import StreamchatBot, use_endpoints

    use_endpoints(settings)
    worker = ModelWorker(generator)
    collector = Collector(settings.collect_dir) if settings.collect else None
    bot = StreamchatBot(settings, worker, collector=collector, check=worker.check, components=components)
    loop = asyncio.get_running_loop()
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    try:
        for sig in stop_signals:
            loop.add_signal_handler(sig, lambda: loop.create_task(bot.close()))
    except (NotImplementedError, RuntimeError):  # not the main thread, or no signals on this platform
        stop_signals = ()
    ready_task = None
    if on_ready is not None:
        async def call_when_ready() -> None:
            await bot.started.wait()
            on_ready(bot)

        ready_task = loop.create_task(call_when_ready())
    try:
        async with bot:
            await bot.start(with_adapter=False, load_tokens=True, save_tokens=True)
    except twitchio.HTTPException as error:
        raise StreamchatError(_explain_http_error(error, settings), exit_code=EXIT_TWITCH) from None
    except (aiohttp.ClientConnectionError, OSError) as error:
        raise StreamchatError(
            f"cannot reach Twitch ({error}); check the network, or TWITCH_API_URL / TWITCH_AUTH_URL / TWITCH_EVENTSUB_URL",
            exit_code=EXIT_TWITCH,
        ) from None
    finally:
        if ready_task:
            ready_task.cancel()
        for sig in stop_signals:
            loop.remove_signal_handler(sig)
        worker.close()
        if collector is not None:
            collector.close()


def _explain_http_error(error, settings: Settings) -> str:
    # Never the full URL: a token request carries the client secret in its query.
    route = str(getattr(error, "route", "") or "").split("?")[0]
    if "oauth2/token" in route or "oauth2/validate" in route:
        return (f"Twitch rejected the application's credentials ({error.status}): check TWITCH_CLIENT_ID and "
                "TWITCH_CLIENT_SECRET (https://dev.twitch.tv/console/apps)")
    return f"Twitch refused a request ({error.status} on {route or 'the API'}): {error.extra}"
