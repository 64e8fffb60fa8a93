"""Words the engine may spell: the training lexicon, decoding kept to it, completions that start
a new word."""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from trainer.corpus.lexicon import LEXICON_FILE, Lexicon, words
from trainer.engine.generate import Generator
from trainer.engine.words import WordConstraint, new_word_tokens
from trainer.model.checkpoint import load_lexicon


def test_words_are_case_folded_letter_runs_and_unspaced_scripts_are_not_words():
    assert words("KEKW that's 5Head!! Ünïcode") == ["kekw", "that", "s", "head", "ünïcode"]
    assert words("日本語 ok タイ ไทย") == ["ok"]
    assert words("123 ... 🙂") == []


def test_lexicon_membership_prefixes_and_invented_words(tmp_path):
    lexicon = Lexicon.from_texts(["hello chat KEKW", "Pog that was close"])
    assert "kekw" in lexicon and "KEKW" not in lexicon  # words are stored case-folded
    assert lexicon.is_prefix("hel") and lexicon.is_prefix("hello") and not lexicon.is_prefix("helo")
    assert lexicon.may_end("xq")  # too short to count as invented
    assert lexicon.invented("HELLO chatt kekw, that was closed xd") == ["chatt", "closed"]
    lexicon.save(tmp_path / LEXICON_FILE)
    loaded = Lexicon.load(tmp_path / LEXICON_FILE)
    assert (loaded.words, loaded.forms) == (lexicon.words, lexicon.forms)


def test_mixed_case_spellings_are_kept_as_the_channel_writes_them():
    lexicon = Lexicon.from_texts(["sodaH hello", "widepeepoHappy LUL", "lol LOL Lol"])
    assert lexicon.forms == ["sodaH", "widepeepoHappy"]
    for written in ("LUL", "lul", "Lul", "sodaH", "SODAH", "widepeepoHappy", "xD"):
        assert lexicon.spelling_may_end(written), written
    for written in ("lUL", "SodaH", "widEPEEPOHAPPY", "wideMeepo"):
        assert not lexicon.spelling_may_end(written), written
    assert lexicon.spelling_may_start("widepeepoH") and not lexicon.spelling_may_start("widEP")


def test_a_trained_checkpoint_carries_the_lexicon_of_its_training_messages(tiny_checkpoint):
    from trainer.corpus.records import read_records

    lexicon = load_lexicon(tiny_checkpoint)
    assert lexicon is not None and len(lexicon) > 100
    trained_on = tiny_checkpoint.parent / "data" / "train.jsonl"
    expected = Lexicon.from_texts(r.text for r in read_records(trained_on))
    assert lexicon.words == expected.words


TEXTS = ["", " he", "llo", " hel", "lo", "p", " chat", " x", "yz", ",", " K", "EKW", "!", " pog", "gers", "w",
         " hello", "o!", "llo there", " soda", "H", "h", "kw"]


def _spell(constraint, tokens):
    partial = ""
    for token in tokens:
        if not constraint.allowed(partial)[token]:
            return None
        partial = constraint.advance(partial, token)
    return partial


def test_the_constraint_allows_exactly_the_spellings_of_known_words():
    constraint = WordConstraint(Lexicon(["hello", "help", "chat", "kekw", "pog", "there", "sodaH"]), TEXTS)
    ids = {text: i for i, text in enumerate(TEXTS)}
    assert _spell(constraint, [ids[" he"], ids["llo"], ids[","], ids[" chat"], ids[""]]) == ""
    assert _spell(constraint, [ids[" hel"], ids["p"], ids["!"]]) == ""
    assert _spell(constraint, [ids[" K"], ids["EKW"]]) == "KEKW"
    assert _spell(constraint, [ids[" hel"], ids["lo"], ids[" chat"]]) == "chat"
    assert _spell(constraint, [ids[" he"], ids["llo there"]]) == "there"  # a word ends inside a token
    assert _spell(constraint, [ids[" hel"], ids["llo there"]]) is None  # "helllo"
    assert _spell(constraint, [ids[" hel"], ids["o!"]]) is None  # "helo" is no word
    assert _spell(constraint, [ids[" pog"], ids["gers"]]) is None  # "poggers" was never seen
    # The engine is stricter than the metric: even a short word must be one the channel wrote.
    assert _spell(constraint, [ids[" he"], ids[""]]) is None
    assert _spell(constraint, [ids[" hel"], ids[""]]) is None  # "hel" is only the start of a word
    assert _spell(constraint, [ids[" x"], ids["yz"]]) is None
    assert not constraint.allowed("")[ids[" x"]]  # no word starts with "x"
    assert _spell(constraint, [ids[" soda"], ids["H"], ids["!"]]) == ""  # the emote as the channel writes it
    assert _spell(constraint, [ids[" soda"], ids["h"], ids["!"]]) == ""  # or in plain lower case
    assert _spell(constraint, [ids[" K"], ids["EKW"], ids["!"]]) == ""
    assert _spell(constraint, [ids[" soda"], ids["H"], ids["kw"]]) is None  # "sodaHkw"


def test_completions_may_only_start_with_a_new_word():
    mask = new_word_tokens(TEXTS)
    assert mask[TEXTS.index(" hello")] and not mask[TEXTS.index("llo")] and not mask[TEXTS.index(",")]
    assert not mask[0]  # nor end right there: the message boundary is not a new word


def _invented(outputs, lexicon):
    return [o for o in outputs if o and lexicon.invented(o)]


@pytest.mark.slow
def test_constrained_messages_hold_no_invented_word_and_keep_their_length(tiny_checkpoint):
    lexicon = load_lexicon(tiny_checkpoint)
    free = Generator.load(tiny_checkpoint, seed=1)
    free.words = None
    kept = Generator.load(tiny_checkpoint, seed=1)
    context = ["hello chat", "KEKW", "what a play"]
    # 400 messages each: a mean of ~2.8 words over 150 wanders by ±7 % between seeds alone.
    free_out = [free.message(context) for _ in range(400)]
    kept_out = [kept.message(context) for _ in range(400)]
    assert len(_invented(free_out, lexicon)) > 40  # the tiny model does invent words...
    assert _invented(kept_out, lexicon) == []  # ...and the constraint keeps every one out
    free_words = statistics.mean(len(o.split()) for o in free_out if o)
    kept_words = statistics.mean(len(o.split()) for o in kept_out if o)
    print(f"words per message: free {free_words:.2f}, kept to the lexicon {kept_words:.2f}")
    assert abs(kept_words / free_words - 1) <= 0.10


@pytest.mark.slow
@pytest.mark.parametrize("prompt", ["KEKW", "gg", "who is the best player", "is this real?", "LUL LUL"])
def test_a_completion_is_the_viewers_words_a_space_then_new_words(tiny_checkpoint, prompt):
    gen = Generator.load(tiny_checkpoint, seed=3)
    replies = [gen.complete(prompt, ["hello chat"]) for _ in range(30)]
    assert any(replies)
    for reply in filter(None, replies):
        assert reply.startswith(prompt + " "), reply
        assert reply.split()[: len(prompt.split())] == prompt.split()  # the emote stays whole


@pytest.mark.slow
def test_a_checkpoint_without_a_lexicon_still_generates(tiny_checkpoint, tmp_path):
    import shutil

    copy = tmp_path / "old"
    shutil.copytree(tiny_checkpoint, copy)
    (copy / LEXICON_FILE).unlink()
    gen = Generator.load(copy, seed=0)
    assert gen.words is None
    assert gen.complete("hello", ["KEKW"]).startswith("hello ")
    assert np.any(gen.new_word_tokens)
