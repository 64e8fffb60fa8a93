"""The filter chain: what may be posted in a live Twitch channel.

Every message the generator returns (and anything else the bot posts) goes through
`FilterChain`. `clean(text)` repairs what can be repaired without changing meaning (invisible
and control characters, odd whitespace, over-long runs of one emote); `check(text)` then
returns why the text must not be posted (a short reason string, counted per reason) or `None`.

The rules, in the order they are checked:
  empty            nothing visible left
  invisible        control, zero-width, bidi or other invisible characters (clean() strips them)
  too_long         over Twitch's 500 characters
  too_many_words   over the configurable word limit
  command          starts with `/` or `.` (Twitch chat commands), `!` (other bots' commands) or `\\`
  url              a URL, `www.`, an IP address or anything domain-like (`bit.ly`, `a . com`)
  mention          an `@name` (or `@ name`), except the one name the caller allows
  banned_word      a banned word or phrase, matched as a whole word after undoing obfuscation
  emote_run        one word (emote) repeated more than `max_emote_run` times in a row
  training_copy    a verbatim copy (3+ words) of a training message
  repeat           one of the bot's own recent messages in that channel

Checks run on the NFKC form (so full-width `／` or `＠` count as `/` or `@`). The text rules
themselves (invisible characters, commands, links, mentions, Twitch's length limit) are
`trainer.text`'s, shared with the import and the bot's send queue.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter, deque
from collections.abc import Iterable
from importlib import resources

from trainer.errors import StreamchatError
from trainer.text import (
    TWITCH_MESSAGE_CHARS, fold, has_url, mentions, parse_word_list, sanitize, starts_with_command, strip_invisible,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_WORDS = 60
DEFAULT_MAX_EMOTE_RUN = 5
DEFAULT_REMEMBER = 20  # how many of the bot's own messages per channel count as "recent"
MIN_COPY_WORDS = 3

REASONS = (
    "empty",
    "invisible",
    "too_long",
    "too_many_words",
    "command",
    "url",
    "mention",
    "banned_word",
    "emote_run",
    "training_copy",
    "repeat",
)

# ---------------------------------------------------------------------------------------------
# Emote walls

def cap_runs(text: str, max_run: int) -> str:
    """Shorten runs of one repeated word ("KEKW KEKW KEKW ...") to at most `max_run`."""
    words = text.split(" ")
    out: list[str] = []
    run = 0
    for word in words:
        run = run + 1 if out and word == out[-1] else 1
        if run <= max_run:
            out.append(word)
    return " ".join(out)


def _longest_run(words: list[str]) -> int:
    longest = run = 0
    for i, word in enumerate(words):
        run = run + 1 if i and word == words[i - 1] else 1
        longest = max(longest, run)
    return longest


# ---------------------------------------------------------------------------------------------
# Banned words

# Look-alike letters from other scripts, after case folding.
_HOMOGLYPHS = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j",
        "ѕ": "s", "ԁ": "d", "ɡ": "g", "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i",
        "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ø": "o",
        "ł": "l", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe", "ı": "i",
    }
)
# What each letter may be written as (l33t).
_LEET = {
    "a": "a4@^", "b": "b8", "c": "c(<", "e": "e3€", "g": "g96", "h": "h#", "i": "i1!|",
    "l": "l1|", "o": "o0°", "s": "s5$", "t": "t7+", "z": "z2",
}
# Characters inserted between letters to dodge a filter ("n.i.g", "f a g", "f-a-g").
_SEPARATOR = r"[\s._\-*,'\"~:;=/\\]"


def fold_for_matching(text: str) -> str:
    """Case-folded, accents removed, look-alike letters mapped, long runs shortened."""
    text = unicodedata.normalize("NFKD", fold(text))
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.translate(_HOMOGLYPHS)
    # Runs of one character are capped at 3 (a banned word never needs more), which also
    # bounds the regex's work on "niiiiiiiii…".
    return re.sub(r"(.)\1{3,}", r"\1\1\1", text)


def _word_pattern(word: str) -> str:
    """A regex for one banned word or phrase: each letter may be repeated, written in l33t
    and separated from the next by dots or spaces; words of a phrase by any separators."""
    parts = []
    for token in word.split():
        units = []
        for char in token:
            cls = "[" + re.escape(_LEET.get(char, char)) + "]"
            units.append(f"{cls}(?:{_SEPARATOR}*{cls})*")
        parts.append(f"{_SEPARATOR}*".join(units))
    return f"{_SEPARATOR}+".join(parts)


def _compile_banned(words: Iterable[str]) -> re.Pattern | None:
    patterns = sorted({_word_pattern(w) for w in words}, key=len, reverse=True)
    if not patterns:
        return None
    # Whole words: no letter or digit right before or after; an optional plural s/z.
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(patterns) + r")(?:e?[s5$z])?(?![a-z0-9])")


def _normalize_banned(word: str) -> str:
    return " ".join(fold_for_matching(word).split())


def default_banned_words() -> list[str]:
    """The list that ships with streamchat (trainer/data/banned_words.txt)."""
    return parse_word_list(resources.files("trainer").joinpath("data/banned_words.txt").read_text("utf-8"))


# ---------------------------------------------------------------------------------------------
# The chain


def _allowed(allow_mention: str | None) -> str | None:
    return allow_mention.lstrip("@").casefold() if allow_mention else None


def _same_text_key(text: str) -> str:
    return " ".join(fold(text).split())


class FilterChain:
    """Decides whether a text may be posted; counts rejections by reason.

    `banned_words=None` means the shipped default list; pass `()` for none. `fingerprints` is
    the checkpoint's `FingerprintSet` of training messages (None: no copy check).
    """

    def __init__(
        self,
        *,
        banned_words: Iterable[str] | None = None,
        max_chars: int = TWITCH_MESSAGE_CHARS,
        max_words: int = DEFAULT_MAX_WORDS,
        max_emote_run: int = DEFAULT_MAX_EMOTE_RUN,
        fingerprints=None,
        remember: int = DEFAULT_REMEMBER,
    ):
        self.max_chars = min(max_chars, TWITCH_MESSAGE_CHARS)
        self.max_words = max_words
        self.max_emote_run = max_emote_run
        self.fingerprints = fingerprints
        self.remember_count = remember
        self.counts: Counter[str] = Counter()
        self._recent: dict[str | None, deque[str]] = {}
        words = default_banned_words() if banned_words is None else banned_words
        self._banned = {_normalize_banned(w) for w in words if w.strip()}
        self._banned_re = _compile_banned(self._banned)

    # -- banned words ------------------------------------------------------------------------
    @property
    def banned_words(self) -> frozenset[str]:
        return frozenset(self._banned)

    def add_banned_word(self, word: str) -> None:
        word = _normalize_banned(word)
        if not word:
            raise StreamchatError("a banned word needs at least one visible character")
        self._banned.add(word)
        self._banned_re = _compile_banned(self._banned)

    def remove_banned_word(self, word: str) -> bool:
        """Remove a word; True when it was in the list."""
        word = _normalize_banned(word)
        if word not in self._banned:
            return False
        self._banned.discard(word)
        self._banned_re = _compile_banned(self._banned)
        return True

    def banned_word_in(self, text: str) -> str | None:
        """The banned word's text as it appears (obfuscated or not), or None."""
        if self._banned_re is None:
            return None
        match = self._banned_re.search(fold_for_matching(text))
        return match.group(0) if match else None

    # -- the bot's own recent messages ---------------------------------------------------------
    def remember(self, text: str, channel: str | None = None) -> None:
        """Record a message the bot posted in `channel` (for the repeat check)."""
        recent = self._recent.setdefault(channel, deque(maxlen=self.remember_count))
        recent.append(_same_text_key(text))

    def is_repeat(self, text: str, channel: str | None = None) -> bool:
        return _same_text_key(text) in self._recent.get(channel, ())

    # -- the chain -----------------------------------------------------------------------------
    def clean(self, text: str) -> str:
        """Repair what can be repaired: invisible characters, whitespace, emote walls."""
        return cap_runs(sanitize(text), self.max_emote_run)

    def check(self, text: str, *, allow_mention: str | None = None, channel: str | None = None) -> str | None:
        """Why `text` must not be posted (one of REASONS), or None when it may be."""
        reason = self._reason(text, allow_mention, channel)
        if reason is not None:
            self.counts[reason] += 1
        return reason

    def content_reason(self, text: str, *, allow_mention: str | None = None) -> str | None:
        """The rules no added text can repair (url, mention, banned_word), counted like check():
        a prompt that fails one is refused before any sampling."""
        reason = None
        if has_url(text):
            reason = "url"
        elif any(name != _allowed(allow_mention) for name in mentions(text)):
            reason = "mention"
        elif self.banned_word_in(text) is not None:
            reason = "banned_word"
        if reason is not None:
            self.counts[reason] += 1
        return reason

    def _reason(self, text: str, allow_mention: str | None, channel: str | None) -> str | None:
        if not isinstance(text, str) or not sanitize(text):
            return "empty"
        if strip_invisible(text) != text:
            return "invisible"
        if len(text) > self.max_chars:
            return "too_long"
        words = text.split()
        if len(words) > self.max_words:
            return "too_many_words"
        if starts_with_command(text.lstrip()):
            return "command"
        if has_url(text):
            return "url"
        if any(name != _allowed(allow_mention) for name in mentions(text)):
            return "mention"
        if self.banned_word_in(text) is not None:
            return "banned_word"
        if _longest_run(words) > self.max_emote_run:
            return "emote_run"
        if self.fingerprints is not None and len(words) >= MIN_COPY_WORDS and text in self.fingerprints:
            return "training_copy"
        if self.is_repeat(text, channel):
            return "repeat"
        return None

