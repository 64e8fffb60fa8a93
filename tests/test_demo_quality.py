"""The offline demo reads as chat: the model `bot local` trains answers in the sample's own words."""

from __future__ import annotations

import random
import string

import pytest

from trainer.corpus.prepared import load_prepared
from trainer.engine.generate import Generator

PUNCTUATION = string.punctuation + "…“”‘’"
PROMPTS = ["hello", "", "KEKW", "what is this game", "gg", "is the stream", "LUL", "chat", "i think", "who won"]


def _made_of(message: str, words: set[str], emotes: dict[str, str]) -> bool:
    """Every word of `message` is a word of the sample (punctuation aside, any case), and an
    emote is written as the channel writes it (or all lower / upper case, as chat does)."""
    for token in message.split():
        word = token.strip(PUNCTUATION)
        if not word:
            continue
        if word.casefold() not in words:
            return False
        emote = emotes.get(word.casefold())
        if emote and word != emote and not (word.islower() or word.isupper()):
            return False
    return True


@pytest.mark.slow
def test_the_demo_answers_in_words_of_the_sample(tiny_checkpoint, capsys):
    corpus = load_prepared(tiny_checkpoint.parent / "data")  # where the fixture prepared data/sample
    texts = [r.text for r in corpus.train + corpus.valid]
    words = {token.strip(PUNCTUATION).casefold() for text in texts for token in text.split()}
    emotes = {e.casefold(): e for e in corpus.emotes}

    gen = Generator.load(tiny_checkpoint, seed=0)
    rng = random.Random(0)
    calls = []
    for i in range(200):  # `!chat <prompt>` and `!chat` alone, after a few real lines of context
        prompt = PROMPTS[i % len(PROMPTS)]
        context = rng.sample(texts, 5)
        reply = gen.complete(prompt, context) if prompt else gen.message(context)
        calls.append((prompt, reply))
    continuations = [reply[len(prompt):] for prompt, reply in calls if reply]
    good = [c for c in continuations if _made_of(c, words, emotes)]
    with capsys.disabled():
        print(f"\ndemo model: {len(good)} of {len(calls)} !chat replies are made only of words of the sample "
              f"({len(calls) - len(continuations)} stayed silent); for example:")
        for prompt, reply in calls[:6]:
            print(f"  !chat {prompt} -> {reply}")
    assert len(good) >= 0.8 * len(calls)
