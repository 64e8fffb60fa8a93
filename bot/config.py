"""The bot's settings: read from the environment and `.env` (python-dotenv), checked up front.

Every setting is an environment variable documented in `.env.example`. A wrong or missing one
is a StreamchatError that names the variable and says what to set, so `python -m bot run`
fails in its first second with a message instead of a traceback minutes later.

Behaviour settings (cooldowns, joining in, send limits) apply to every channel and can be
overridden for one channel by suffixing the channel's login, upper-cased, after two
underscores: `STREAMCHAT_JOIN_MESSAGES__SOMECHANNEL=0` turns joining in off there.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from trainer.errors import StreamchatError

# Exit codes: 2 a setting is missing or wrong; 3 Twitch refused it (token, client, channel);
# 4 the model is missing or unreadable.
EXIT_SETTINGS = 2
EXIT_TWITCH = 3
EXIT_MODEL = 4

TWITCH_API_URL = "https://api.twitch.tv/helix/"
TWITCH_AUTH_URL = "https://id.twitch.tv/"
TWITCH_EVENTSUB_URL = "wss://eventsub.wss.twitch.tv/ws"

BOT_SCOPES = ("user:read:chat", "user:write:chat", "user:bot")
BROADCASTER_SCOPES = ("channel:bot",)

LOGIN_PATTERN = re.compile(r"^[a-z0-9_]{1,25}$")


@dataclass
class ChannelSettings:
    """How the bot behaves in one channel. Times in seconds unless the name says otherwise."""

    cooldown: float = 5.0  # between two `!chat` answers in the channel
    user_cooldown: float = 30.0  # between two `!chat` answers to the same viewer
    queue_size: int = 3  # `!chat` requests waiting for the model; more are dropped quietly
    answer_name: bool = True  # a message starting with the bot's name is answered like `!chat`
    # Joining in unprompted: about as often as a streamer's own timers (Nightbot's run every 5
    # minutes or more), so the bot reads as one more chatter, not as spam.
    join_messages: int = 150  # join in after about this many human messages (0: never)
    join_minutes: float = 15.0  # ... or after about this many minutes (0: never)
    join_jitter: float = 0.25  # both thresholds vary by up to this fraction
    join_min_seconds: float = 300.0  # never join in more often than this (busy chat reaches N fast)
    active_messages: int = 5  # chat counts as active with at least this many human messages ...
    active_seconds: float = 120.0  # ... within this many seconds; the bot joins in only then
    context_messages: int = 30  # recent messages the model sees
    send_interval: float = 1.0  # at least this long between two posts (not a moderator)
    rate_limit: int = 20  # posts per rate window where the bot is not a moderator (Twitch: 20)
    rate_limit_moderator: int = 100  # ... where it is moderator or broadcaster (Twitch: 100)
    rate_window: float = 30.0  # Twitch's rate window
    duplicate_window: float = 30.0  # never post the same text twice within this long
    max_wait: float = 30.0  # a post that waited this long in the send queue is dropped


# (field, variable, meaning) for the behaviour settings, in .env.example's order.
BEHAVIOUR_VARIABLES: tuple[tuple[str, str, str], ...] = (
    ("cooldown", "STREAMCHAT_COOLDOWN", "seconds between two `!chat` answers in a channel"),
    ("user_cooldown", "STREAMCHAT_USER_COOLDOWN", "seconds between two `!chat` answers to the same viewer"),
    ("queue_size", "STREAMCHAT_QUEUE_SIZE", "`!chat` requests that may wait for the model; more are dropped quietly"),
    ("answer_name", "STREAMCHAT_ANSWER_NAME", "answer messages that start with the bot's name like `!chat` (1/0)"),
    ("join_messages", "STREAMCHAT_JOIN_MESSAGES", "join the conversation after about N human messages (0: off)"),
    ("join_minutes", "STREAMCHAT_JOIN_MINUTES", "join the conversation after about T minutes (0: off)"),
    ("join_jitter", "STREAMCHAT_JOIN_JITTER", "random variation of N and T, as a fraction"),
    ("join_min_seconds", "STREAMCHAT_JOIN_MIN_SECONDS", "never join in more often than once per this many seconds"),
    ("active_messages", "STREAMCHAT_ACTIVE_MESSAGES", "chat is active with at least this many human messages ..."),
    ("active_seconds", "STREAMCHAT_ACTIVE_SECONDS", "... within this many seconds; the bot joins in only then"),
    ("context_messages", "STREAMCHAT_CONTEXT_MESSAGES", "recent chat messages the model sees as context"),
    ("send_interval", "STREAMCHAT_SEND_INTERVAL", "minimum seconds between two posts where the bot is not a moderator"),
    ("rate_limit", "STREAMCHAT_RATE_LIMIT", "posts per window where the bot is not a moderator (Twitch allows 20)"),
    ("rate_limit_moderator", "STREAMCHAT_RATE_LIMIT_MODERATOR", "posts per window where it is a moderator (Twitch allows 100)"),
    ("rate_window", "STREAMCHAT_RATE_WINDOW", "the rate window in seconds (Twitch: 30)"),
    ("duplicate_window", "STREAMCHAT_DUPLICATE_WINDOW", "never post the same text twice within this many seconds"),
    ("max_wait", "STREAMCHAT_MAX_WAIT", "drop a post that waited this many seconds to be sent"),
)


@dataclass
class Settings:
    client_id: str = ""
    client_secret: str = ""
    bot_id: str = ""
    channels: list[str] = field(default_factory=list)
    tokens_path: Path = Path(".tio.tokens.json")
    model: Path | None = None
    collect_dir: Path = Path("data/collected")
    collect: bool = True
    api_url: str = TWITCH_API_URL
    auth_url: str = TWITCH_AUTH_URL
    eventsub_url: str = TWITCH_EVENTSUB_URL
    extra_bots: frozenset[str] = frozenset()
    behaviour: ChannelSettings = field(default_factory=ChannelSettings)
    per_channel: dict[str, ChannelSettings] = field(default_factory=dict)

    def channel(self, login: str) -> ChannelSettings:
        return self.per_channel.get(login, self.behaviour)


def read_environment(environ: Mapping[str, str] | None = None, dotenv: str | Path | None = ".env") -> dict[str, str]:
    """The process environment over the values in `dotenv` (when that file exists)."""
    values: dict[str, str] = {}
    if dotenv is not None and Path(dotenv).is_file():
        values.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return values


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    dotenv: str | Path | None = ".env",
    twitch: bool = True,
    model: bool = True,
) -> Settings:
    """Settings from the environment and `.env`; `twitch`/`model` say which parts must be complete.

    Raises StreamchatError listing every problem at once, each with what to set.
    """
    env = read_environment(environ, dotenv)
    problems: list[str] = []

    def get(name: str, default: str = "") -> str:
        return env.get(name, default).strip()

    settings = Settings(
        client_id=get("TWITCH_CLIENT_ID"),
        client_secret=get("TWITCH_CLIENT_SECRET"),
        bot_id=get("TWITCH_BOT_ID"),
        tokens_path=Path(get("STREAMCHAT_TOKENS") or ".tio.tokens.json").expanduser(),
        collect_dir=Path(get("STREAMCHAT_COLLECT_DIR") or "data/collected").expanduser(),
        api_url=_url(get("TWITCH_API_URL") or TWITCH_API_URL, "TWITCH_API_URL", ("http", "https"), problems),
        auth_url=_url(get("TWITCH_AUTH_URL") or TWITCH_AUTH_URL, "TWITCH_AUTH_URL", ("http", "https"), problems),
        eventsub_url=get("TWITCH_EVENTSUB_URL") or TWITCH_EVENTSUB_URL,
    )
    if not settings.eventsub_url.startswith(("ws://", "wss://")):
        problems.append(f"TWITCH_EVENTSUB_URL={settings.eventsub_url!r} is not a ws:// or wss:// address")
    settings.collect = _flag(get("STREAMCHAT_COLLECT", "1"), "STREAMCHAT_COLLECT", problems)

    raw_channels = [c.strip().lstrip("#").lower() for c in get("TWITCH_CHANNELS").split(",") if c.strip()]
    for login in raw_channels:
        if not LOGIN_PATTERN.match(login):
            problems.append(f"TWITCH_CHANNELS: {login!r} is not a Twitch login (letters, digits, _; up to 25)")
    settings.channels = list(dict.fromkeys(raw_channels))
    settings.extra_bots = frozenset(
        b.strip().lstrip("@").lower() for b in get("STREAMCHAT_EXTRA_BOTS").split(",") if b.strip()
    )

    if twitch:
        if not settings.client_id:
            problems.append(
                "TWITCH_CLIENT_ID is not set: the Client ID of your application at https://dev.twitch.tv/console/apps"
            )
        if not settings.client_secret:
            problems.append("TWITCH_CLIENT_SECRET is not set: create one for your application at https://dev.twitch.tv/console/apps")
        if not settings.bot_id:
            problems.append("TWITCH_BOT_ID is not set: the bot account's numeric user id (`python -m bot login` prints it)")
        elif not settings.bot_id.isdigit():
            problems.append(f"TWITCH_BOT_ID={settings.bot_id!r} is not a numeric user id (`python -m bot login` prints it)")
        if not settings.channels:
            problems.append("TWITCH_CHANNELS is not set: the channels to join, as comma-separated logins (e.g. mychannel)")

    model_value = get("STREAMCHAT_MODEL")
    settings.model = Path(model_value).expanduser() if model_value else None
    if model and settings.model is None:
        problems.append(
            "STREAMCHAT_MODEL is not set: the checkpoint or model home to load "
            "(make one with `python -m trainer prepare` and `python -m trainer train`)"
        )

    settings.behaviour = _behaviour(env, ChannelSettings(), "", problems)
    for login in settings.channels:
        overridden = _behaviour(env, settings.behaviour, "__" + login.upper(), problems)
        if overridden != settings.behaviour:
            settings.per_channel[login] = overridden

    if problems:
        raise StreamchatError(
            "the bot's settings need fixing (in the environment or .env; see .env.example):\n  - "
            + "\n  - ".join(problems),
            exit_code=EXIT_SETTINGS,
        )
    return settings


def _behaviour(env: Mapping[str, str], base: ChannelSettings, suffix: str, problems: list[str]) -> ChannelSettings:
    values = {}
    types = {f.name: f.type for f in dataclasses.fields(ChannelSettings)}
    for name, variable, meaning in BEHAVIOUR_VARIABLES:
        raw = env.get(variable + suffix, "").strip()
        if not raw:
            continue
        if types[name] in (bool, "bool"):
            values[name] = _flag(raw, variable + suffix, problems)
            continue
        kind = int if types[name] in (int, "int") else float
        try:
            value = kind(raw)
            if value < 0 or value != value:  # negative or NaN
                raise ValueError
        except ValueError:
            word = "a whole number" if kind is int else "a number"
            problems.append(f"{variable + suffix}={raw!r} must be {word} >= 0 ({meaning})")
            continue
        values[name] = value
    merged = dataclasses.replace(base, **values)
    if merged.rate_limit < 1 or merged.rate_limit_moderator < 1 or merged.rate_window <= 0:
        problems.append(f"STREAMCHAT_RATE_LIMIT{suffix}, STREAMCHAT_RATE_LIMIT_MODERATOR{suffix} and "
                        f"STREAMCHAT_RATE_WINDOW{suffix} must be at least 1")
    if merged.join_jitter > 1:
        problems.append(f"STREAMCHAT_JOIN_JITTER{suffix} must be between 0 and 1")
    return merged


def _flag(raw: str, name: str, problems: list[str]) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    problems.append(f"{name}={raw!r} must be 1 or 0")
    return True


def _url(value: str, name: str, schemes: tuple[str, ...], problems: list[str]) -> str:
    if not value.startswith(tuple(s + "://" for s in schemes)):
        problems.append(f"{name}={value!r} is not an http:// or https:// address")
        return value
    return value if value.endswith("/") else value + "/"
