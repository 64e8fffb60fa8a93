"""`python -m trainer publish MODEL_DIR --repo USER/NAME`: a checkpoint onto the Hugging Face Hub.

The folder goes up as it is, through huggingface_hub's `upload_folder` (one commit), with the
model card (README.md), weights, tokenizer, generation config and streamchat's card, minus
what only this machine needs (an unfinished run's `training/` folder, hidden files). The token
is huggingface_hub's own: HF_TOKEN, or the one `hf auth login` saved. HF_ENDPOINT points it
at another Hub (the tests use a stand-in on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from trainer.errors import StreamchatError

logger = logging.getLogger(__name__)

LEFT_OUT = ["training/**", "checkpoint-*/**", ".*", "**/.*"]


def publish(model_dir: Path, repo: str, *, private: bool = False, message: str | None = None) -> str:
    """Create `repo` (a model repository) if needed and upload the checkpoint; return its URL."""
    from huggingface_hub import HfApi, get_token
    from huggingface_hub.errors import HfHubHTTPError

    from trainer.model.checkpoint import load_card, resolve_model

    model_dir = resolve_model(model_dir)  # a model home publishes its current version
    load_card(model_dir)  # a clear error for anything but a complete checkpoint
    if "/" not in repo or repo.count("/") != 1 or not all(repo.split("/")):
        raise StreamchatError(f"--repo must be USER/NAME (got {repo!r})")
    if get_token() is None:
        raise StreamchatError("no Hugging Face token: set HF_TOKEN, or run `hf auth login` once")
    api = HfApi()
    try:
        url = api.create_repo(repo, repo_type="model", private=private, exist_ok=True)
        api.upload_folder(folder_path=model_dir, repo_id=repo, repo_type="model", ignore_patterns=LEFT_OUT,
                          commit_message=message or f"streamchat model {model_dir.name}")
    except HfHubHTTPError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise StreamchatError(f"the Hub refused the upload to {repo}: {first}") from None
    except OSError as error:  # no network, a refused connection
        raise StreamchatError(f"cannot reach the Hub ({error}); check the network or HF_ENDPOINT") from None
    return str(url)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="upload a checkpoint to the Hugging Face Hub (its model card, weights and tokenizer)",
        description="Upload MODEL_DIR (a checkpoint, or a model home's current version) to the Hub as "
        "USER/NAME, creating the repository if needed. The token comes from HF_TOKEN or `hf auth login`.",
    )
    parser.add_argument("model_dir", metavar="MODEL_DIR", type=Path, help="a checkpoint or a model home")
    parser.add_argument("--repo", required=True, metavar="USER/NAME", help="the model repository on the Hub")
    parser.add_argument("--private", action="store_true", help="create the repository private")
    parser.add_argument("--message", help="the commit message")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    url = publish(args.model_dir, args.repo, private=args.private, message=args.message)
    print(f"published {args.model_dir} to {url}")
    return 0
