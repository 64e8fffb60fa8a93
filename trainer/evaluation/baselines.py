"""Two baselines fitted on the training split, to measure a trained model against.

- `CharNgram`: a character n-gram (default 5) with interpolated modified Kneser-Ney
  smoothing (Chen & Goodman 1998). It scores held-out bits per character on the same
  definition as the model: chat is a stream `B m1 B m2 ... B` with the message boundary `B`
  as a symbol, and each message is scored together with its closing boundary, given the
  preceding messages as context.
- `MarkovChain`: a word Markov chain of order 2, the engine of today's Twitch chat bots.
  It generates messages seeded from words of the recent chat, the way those bots answer.

Counts are integer-coded numpy arrays (an n-gram is interned as (id of its prefix, symbol)),
so fitting ~6M characters of chat takes seconds, not minutes.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from trainer.corpus.records import ChatRecord

BOUNDARY = 0  # symbol id of the message boundary
UNKNOWN = 1  # symbol id of a character never seen in training
_SENTINEL = 0x110000  # one past the last Unicode code point: marks boundaries while encoding


def texts_by_stream(records: Iterable[ChatRecord | str]) -> list[list[str]]:
    """The message texts of each stream (all its records, wherever they are), in record order;
    bare strings count as one stream. Compare `packing.group_streams`: runs of consecutive records."""
    streams: dict[str, list[str]] = {}
    for record in records:
        if isinstance(record, str):
            streams.setdefault("", []).append(record)
        else:
            streams.setdefault(record.stream, []).append(record.text)
    return list(streams.values())


def _code_points(texts: Sequence[str]) -> np.ndarray:
    """`B m1 B m2 ... mk B` as code points, with `_SENTINEL` for each boundary."""
    joined = "".join(text + "\x00" for text in texts)
    points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    ends = np.cumsum([len(text) + 1 for text in texts]) - 1
    points[ends] = _SENTINEL  # a real "\x00" inside a message stays a character
    return np.concatenate([[_SENTINEL], points])


def _lookup(keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Index of each query in the sorted array `keys`, or -1 where absent."""
    if len(keys) == 0:
        return np.full(len(queries), -1, dtype=np.int64)
    index = np.searchsorted(keys, queries)
    index[index >= len(keys)] = 0
    found = keys[index] == queries
    return np.where(found, index, -1)


