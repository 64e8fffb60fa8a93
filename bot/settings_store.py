"""What moderators change from chat, kept per channel across restarts.

    STREAMCHAT_COLLECT_DIR/<channel>/.settings.json
    {"posting": false, "join_minutes": 5.0, "cooldown": 10.0, "temperature": 0.8}

Only what a moderator set is stored; everything else keeps the value from the environment
(`bot.config`). Every change is written atomically (temporary file, fsync, rename), so a
crash leaves the old or the new settings, never a broken file; an unreadable file is
logged and ignored rather than stopping the bot.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path

from trainer.fsutil import read_json, write_json_atomic

logger = logging.getLogger(__name__)

SETTINGS_FILE = ".settings.json"  # hidden: `prepare` skips it when pointed at the folder


@dataclass(frozen=True)
class Tunable:
    field: str  # the ChannelSettings field (or "temperature", which goes to the engine)
    kind: type
    low: float
    high: float
    meaning: str


# Names moderators type (`!chatset interval 5`) -> what they change.
TUNABLES: dict[str, Tunable] = {
    "interval": Tunable("join_minutes", float, 0, 1440, "minutes between the bot's own messages (0: off)"),
    "messages": Tunable("join_messages", int, 0, 100_000, "chat messages between the bot's own messages (0: off)"),
    "cooldown": Tunable("cooldown", float, 0, 3600, "seconds between two !chat answers"),
    "usercooldown": Tunable("user_cooldown", float, 0, 86_400, "seconds between two answers to one viewer"),
    "temperature": Tunable("temperature", float, 0.1, 2.0, "sampling temperature (higher: wilder)"),
}


class SettingError(ValueError):
    """A name or value a moderator typed that can't be used; the message is a one-line reply."""


def parse_value(name: str, raw: str):
    """The typed, range-checked value of setting `name`, or SettingError saying what is allowed."""
    tunable = TUNABLES.get(name.lower())
    if tunable is None:
        raise SettingError(f"unknown setting {name!r}; settings: {', '.join(TUNABLES)}")
    try:
        value = tunable.kind(float(raw)) if tunable.kind is int else float(raw)
        if tunable.kind is int and float(raw) != int(float(raw)):
            raise ValueError
    except (ValueError, OverflowError):
        value = None
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or not (
        tunable.low <= value <= tunable.high
    ):
        kind = "a whole number" if tunable.kind is int else "a number"
        raise SettingError(f"{name} must be {kind} from {tunable.low:g} to {tunable.high:g} ({tunable.meaning})")
    return value


class ChannelSettingsStore:
    """One channel's settings file. Safe to use from the event loop and worker threads."""

    def __init__(self, channel_dir: str | Path):
        self.path = Path(channel_dir) / SETTINGS_FILE
        self._lock = threading.Lock()
        data = read_json(self.path, {}) or {}
        if not isinstance(data, dict):
            logger.warning("ignoring %s: not a JSON object", self.path)
            data = {}
        self._values: dict = {}
        for key, value in data.items():
            if key == "posting":
                self._values["posting"] = bool(value)
                continue
            name = next((n for n, t in TUNABLES.items() if t.field == key), None)
            try:
                self._values[key] = parse_value(name, str(value)) if name else None
            except SettingError as error:
                logger.warning("ignoring %s in %s: %s", key, self.path, error)
            if self._values.get(key) is None:
                self._values.pop(key, None)

    @property
    def posting(self) -> bool:
        """Whether the bot posts in the channel (collection goes on either way)."""
        return self._values.get("posting", True)

    def set_posting(self, on: bool) -> None:
        self._save(posting=bool(on))

    def set(self, name: str, raw: str):
        """Set a tunable from a moderator's text; return the typed value (SettingError if bad)."""
        value = parse_value(name, raw)
        self._save(**{TUNABLES[name.lower()].field: value})
        return value

    def get(self, field: str, default=None):
        return self._values.get(field, default)

    def overrides(self) -> dict:
        return dict(self._values)

    def apply(self, behaviour):
        """`behaviour` (a bot.config.ChannelSettings) with the stored values in place."""
        names = {f.name for f in dataclasses.fields(behaviour)}
        changes = {k: v for k, v in self._values.items() if k in names}
        return dataclasses.replace(behaviour, **changes) if changes else behaviour

    def _save(self, **changes) -> None:
        with self._lock:
            self._values.update(changes)
            write_json_atomic(self.path, self._values)
