"""The chat tokenizer: emotes are whole tokens with their case, anywhere in a message."""

from __future__ import annotations

import pytest
from train_corpus import EMOTES, chat_messages

from trainer.model.tokenizer import add_emotes_to, train_tokenizer, vocab_size_for, wrap


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(chat_messages(3000, seed=1), EMOTES)


def tokens(tokenizer, text: str) -> list[str]:
    return tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False)["input_ids"])


@pytest.mark.parametrize("emote", EMOTES)
def test_emote_is_one_token_at_start_and_after_a_space(tokenizer, emote):
    assert tokens(tokenizer, emote) == [emote.replace(" ", "Ġ")]
    assert tokens(tokenizer, f"gg {emote}")[-1] == "Ġ" + emote
    assert tokens(tokenizer, f"{emote} {emote} {emote}") == [emote] + ["Ġ" + emote] * 2


def test_emote_case_is_kept_and_not_matched_inside_words(tokenizer):
    assert "ĠKEKW" not in tokens(tokenizer, "lol kekw")
    assert tokens(tokenizer, "xKEKW")[0] != "KEKW"  # not an emote when glued to a word
    assert tokens(tokenizer, "KEKW!") == ["KEKW", "!"]  # punctuation after an emote is fine


def test_any_text_round_trips(tokenizer):
    for text in ["héllo wörld 🤣🤣", "  two  spaces ", "4Head4Head", "D:D: D:", "ｆｕｌｌ　ｗｉｄｔｈ", "a\tb"]:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text


def test_boundary_is_eos_and_loads_with_autotokenizer(tokenizer, tmp_path):
    from transformers import AutoTokenizer

    assert tokenizer.eos_token == "<|endoftext|>"
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded.eos_token == "<|endoftext|>" and loaded.eos_token_id == tokenizer.eos_token_id
    text = "LULW gg KEKW 4Head what"
    assert loaded(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert loaded.decode(loaded("<|endoftext|>KEKW")["input_ids"]) == "<|endoftext|>KEKW"


def test_vocabulary_is_sized_to_the_data():
    assert vocab_size_for(50_000) < vocab_size_for(6_000_000) < vocab_size_for(10**9)
    assert 384 <= vocab_size_for(0) and vocab_size_for(10**12) <= 32768
    small = train_tokenizer(chat_messages(500, seed=2), EMOTES)
    assert len(small) <= vocab_size_for(sum(map(len, chat_messages(500, seed=2)))) + 2 * len(EMOTES) + 1


def test_emotes_added_to_a_base_gpt2_tokenizer(tokenizer):
    base = train_tokenizer(chat_messages(2000, seed=3), [])  # a "base model" tokenizer that never saw emotes
    assert len(tokens(base, "gg peepoHappy")) > 2
    before = base("gg wp", add_special_tokens=False)["input_ids"]
    tuned = add_emotes_to(base, EMOTES)
    assert tokens(tuned, "gg peepoHappy")[-1] == "ĠpeepoHappy"
    assert tokens(tuned, "peepoHappy") == ["peepoHappy"]
    assert tuned("gg wp", add_special_tokens=False)["input_ids"] == before  # old ids keep their meaning
    assert len(tuned) > len(base) and tuned.eos_token == "<|endoftext|>"


def test_wrap_keeps_an_existing_tokenizer(tokenizer):
    again = wrap(tokenizer.backend_tokenizer)
    assert again("KEKW gg")["input_ids"] == tokenizer("KEKW gg")["input_ids"]
