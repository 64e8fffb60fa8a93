"""The token file (STREAMCHAT_TOKENS): TwitchIO's `.tio.tokens.json` format, private to its owner.

    {"<user id>": {"user_id": "...", "token": "...", "refresh": "...", "last_validated": "..."}}

TwitchIO's own `save_tokens` writes it with the default permissions and only on a clean
shutdown; these helpers write it atomically (temporary file + rename) with mode 0600, so a
refreshed token survives a crash and no other user on the machine can read it. Tokens are
secrets: nothing here logs them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from bot.config import EXIT_SETTINGS
from trainer.errors import StreamchatError
from trainer.fsutil import write_json_atomic


def read_tokens(path: str | Path) -> dict[str, dict]:
    """The saved tokens by user id ({} when the file does not exist)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise StreamchatError(
            f"the token file {path} is unreadable ({error}); delete it and run `python -m bot login` again",
            exit_code=EXIT_SETTINGS,
        ) from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) and "token" in v and "refresh" in v for v in data.values()):
        raise StreamchatError(
            f"{path} is not a token file; delete it and run `python -m bot login` again", exit_code=EXIT_SETTINGS
        )
    return data


def write_tokens(path: str | Path, tokens: Mapping[str, Mapping]) -> None:
    """Write the tokens atomically, readable by the owner only (0600)."""
    write_json_atomic(path, {user: dict(data) for user, data in tokens.items()}, permissions=0o600)
