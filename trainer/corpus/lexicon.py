"""The training lexicon: every word the model saw in its training messages.

A small chat model spells: it builds words out of sub-word tokens, and a few percent of the
time it builds ones nobody ever typed ("oncepusing", "gottr"). A viewer reads those as broken.
The lexicon lets the engine keep to words of the channel's own chat (trainer/engine/words.py)
and lets evaluation count invented words (trainer/evaluation/genmetrics.py).

A *word* is a maximal run of letters, case-folded: `KEKW` and `kekw` are one word, `5Head`
holds `head`, `don't` holds `don` and `t`. Scripts written without spaces (Chinese, Japanese,
Thai, ...) are not split into words, so their characters count as non-letters here: a run of
them is a phrase, not a word, and no lexicon could hold every phrase.

A checkpoint carries its lexicon as `LEXICON_FILE`, one word a line, sorted.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from pathlib import Path

LEXICON_FILE = "lexicon.txt"
# An invented word is one of at least this many letters that the training messages never held:
# one- and two-letter runs ("xd", "ur", the "t" of "don't") are too short to look broken.
MIN_WORD_LETTERS = 3

# Scripts whose letters don't make words here: those written without spaces (CJK ideographs,
# kana, Thai, Lao, Khmer, Myanmar) and Hangul (spaced, but its syllables take particles so
# freely that no word list of a channel's chat would cover them).
_UNSPACED = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\U00020000-\U0003134f"  # CJK extensions
)
WORD = re.compile(rf"[^\W\d_{_UNSPACED}]+")


def words(text: str) -> list[str]:
    """The words of `text`, case-folded, in order."""
    return [w.casefold() for w in WORD.findall(text)]


def _one_case(letters: str) -> bool:
    """lower, UPPER or Title case."""
    return letters.islower() or letters.isupper() or (letters[:1].isupper() and letters[1:].islower())


def plain_case(word: str) -> bool:
    """lower, UPPER or Title case: how anyone may type any word. Other mixes (`sodaH`,
    `widepeepoHappy`) are an emote's own spelling, right only as the channel writes it."""
    return _one_case(word) or len(word) < MIN_WORD_LETTERS


def _plain_start(written: str) -> bool:
    """Whether `written` can begin a lower, UPPER or Title case word (or is of a script without
    case)."""
    return _one_case(written) or not any(c.isupper() or c.islower() for c in written)


def _starts_some(sorted_items: list[str], start: str) -> bool:
    i = bisect.bisect_left(sorted_items, start)
    return i < len(sorted_items) and sorted_items[i].startswith(start)


class Lexicon:
    """The words (case-folded) and the mixed-case spellings seen in training messages, as
    sorted lists: membership and "is the beginning of some word" in O(log n).

    The file holds one entry a line: words in lower case, and the mixed-case spellings
    (`sodaH`) as they were written.
    """

    def __init__(self, entries: Iterable[str]):
        entries = set(entries)
        self.forms = sorted(e for e in entries if not plain_case(e))
        self.words = sorted({e.casefold() for e in entries})
        self._set = frozenset(self.words)
        self._forms = frozenset(self.forms)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Lexicon:
        found: set[str] = set()
        for text in texts:
            for word in WORD.findall(text):
                found.add(word if not plain_case(word) else word.casefold())
        return cls(found)

    @classmethod
    def load(cls, path: str | Path) -> Lexicon:
        with open(path, encoding="utf-8") as handle:
            return cls(line.rstrip("\n") for line in handle if line.strip())

    def entries(self) -> list[str]:
        return sorted(set(self.words) | set(self.forms))

    def save(self, path: str | Path) -> None:
        Path(path).write_text("".join(w + "\n" for w in self.entries()), encoding="utf-8")

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self._set

    def is_prefix(self, start: str) -> bool:
        """Whether some word begins with `start` (case-folded; every word is a prefix of itself)."""
        return _starts_some(self.words, start)

    def may_end(self, word: str) -> bool:
        """Whether a word (case-folded) may end here: known, or too short to count as invented."""
        return len(word) < MIN_WORD_LETTERS or word in self._set

    def spelling_may_start(self, written: str) -> bool:
        """Whether `written`, as typed, can begin a word in a case the channel uses. Stricter
        than `plain_case` for short pieces: `sA` may end as a two-letter word, but no longer
        word is spelt that way, so a sampler that let it start would be stuck there."""
        return _plain_start(written) or _starts_some(self.forms, written)

    def spelling_may_end(self, written: str) -> bool:
        """Whether `written` is a whole word in a case the channel uses (`LUL`, `lul`, `Lul`,
        or an emote's own `sodaH`)."""
        return plain_case(written) or written in self._forms

    def invented(self, text: str) -> list[str]:
        """The words of `text` that count as invented (unknown, `MIN_WORD_LETTERS`+ letters)."""
        return [w for w in words(text) if not self.may_end(w)]
