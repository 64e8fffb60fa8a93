"""Checkpoints: save → load round trip, atomic replacement, clear errors for broken folders."""

from __future__ import annotations

import json

import pytest
import torch
from train_corpus import EMOTES, chat_messages

from trainer.model.checkpoint import CARD_FILE, load_card, load_checkpoint, load_fingerprints, new_card, save_checkpoint
from trainer.errors import StreamchatError
from trainer.corpus.fingerprints import FingerprintSet
from trainer.model.presets import PRESETS, build_model
from trainer.model.tokenizer import train_tokenizer


@pytest.fixture(scope="module")
def parts():
    texts = chat_messages(800, seed=11)
    tokenizer = train_tokenizer(texts, EMOTES)
    torch.manual_seed(0)
    model = build_model(PRESETS["tiny"], len(tokenizer), tokenizer.eos_token_id).eval()
    card = new_card(block_size=64, emotes=EMOTES, preset="tiny", parameters=sum(p.numel() for p in model.parameters()))
    return model, tokenizer, card, FingerprintSet.from_texts(texts)


def logits(model, tokenizer, text="KEKW gg wp LULW"):
    with torch.no_grad():
        return model(torch.tensor([tokenizer(text)["input_ids"]])).logits


def test_save_then_load_round_trip(parts, tmp_path):
    model, tokenizer, card, fingerprints = parts
    out = save_checkpoint(model, tokenizer, card, tmp_path / "model", fingerprints)
    loaded, loaded_tokenizer, loaded_card = load_checkpoint(out)
    assert torch.allclose(logits(model, tokenizer), logits(loaded, loaded_tokenizer), atol=1e-6)
    assert loaded_tokenizer("4Head D: gg")["input_ids"] == tokenizer("4Head D: gg")["input_ids"]
    assert loaded_card["emotes"] == EMOTES and loaded_card["format_version"] == 1
    assert len(load_fingerprints(out)) == len(fingerprints)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folders left


def test_interrupted_save_leaves_the_previous_checkpoint(parts, tmp_path, monkeypatch):
    model, tokenizer, card, fingerprints = parts
    out = save_checkpoint(model, tokenizer, card, tmp_path / "model", fingerprints)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the user pressed Ctrl-C half way through writing

    monkeypatch.setattr(type(tokenizer), "save_pretrained", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(model, tokenizer, {**card, "preset": "changed"}, out, fingerprints)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert load_card(out)["preset"] == "tiny"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_saving_over_a_checkpoint_replaces_it(parts, tmp_path):
    model, tokenizer, card, fingerprints = parts
    out = save_checkpoint(model, tokenizer, card, tmp_path / "model", fingerprints)
    (out / "stale.txt").write_text("from the old checkpoint")
    save_checkpoint(model, tokenizer, {**card, "preset": "again"}, out, fingerprints)
    assert load_card(out)["preset"] == "again" and not (out / "stale.txt").exists()


def test_load_card_says_what_is_wrong(parts, tmp_path):
    model, tokenizer, card, fingerprints = parts
    with pytest.raises(StreamchatError, match="no model at"):
        load_card(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StreamchatError, match="not a streamchat checkpoint"):
        load_card(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / CARD_FILE).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(StreamchatError, match="not a streamchat checkpoint card"):
        load_card(tmp_path / "other")
    out = save_checkpoint(model, tokenizer, card, tmp_path / "model", fingerprints)
    (out / "model.safetensors").unlink()
    (out / "tokenizer.json").unlink()
    with pytest.raises(StreamchatError, match=r"missing weights.*tokenizer"):
        load_card(out)
    (out / CARD_FILE).write_text("{not json")
    with pytest.raises(StreamchatError, match="unreadable"):
        load_card(out)
