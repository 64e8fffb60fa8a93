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
  banned_word      a banned word or phrase, matched as a whole word on the text's skeleton (look-alike
                   letters, small capitals, l33t, separators and repeats undone; linear time)
  emote_run        one word (emote) repeated more than `max_emote_run` times in a row
  training_copy    a verbatim copy (3+ words) of a training message
  repeat           one of the bot's own recent messages in that channel

Checks run on the NFKC form (so full-width `／` or `＠` count as `/` or `@`). The text rules
themselves (invisible characters, commands, links, mentions, Twitch's length limit) are
`trainer.text`'s, shared with the import and the bot's send queue.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Iterable
from importlib import resources
from typing import NamedTuple

from trainer.errors import StreamchatError
from trainer.text import (
    TWITCH_MESSAGE_CHARS, Skeleton, WordKey, fold, has_url, mentions, parse_word_list, sanitize, skeletons,
    starts_with_command, strip_invisible, word_key,
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

# A banned word or phrase is stored by its `trainer.text.word_key`: its skeleton's letters (runs
# collapsed) and how often each must repeat ("boob" needs two o's, so "bob" is not it). A number
# ("1488") is matched on the digits reading; every other word on the other readings (a symbol
# read as a letter, as a separator, or each as the text suggests).


class _Banned(NamedTuple):
    word: str  # as first given
    key: WordKey


class _Matcher:
    """Banned words found on a text's skeletons in one pass each (Aho-Corasick: linear in the
    text, whatever the words), then checked for repeats and word edges."""

    def __init__(self, entries: dict[WordKey, str]):
        import ahocorasick

        self.automaton = {}
        for digits in (False, True):
            by_letters: dict[str, list[_Banned]] = {}
            for key, word in entries.items():
                if key.digits == digits:
                    by_letters.setdefault(key.letters, []).append(_Banned(word, key))
            if by_letters:
                automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
                for letters, found in by_letters.items():
                    automaton.add_word(letters, (letters, found))
                automaton.make_automaton()
                self.automaton[digits] = automaton

    def find(self, text: str) -> str | None:
        for reading, shape in skeletons(text):
            automaton = self.automaton.get(reading == "digits")
            if automaton is None:
                continue
            for end, (key, found) in automaton.iter(shape.letters):
                start = end - len(key) + 1
                if not shape.starts[start] or not _ends_word(shape, end) or all(shape.numbers[start:end + 1]):
                    continue
                for entry in found:
                    if (all(have >= need for have, need in zip(shape.runs[start:end + 1], entry.key.runs))
                            and _fits_words(shape, start, entry.key)):
                        return entry.word
        return None


def _fits_words(shape: Skeleton, start: int, key: WordKey) -> bool:
    """Whether a match at `start` splits into words as the banned word does: a phrase's words
    start where the text's do; inside a word, the text may break only between lone letters
    ("k i t t e n"), so "a boss" is not "abo" nor "goodies" "go die"."""
    for i in range(1, len(key.letters)):
        at = start + i
        if key.words and key.words[i] != key.words[i - 1]:
            if not shape.starts[at]:
                return False
        elif shape.tokens[at] != shape.last_tokens[at - 1] and not (shape.lone[at] and shape.lone_last[at - 1]):
            return False
    return True


def _ends_word(shape: Skeleton, end: int) -> bool:
    """A word ends after `end`, or after a plural ending there (`s`, `z`, `es`)."""
    if shape.ends[end]:
        return True
    after = shape.letters[end + 1:end + 3]
    if after[:1] in ("s", "z"):
        return shape.ends[end + 1]
    return after == "es" and shape.ends[end + 2]


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
        shipped = default_banned_words() if banned_words is None else ()
        self._banned: dict[WordKey, str] = {}  # every banned word by its key, as first given
        for word in (*shipped, *(banned_words or ())):
            key = word_key(word)
            if key is not None:
                self._banned.setdefault(key, word)
        self._shipped = frozenset(word_key(w) for w in shipped) - {None}
        self._matcher = _Matcher(self._banned)

    # -- banned words ------------------------------------------------------------------------
    @property
    def banned_words(self) -> frozenset[str]:
        return frozenset(self._banned.values())

    def is_shipped(self, word: str) -> bool:
        """Whether `word`, however it is spelled, is on the shipped list (which chat cannot lift)."""
        return word_key(word) in self._shipped

    def add_banned_word(self, word: str) -> None:
        key = word_key(word)
        if key is None:
            raise StreamchatError("a banned word needs at least one letter or digit")
        if key not in self._banned:
            self._banned[key] = word
            self._matcher = _Matcher(self._banned)

    def remove_banned_word(self, word: str) -> bool:
        """Remove a word added beside the shipped list; True when it was removed. A word of the
        shipped list is never removed (`is_shipped`)."""
        key = word_key(word)
        if key is None or key in self._shipped or key not in self._banned:
            return False
        del self._banned[key]
        self._matcher = _Matcher(self._banned)
        return True

    def banned_word_in(self, text: str) -> str | None:
        """The banned word found in `text` (as it is on the list), or None."""
        return self._matcher.find(text)

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

