"""Metrics of generated chat messages against real ones.

Each function takes plain lists of strings, so the model, the Markov chain and real chat
are measured the same way:

- `empty_rate`: outputs that are empty (None or only whitespace).
- `word_counts` / `length_stats`: words per message (mean, median, one-word rate) and the
  total-variation distance between the generated and real words-per-message histograms.
- `copy_rate`: verbatim copies of training messages among outputs of 3+ words (and among all
  outputs, the figure quoted for Markov bots).
- `distinct_n`: distinct n-grams / all n-grams over the outputs (distinct-1, distinct-2).
- `emote_rate`: the share of words that are the channel's emotes.
- `invented_rate`: the share of messages holding a word of 3+ letters that the training
  messages never held (trainer/corpus/lexicon.py): made-up words that a viewer reads as broken.
- `realism_auc`: cross-validated ROC AUC of a logistic regression on character n-grams
  telling real messages from generated ones; 0.5 = indistinguishable, 1.0 = always told apart.
"""

from __future__ import annotations

import statistics
from collections.abc import Collection, Sequence

import numpy as np

from trainer.corpus.fingerprints import FingerprintSet
from trainer.corpus.lexicon import Lexicon

HISTOGRAM_BINS = 11  # 0, 1, ..., 9 words, and 10 or more


def _text(output: str | None) -> str:
    return output or ""


def empty_rate(outputs: Sequence[str | None]) -> float:
    if not outputs:
        return 0.0
    return sum(1 for o in outputs if not _text(o).strip()) / len(outputs)


def word_counts(outputs: Sequence[str | None]) -> list[int]:
    return [len(_text(o).split()) for o in outputs]


def words_histogram(outputs: Sequence[str | None]) -> np.ndarray:
    """Share of messages with 0, 1, ..., 9 and 10+ words."""
    counts = np.minimum(np.array(word_counts(outputs), dtype=np.int64), HISTOGRAM_BINS - 1)
    hist = np.bincount(counts, minlength=HISTOGRAM_BINS).astype(float)
    return hist / max(hist.sum(), 1.0)


def histogram_distance(outputs: Sequence[str | None], real: Sequence[str]) -> float:
    """Total-variation distance between words-per-message histograms (0 = same, 1 = disjoint)."""
    return float(0.5 * np.abs(words_histogram(outputs) - words_histogram(real)).sum())


def length_stats(outputs: Sequence[str | None]) -> dict:
    counts = word_counts(outputs)
    if not counts:
        return {"mean_words": 0.0, "median_words": 0.0, "one_word_rate": 0.0}
    return {
        "mean_words": float(statistics.fmean(counts)),
        "median_words": float(statistics.median(counts)),
        "one_word_rate": sum(1 for c in counts if c == 1) / len(counts),
    }


def copy_rate(outputs: Sequence[str | None], training: FingerprintSet, min_words: int = 3) -> float | None:
    """Share of outputs of `min_words`+ words that copy a training message; None if there are none."""
    long = [_text(o) for o in outputs if len(_text(o).split()) >= min_words]
    if not long:
        return None
    return sum(1 for text in long if text in training) / len(long)


def distinct_n(outputs: Sequence[str | None], n: int) -> float:
    """Distinct word n-grams within messages / all of them (0 when there are none)."""
    grams = []
    for output in outputs:
        words = _text(output).split()
        grams.extend(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    return len(set(grams)) / len(grams) if grams else 0.0


def emote_rate(outputs: Sequence[str | None], emotes: Collection[str]) -> float:
    """Share of words that are emotes (case-sensitive, as Twitch matches them)."""
    words = [w for o in outputs for w in _text(o).split()]
    return sum(1 for w in words if w in emotes) / len(words) if words else 0.0


def invented_rate(outputs: Sequence[str | None], lexicon: Lexicon) -> float:
    """Share of messages (empty ones included) holding an invented word."""
    if not outputs:
        return 0.0
    return sum(1 for o in outputs if lexicon.invented(_text(o))) / len(outputs)


def realism_auc(generated: Sequence[str | None], real: Sequence[str], *, folds: int = 5, seed: int = 0) -> float | None:
    """Cross-validated ROC AUC of real-vs-generated on character 1-4-grams (0.5 = indistinguishable).

    Uses as many real messages as generated ones (a random subset), so the classes are balanced.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(seed)
    generated = [_text(g) for g in generated]
    n = min(len(generated), len(real))
    if n < 2:
        return None  # too few messages to cross-validate
    folds = min(folds, n)
    fake = [generated[i] for i in rng.choice(len(generated), n, replace=False)]
    true = [real[i] for i in rng.choice(len(real), n, replace=False)]
    # A boundary marker on both ends lets the classifier see short and empty messages.
    texts = ["\x02" + t + "\x03" for t in true + fake]
    labels = np.array([0] * n + [1] * n)
    classifier = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 4), sublinear_tf=True, lowercase=False, min_df=1),
        LogisticRegression(C=1.0, max_iter=1000),
    )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_predict(classifier, texts, labels, cv=splitter, method="predict_proba")[:, 1]
    return float(roc_auc_score(labels, scores))


def generation_metrics(
    outputs: Sequence[str | None],
    *,
    real: Sequence[str],
    real_all: Sequence[str] | None = None,
    training: FingerprintSet | None = None,
    emotes: Collection[str] = (),
    lexicon: Lexicon | None = None,
) -> dict:
    """All metrics of `outputs`; `real` = the real messages at the same places (as many),
    `real_all` = the real distribution to compare lengths and emotes with (default `real`)."""
    real_all = real if real_all is None else real_all
    stats = length_stats(outputs)
    real_stats = length_stats(real_all)
    return {
        "count": len(outputs),
        "empty_rate": empty_rate(outputs),
        "mean_words": stats["mean_words"],
        "median_words": stats["median_words"],
        "one_word_rate": stats["one_word_rate"],
        "real_mean_words": real_stats["mean_words"],
        "real_median_words": real_stats["median_words"],
        "real_one_word_rate": real_stats["one_word_rate"],
        "one_word_rate_diff": stats["one_word_rate"] - real_stats["one_word_rate"],
        "words_histogram_distance": histogram_distance(outputs, real_all),
        "copy_rate_3plus": copy_rate(outputs, training) if training is not None else None,
        "copy_rate_all": copy_rate(outputs, training, min_words=1) if training is not None else None,
        "outputs_3plus": sum(1 for c in word_counts(outputs) if c >= 3),
        "distinct_1": distinct_n(outputs, 1),
        "distinct_2": distinct_n(outputs, 2),
        "real_distinct_1": distinct_n(real, 1),
        "real_distinct_2": distinct_n(real, 2),
        "emote_rate": emote_rate(outputs, set(emotes)),
        "real_emote_rate": emote_rate(real_all, set(emotes)),
        "invented_rate": invented_rate(outputs, lexicon) if lexicon is not None else None,
        "real_invented_rate": invented_rate(real, lexicon) if lexicon is not None else None,
        "realism_auc": realism_auc(outputs, real),
    }
