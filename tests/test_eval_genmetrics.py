"""Generation metrics on crafted inputs."""

from __future__ import annotations

import random

import pytest

from trainer.corpus.fingerprints import FingerprintSet
from trainer.evaluation.genmetrics import (
    copy_rate,
    distinct_n,
    emote_rate,
    empty_rate,
    generation_metrics,
    histogram_distance,
    length_stats,
    realism_auc,
    words_histogram,
)


def test_empty_rate_counts_none_and_blank():
    assert empty_rate(["a", "", None, "  ", "b c"]) == pytest.approx(3 / 5)
    assert empty_rate([]) == 0.0


def test_length_stats():
    stats = length_stats(["a", "a b", "a b c d", "x", ""])
    assert stats == {"mean_words": pytest.approx(8 / 5), "median_words": 1.0, "one_word_rate": pytest.approx(2 / 5)}


def test_words_histogram_and_distance():
    hist = words_histogram(["a", "a b", "a"] + [" ".join("w" * 1 for _ in range(15))])
    assert hist[1] == pytest.approx(0.5) and hist[2] == pytest.approx(0.25) and hist[10] == pytest.approx(0.25)
    assert histogram_distance(["a", "b c"], ["x", "y z"]) == 0.0
    assert histogram_distance(["a", "b"], ["x y", "y z"]) == pytest.approx(1.0)
    assert histogram_distance(["a", "b c"], ["x", "y"]) == pytest.approx(0.5)


def test_copy_rate_only_counts_three_plus_words():
    training = FingerprintSet.from_texts(["this is  a copy", "LULW", "two words"])
    outputs = ["LULW", "two words", "This is a copy", "this is new", "and another new one", None]
    # 3+ word outputs: "This is a copy" (a copy after case/space folding), "this is new", "and another new one"
    assert copy_rate(outputs, training) == pytest.approx(1 / 3)
    assert copy_rate(["LULW", "a b"], training) is None


def test_distinct_n():
    outputs = ["a b a", "a b"]
    assert distinct_n(outputs, 1) == pytest.approx(2 / 5)
    assert distinct_n(outputs, 2) == pytest.approx(2 / 3)  # (a b), (b a), (a b)
    assert distinct_n(["x"], 2) == 0.0


def test_emote_rate_is_case_sensitive():
    emotes = {"LULW", "Pog"}
    assert emote_rate(["LULW lulw", "Pog", "hi there"], emotes) == pytest.approx(2 / 5)
    assert emote_rate([], emotes) == 0.0


def _chatty(rng: random.Random) -> str:
    words = "LULW Pog KEKW hello chat what is this game nice gg".split()
    return " ".join(rng.choice(words) for _ in range(rng.randint(1, 4)))


def test_realism_auc_near_half_for_the_same_distribution():
    rng = random.Random(0)
    a = [_chatty(rng) for _ in range(300)]
    b = [_chatty(rng) for _ in range(300)]
    assert abs(realism_auc(a, b) - 0.5) < 0.1


def test_realism_auc_near_one_for_different_text():
    rng = random.Random(1)
    real = [_chatty(rng) for _ in range(200)]
    fake = ["".join(rng.choice("qzxjv0123") for _ in range(rng.randint(5, 30))) for _ in range(200)]
    assert realism_auc(fake, real) > 0.97
    # empty outputs are told apart from real chat too
    assert realism_auc([""] * 200, real) > 0.97


def test_generation_metrics_has_every_figure():
    rng = random.Random(2)
    real = [_chatty(rng) for _ in range(60)]
    outputs = [_chatty(rng) for _ in range(59)] + [""]
    metrics = generation_metrics(outputs, real=real, training=FingerprintSet.from_texts(real), emotes={"LULW", "Pog"})
    assert metrics["count"] == 60
    assert metrics["empty_rate"] == pytest.approx(1 / 60)
    assert 0 < metrics["emote_rate"] < 1 and 0 < metrics["real_emote_rate"] < 1
    assert metrics["copy_rate_3plus"] is not None
    assert 0.2 < metrics["realism_auc"] < 0.8
    assert set(metrics) >= {"one_word_rate", "real_one_word_rate", "words_histogram_distance", "distinct_1", "distinct_2"}


def test_invented_rate_matches_a_hand_count():
    from trainer.corpus.lexicon import Lexicon
    from trainer.evaluation.genmetrics import invented_rate

    lexicon = Lexicon.from_texts(["hello chat KEKW", "that was so close", "gg wp"])
    outputs = [
        "hello chat",  # known words
        "HELLO Kekw gg",  # known, whatever the case
        "helo chat",  # "helo": invented
        "that was clsoe wp",  # "clsoe": invented
        "xd ok gg",  # 2-letter words never count
        None,  # nothing
        "5Head that",  # "head": invented (the digit splits the run)
        "日本語 chat",  # no spaced words besides "chat"
    ]
    assert invented_rate(outputs, lexicon) == pytest.approx(3 / 8)
    figures = generation_metrics(outputs, real=["hello chat", "helo"] * 4, lexicon=lexicon)
    assert figures["invented_rate"] == pytest.approx(3 / 8)
    assert figures["real_invented_rate"] == pytest.approx(0.5)
