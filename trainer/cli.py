"""`python -m trainer <command>`: one subcommand per module, each module registering its own.

Every command module exposes `register(subparsers)`, which adds its parser and sets
`func=run` (a function taking the parsed args and returning an exit code). Command modules
import heavy libraries (torch, transformers) inside their functions, so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from trainer.errors import StreamchatError

# Order is the order in `--help`.
COMMAND_MODULES = (
    "trainer.ingest.prepare",
    "trainer.ingest.download",
    "trainer.model.train",
    "trainer.evaluation.evaluate",
    "trainer.engine.generate",
    "trainer.loop.retrain",
    "trainer.model.publish",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trainer",
        description="Import chat logs, train and evaluate a chat model, and generate from it.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


class _PlainFormatter(logging.Formatter):
    """What people read without -v: the message alone, `warning: ...` for a problem."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {text}"


def configure_logging(verbose: bool) -> None:
    """Debug logging with times and module names under -v; otherwise streamchat's own messages
    and every library's warnings, with their routine notices and inner progress bars silenced
    (transformers and huggingface_hub read these variables when they are first imported)."""
    if verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    handler = logging.StreamHandler()
    handler.setFormatter(_PlainFormatter("%(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    for library in ("accelerate", "httpx", "httpx2", "httpcore", "urllib3", "filelock"):
        logging.getLogger(library).setLevel(logging.WARNING)


def dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace, *, no_command: int = 2) -> int:
    """Run the chosen subcommand: a StreamchatError becomes `error: ...` and its exit code."""
    if not getattr(args, "func", None):
        parser.print_help()
        return no_command
    try:
        return int(args.func(args) or 0)
    except StreamchatError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    return dispatch(parser, args)