class CharNgram:
    """Character n-gram language model with interpolated modified Kneser-Ney smoothing.

    Symbols: 0 = boundary, 1 = a character unseen in training, 2.. = training characters.
    The lowest order interpolates with the uniform distribution over all symbols, so every
    symbol has a non-zero probability and the distribution over symbols sums to 1.
    """

    def __init__(self, order: int = 5):
        if order < 1:
            raise ValueError("order must be at least 1")
        self.order = order

    # ----- fitting -------------------------------------------------------------------
    def fit(self, streams: Iterable[Sequence[str]]) -> CharNgram:
        """Fit on streams of messages (each a sequence of texts in time order)."""
        points = np.concatenate([_code_points(texts) for texts in streams if texts] or [[_SENTINEL]])
        chars = np.unique(points[points != _SENTINEL])
        self.alphabet = chars  # sorted code points of the training characters
        self.vocab_size = len(chars) + 2
        seq = self._encode_points(points)

        n = self.order
        V = self.vocab_size
        # ids[k][i]: id of the (k+1)-gram ending at position i (or -1 where it doesn't fit)
        self.keys: list[np.ndarray] = []  # per order k (1..n): sorted (prefix id * V + symbol)
        ids: list[np.ndarray] = []
        for k in range(1, n + 1):
            if k == 1:
                pair = seq.copy()
            else:
                prev = np.full(len(seq), -1, dtype=np.int64)
                prev[1:] = ids[-1][:-1]
                pair = np.where(prev >= 0, prev * V + seq, -1)
            valid = pair >= 0
            keys, inverse = np.unique(pair[valid], return_inverse=True)
            gram_ids = np.full(len(seq), -1, dtype=np.int64)
            gram_ids[valid] = inverse
            self.keys.append(keys)
            ids.append(gram_ids)

        # counts[k-1][g]: raw count for the highest order, continuation count below it
        counts: list[np.ndarray] = [None] * n  # type: ignore[list-item]
        top = ids[n - 1]
        counts[n - 1] = np.bincount(top[top >= 0], minlength=len(self.keys[n - 1]))
        for k in range(n - 1, 0, -1):
            # continuation count of a k-gram = number of distinct (k+1)-grams ending in it
            longer = ids[k]
            first = np.unique(longer[longer >= 0], return_index=True)[1]
            positions = np.flatnonzero(longer >= 0)[first]
            suffixes = ids[k - 1][positions]
            counts[k - 1] = np.bincount(suffixes, minlength=len(self.keys[k - 1]))

        # per order: discounts and, per history, the total count and the N1/N2/N3+ counts
        self.counts = counts
        self.discounts = []
        self.history_total = []
        self.history_gamma = []
        for k in range(1, n + 1):
            c = counts[k - 1]
            d = _modified_kn_discounts(c)
            history = self.keys[k - 1] // V if k > 1 else np.zeros(len(c), dtype=np.int64)
            size = len(self.keys[k - 2]) if k > 1 else 1
            total = np.bincount(history, weights=c, minlength=size)
            gamma = np.bincount(history, weights=d[np.minimum(c, 3)], minlength=size)
            self.discounts.append(d)
            self.history_total.append(total)
            self.history_gamma.append(gamma)
        return self

    def _encode_points(self, points: np.ndarray) -> np.ndarray:
        index = np.searchsorted(self.alphabet, points)
        index[index >= len(self.alphabet)] = 0
        known = (self.alphabet[index] == points) if len(self.alphabet) else np.zeros(len(points), bool)
        seq = np.where(known, index + 2, UNKNOWN)
        seq[points == _SENTINEL] = BOUNDARY
        return seq.astype(np.int64)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """`B m1 B ... mk B` as symbol ids."""
        return self._encode_points(_code_points(texts))

    # ----- scoring -------------------------------------------------------------------
    def _history_ids(self, context: np.ndarray) -> list[np.ndarray]:
        """For a (M, order-1) matrix of preceding symbols (-1 = none), the id of each
        history length j = 1..order-1 in the (j)-gram tables (-1 when unseen)."""
        M, width = context.shape
        V = self.vocab_size
        result = []
        for j in range(1, self.order):
            ident = np.full(M, -1, dtype=np.int64)
            start = width - j
            for col in range(start, width):
                sym = context[:, col]
                k = col - start + 1  # the gram being built has length k
                if k == 1:
                    query = sym
                else:
                    query = np.where((ident >= 0) & (sym >= 0), ident * V + sym, -1)
                hit = _lookup(self.keys[k - 1], query)
                ident = np.where(query >= 0, hit, -1)
            result.append(ident)
        return result

    def probabilities(self, context: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """p(target | context) for each row; context is (M, order-1) symbol ids, -1 = none."""
        V = self.vocab_size
        targets = np.asarray(targets, dtype=np.int64)
        histories = self._history_ids(np.asarray(context, dtype=np.int64).reshape(len(targets), self.order - 1))
        p = np.full(len(targets), 1.0 / V)
        for k in range(1, self.order + 1):
            if k == 1:
                h = np.zeros(len(targets), dtype=np.int64)
            else:
                h = histories[k - 2]
            has = h >= 0
            hs = np.where(has, h, 0)
            total = self.history_total[k - 1][hs]
            has &= total > 0
            query = np.where(has, hs * V + targets, -1) if k > 1 else targets
            gram = _lookup(self.keys[k - 1], query)
            c = np.where(gram >= 0, self.counts[k - 1][np.maximum(gram, 0)], 0)
            d = self.discounts[k - 1][np.minimum(c, 3)]
            gamma = self.history_gamma[k - 1][hs]
            safe_total = np.where(has, total, 1.0)
            mixed = (np.maximum(c - d, 0.0) + gamma * p) / safe_total
            p = np.where(has, mixed, p)
        return p

    def distribution(self, history: str) -> np.ndarray:
        """p(symbol | history) over all symbols; history is text, "\\n" marking a boundary."""
        symbols = [BOUNDARY if ch == "\n" else int(self._encode_points(np.array([ord(ch)]))[0]) for ch in history]
        row = ([-1] * (self.order - 1) + symbols)[-(self.order - 1):] if self.order > 1 else []
        context = np.tile(np.array(row, dtype=np.int64), (self.vocab_size, 1))
        return self.probabilities(context, np.arange(self.vocab_size))

    def stream_message_bits(self, texts: Sequence[str]) -> np.ndarray:
        """−log2 p(message and its closing boundary | the preceding ones) for each message."""
        if not texts:
            return np.zeros(0)
        seq = self.encode(texts)
        width = self.order - 1
        padded = np.concatenate([np.full(width, -1, dtype=np.int64), seq])
        positions = np.arange(1, len(seq))  # predict everything after the opening boundary
        context = np.stack([padded[positions + j] for j in range(width)], axis=1) if width else np.zeros((len(positions), 0), np.int64)
        bits = -np.log2(self.probabilities(context, seq[positions]))
        starts = np.concatenate([[0], np.cumsum([len(t) + 1 for t in texts])[:-1]])
        return np.add.reduceat(bits, starts)

    def bits_per_char(self, records: Iterable[ChatRecord | str]) -> float:
        streams = texts_by_stream(records)
        chars = sum(len(t) + 1 for texts in streams for t in texts)
        if chars == 0:
            raise ValueError("no messages to score")
        return float(sum(self.stream_message_bits(texts).sum() for texts in streams) / chars)


def _modified_kn_discounts(counts: np.ndarray) -> np.ndarray:
    """[0, D1, D2, D3+] from the count-of-counts (Chen & Goodman's estimates)."""
    n = np.bincount(np.minimum(counts, 5), minlength=5)[1:5].astype(float)  # n1..n4
    if n[0] == 0 or n[1] == 0:
        return np.array([0.0, 0.5, 1.0, 1.5])  # too little data to estimate: fixed discounts
    y = n[0] / (n[0] + 2 * n[1])
    d1 = 1 - 2 * y * n[1] / n[0]
    d2 = 2 - 3 * y * n[2] / n[1]
    d3 = 3 - 4 * y * n[3] / n[2] if n[2] > 0 else 3 - 4 * y
    # keep each discount in (0, count] so no probability goes negative
    return np.array([0.0, np.clip(d1, 0.05, 1.0), np.clip(d2, 0.05, 2.0), np.clip(d3, 0.05, 3.0)])


START = "\x02"  # state padding before a message's first word
END = "\x03"  # the transition that ends a message


class MarkovChain:
    """A word Markov chain of order 2: the next word depends on the previous two.

    Generation follows the Twitch chat bots built on it: seeded with a word from the recent
    chat (a message starting with it when chat has begun one that way, else any pair that
    starts with it), otherwise from a random message start, then walking the chain to the end.
    """

    def __init__(self, seed: int | None = None, max_words: int = 30):
        self.transitions: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.pairs_from: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.rng = random.Random(seed)
        self.max_words = max_words

    def fit(self, texts: Iterable[str]) -> MarkovChain:
        for text in texts:
            words = text.split()
            if not words:
                continue
            states = [START, START] + words + [END]
            for a, b, c in zip(states, states[1:], states[2:]):
                self.transitions[(a, b)].append(c)
        for a, b in self.transitions:
            if a != START:
                self.pairs_from[a].append((a, b))
        self.transitions = dict(self.transitions)
        self.pairs_from = dict(self.pairs_from)
        return self

    def _walk(self, words: list[str]) -> str:
        while len(words) < self.max_words:
            state = (words[-2] if len(words) > 1 else START, words[-1] if words else START)
            choices = self.transitions.get(state)
            if not choices:
                break
            word = self.rng.choice(choices)  # a list with repeats: sampling by count
            if word == END:
                break
            words.append(word)
        return " ".join(words)

    def _seeded(self, seed_word: str) -> list[str] | None:
        if (START, seed_word) in self.transitions:
            return [seed_word]
        pairs = self.pairs_from.get(seed_word)
        if pairs:
            return list(self.rng.choice(pairs))
        return None

    def generate(self, context: Sequence[str] = ()) -> str:
        """One message, seeded from a random word of the last few context messages."""
        for message in reversed(list(context)[-3:]):
            words = message.split()
            self.rng.shuffle(words)
            for word in words:
                start = self._seeded(word)
                if start is not None:
                    return self._walk(start)
        return self._walk([])
