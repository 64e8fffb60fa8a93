"""Decoding that keeps to known words: the sampler may only spell words of the training lexicon.

A chat model of a few million parameters spells words from sub-word tokens and sometimes makes
up ones nobody typed. Refusing whole messages that hold an unknown word was measured to shorten
what the bot says (long messages hold more words, so more of them were refused). Instead the
constraint acts token by token, before each token is drawn: a token is allowed only when the
word it continues stays the beginning of some known word, and a token that ends a word (a
space, punctuation, the message boundary) only when that word is known or too short to count
(trainer/corpus/lexicon.py). The model's distribution is renormalised over the allowed tokens,
so messages keep their natural length and the model keeps its preferences among real words.

Per token the engine precomputes what the token does to the word being spelled (continues it,
ends it, starts a new one), so a step costs one mask look-up per row: the mask for "no word in
progress" is fixed, and the masks for words in progress are cached by their letters so far.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from trainer.corpus.lexicon import WORD, Lexicon
from trainer.engine.safety import strip_invisible

CACHE_SIZE = 20_000  # masks of words in progress kept (a bool per vocabulary entry each)
# The state after a piece of a multi-byte character (a token of raw bytes that decodes to U+FFFD
# on its own): what it completes is unknown, so no letter may follow right away, or the filters'
# clean-up could glue it to a word nobody typed.
PENDING = "\ufffd"


def token_texts(tokenizer, vocab_size: int | None = None) -> list[str]:
    """Each token id's text; special tokens (the message boundary) and ids past the tokenizer's
    end (a model's padded vocabulary) are "": they end the word in progress."""
    texts = [tokenizer.decode([i], clean_up_tokenization_spaces=False) for i in range(len(tokenizer))]
    for token_id in tokenizer.all_special_ids:
        texts[token_id] = ""
    size = len(texts) if vocab_size is None else vocab_size
    return (texts + [""] * size)[:size]


def new_word_tokens(texts: list[str]) -> np.ndarray:
    """Bool mask of the tokens that begin with white space: what may follow a viewer's words, so
    a completion never glues onto their last word ("KEKW" -> "KEKWIN")."""
    return np.array([t[:1].isspace() for t in texts], dtype=bool)


class WordConstraint:
    """Which tokens may come next, given the letters of the word in progress, as written."""

    def __init__(self, lexicon: Lexicon, token_texts: list[str]):
        self.lexicon = lexicon
        vocab = len(token_texts)
        self.lead: list[str] = [""] * vocab  # letters the token starts with (continuing a word)
        self.trail: list[str] = [""] * vocab  # letters it ends with, starting a new word
        self.all_letters = np.zeros(vocab, dtype=bool)  # the token only continues the word
        self.starts_with_letter = np.zeros(vocab, dtype=bool)
        self.fragment = np.zeros(vocab, dtype=bool)  # holds a piece of a multi-byte character
        inner_ok = np.ones(vocab, dtype=bool)  # words wholly inside the token are fine
        for i, text in enumerate(token_texts):
            if strip_invisible(text.replace(PENDING, "")) != text.replace(PENDING, ""):
                # Control and invisible characters are stripped before posting, which would glue
                # the letters around them together: such tokens are never drawn.
                inner_ok[i] = False
                continue
            if PENDING in text:
                self.fragment[i] = True
                continue
            runs = list(WORD.finditer(text))
            if not runs:
                continue
            first, last = runs[0], runs[-1]
            if first.start() == 0:
                self.starts_with_letter[i] = True
                self.lead[i] = first.group()
                if first.end() == len(text):
                    self.all_letters[i] = True
                    continue
                runs = runs[1:]
            if runs and last.end() == len(text):
                self.trail[i] = last.group()
                runs = runs[:-1]
            inner_ok[i] = all(self._may_end(run.group()) for run in runs)
        # Allowed with no word in progress: what the token starts and ends must be possible.
        self.fresh = inner_ok.copy()
        for i in range(vocab):
            if self.all_letters[i]:
                self.fresh[i] = self._may_start(self.lead[i])
            else:
                if self.lead[i] and not self._may_end(self.lead[i]):
                    self.fresh[i] = False
                if self.trail[i] and not self._may_start(self.trail[i]):
                    self.fresh[i] = False
        self._tail_ok = inner_ok & np.array([not t or self._may_start(t) for t in self.trail])
        self._no_letter_first = self.fresh & ~self.starts_with_letter
        self._letter_ids = np.flatnonzero(self.starts_with_letter).tolist()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def _may_start(self, written: str) -> bool:
        return self.lexicon.is_prefix(written.casefold()) and self.lexicon.spelling_may_start(written)

    def _may_end(self, written: str) -> bool:
        # Stricter than what counts as invented: short words must be known too, or the model
        # would fill messages with two-letter scraps ("ru st").
        return written.casefold() in self.lexicon and self.lexicon.spelling_may_end(written)

    def allowed(self, partial: str) -> np.ndarray:
        """Bool mask over the vocabulary: tokens that may follow the word in progress `partial`
        (its letters as written; "" when none is in progress)."""
        if not partial:
            return self.fresh
        if partial == PENDING:
            return self._no_letter_first
        mask = self._cache.get(partial)
        if mask is not None:
            self._cache.move_to_end(partial)
            return mask
        # Tokens that don't start with a letter end the word: fine when it is a word.
        mask = self._no_letter_first & ~self.fragment if self._may_end(partial) else np.zeros_like(self.fresh)
        for i in self._letter_ids:
            word = partial + self.lead[i]
            if self.all_letters[i]:
                mask[i] = self._may_start(word)
            else:
                mask[i] = self._tail_ok[i] and self._may_end(word)
        self._cache[partial] = mask
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return mask

    def advance(self, partial: str, token_id: int) -> str:
        """The word in progress after `token_id`."""
        if self.fragment[token_id]:
            return PENDING
        if self.all_letters[token_id]:
            return partial + self.lead[token_id]
        return self.trail[token_id]

    def unfinished(self, partial: str) -> bool:
        """Whether a message cut off here would end in the middle of a word that isn't one."""
        return partial != PENDING and not self._may_end(partial)
