"""The character 5-gram (Kneser-Ney) and the word Markov chain baselines."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict

import numpy as np
import pytest

from trainer.evaluation.baselines import BOUNDARY, CharNgram, MarkovChain, texts_by_stream
from trainer.corpus.fingerprints import FingerprintSet
from trainer.evaluation.genmetrics import copy_rate
from trainer.corpus.records import ChatRecord

WORDS = "LULW Pog hello chat KEKW what is this game nice OMEGALUL yes no gg EZ".split()


def chat(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.choice([1, 1, 1, 2, 3, 4]))) for _ in range(count)]


@pytest.fixture(scope="module")
def streams() -> list[list[str]]:
    return [chat(1, 150), chat(2, 120), ["héllo wörld", "ÿ", "LULW"]]


def reference_kn(streams, order: int):
    """Interpolated modified Kneser-Ney written the plain way (dicts of tuples), for checking."""
    seq = []
    for texts in streams:
        seq.append("\n")
        for text in texts:
            seq.extend(text)
            seq.append("\n")
    alphabet = sorted(set(seq) - {"\n"})
    V = len(alphabet) + 2  # boundary, unknown, the characters
    grams = [Counter() for _ in range(order + 1)]
    for k in range(1, order + 1):
        for i in range(k - 1, len(seq)):
            grams[k][tuple(seq[i - k + 1 : i + 1])] += 1
    counts = [None] * (order + 1)
    counts[order] = grams[order]
    for k in range(order - 1, 0, -1):
        cont = Counter()
        for gram in grams[k + 1]:
            cont[gram[1:]] += 1
        counts[k] = Counter({g: cont.get(g, 0) for g in grams[k]})

    def discounts(c):
        n = Counter(min(v, 5) for v in c.values())
        y = n[1] / (n[1] + 2 * n[2])
        return [0.0, 1 - 2 * y * n[2] / n[1], 2 - 3 * y * n[3] / n[2], 3 - 4 * y * n[4] / n[3]]

    D = [None] + [discounts(counts[k]) for k in range(1, order + 1)]
    by_history = [None] + [defaultdict(list) for _ in range(order)]
    for k in range(1, order + 1):
        for gram, c in counts[k].items():
            by_history[k][gram[:-1]].append(c)

    def prob(history: str, char: str) -> float:
        p = 1.0 / V
        for k in range(1, order + 1):
            h = tuple(history[len(history) - (k - 1) :]) if k > 1 else ()
            if k > 1 and len(history) < k - 1:
                continue
            cs = by_history[k].get(h)
            if not cs or sum(cs) == 0:
                continue
            total = sum(cs)
            gamma = sum(D[k][min(c, 3)] for c in cs)
            c = counts[k].get(h + (char,), 0)
            p = (max(c - D[k][min(c, 3)], 0) + gamma * p) / total
        return p

    return prob, alphabet


def symbol_of(model: CharNgram, char: str) -> int:
    if char == "\n":
        return BOUNDARY
    return int(model.encode([char])[1])


def test_kn_distribution_sums_to_one(streams):
    model = CharNgram(5).fit(streams)
    for history in ["", "\n", "LUL", "\nPog", "hello chat ", "zzzz", "Ω", "LULW\nLU"]:
        p = model.distribution(history)
        assert p.shape == (model.vocab_size,)
        assert (p > 0).all()
        assert p.sum() == pytest.approx(1.0, abs=1e-12)


def test_kn_matches_a_plain_implementation(streams):
    model = CharNgram(4).fit(streams)
    prob, alphabet = reference_kn(streams, 4)
    for history in ["\nhel", "chat", "LULW\n", "", "\n", "x", "ÿ\nL", "qqq"]:
        p = model.distribution(history)
        for char in ["\n", "L", "o", " ", "ö", "h"]:
            assert p[symbol_of(model, char)] == pytest.approx(prob(history, char), rel=1e-9), (history, char)


def test_kn_bits_per_char_is_the_sum_over_messages(streams):
    model = CharNgram(5).fit(streams[:2])
    valid = chat(7, 40)
    bits = model.stream_message_bits(valid)
    assert bits.shape == (40,)
    # by hand: -log2 of each symbol given its (up to 4) preceding symbols, the opening one excluded
    text = "\n" + "\n".join(valid) + "\n"
    total = 0.0
    for i in range(1, len(text)):
        total -= math.log2(model.distribution(text[max(0, i - 4) : i])[symbol_of(model, text[i])])
    assert bits.sum() == pytest.approx(total, rel=1e-9)
    records = [ChatRecord(text=t, stream="v") for t in valid]
    chars = sum(len(t) + 1 for t in valid)
    assert model.bits_per_char(records) == pytest.approx(total / chars, rel=1e-9)
    # a model of this little language beats the uniform distribution over its alphabet by far
    assert model.bits_per_char(records) < 0.6 * math.log2(model.vocab_size)


def test_kn_unseen_character_has_a_probability(streams):
    model = CharNgram(5).fit(streams)
    bits = model.stream_message_bits(["漢字 LULW"])
    assert np.isfinite(bits).all() and bits[0] > 0


def test_texts_by_stream_keeps_order_per_stream():
    records = [ChatRecord(text=t, stream=s) for t, s in [("a", "1"), ("b", "2"), ("c", "1")]]
    assert texts_by_stream(records) == [["a", "c"], ["b"]]


def test_markov_chain_generates_from_its_corpus_and_copies_a_lot():
    corpus = chat(3, 400) + ["this game is so nice", "what is this game", "gg EZ chat"]
    chain = MarkovChain(seed=5).fit(corpus)
    outputs = [chain.generate(["hello chat", "what is this"]) for _ in range(300)]
    vocabulary = set(WORDS)
    assert all(out and set(out.split()) <= vocabulary for out in outputs)
    # seeded from context words: most outputs contain a word of the last context message
    assert sum(bool(set(out.split()) & {"what", "is", "this"}) for out in outputs) > 200
    rate = copy_rate(outputs, FingerprintSet.from_texts(corpus))
    assert rate is not None and 0.2 < rate <= 1.0


def test_markov_chain_walks_known_transitions_only():
    chain = MarkovChain(seed=0).fit(["a b c", "a b d", "x y"])
    outputs = {chain.generate() for _ in range(100)}
    assert outputs == {"a b c", "a b d", "x y"}  # order 2 on this corpus can only copy
    assert chain.generate(["y"]) in outputs  # no pair starts with y: a random message start
    assert chain.generate(["b"]) in {"b c", "b d"}  # seeded mid-message: a pair starting with b


@pytest.mark.shared_data
def test_baselines_on_real_chat(shared_data, tmp_path):
    """On a real channel (arypie, 33k messages) the 5-gram lands where n-grams land on chat
    (~2.1-2.2 bits per char) and the Markov chain mostly copies chat, as the bots do."""
    from trainer.evaluation.evaluate import evaluate_baselines
    from trainer.ingest.prepare import prepare

    prepare([shared_data / "arypie-gql-2021"], tmp_path / "data", progress=False)
    result = evaluate_baselines(tmp_path / "data", samples=200)
    assert 1.8 < result["bits_per_char"]["char_5gram"] < 2.5
    assert result["bits_per_char"]["char_5gram_novel"] > result["bits_per_char"]["char_5gram"]
    markov = result["generation"]["markov"]
    assert markov["empty_rate"] == 0.0 and markov["copy_rate_all"] > 0.3
    assert 0.35 < markov["realism_auc"] < 0.7  # copies of real chat are hard to tell from it
    # the floor: other real messages of the same streams against the real ones, chance plus noise
    assert abs(markov["real_realism_auc"] - 0.5) < 0.1
