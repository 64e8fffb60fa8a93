"""Training end to end with the tiny preset: seconds, a falling loss, a loadable checkpoint."""

from __future__ import annotations

import json

import pytest
import torch
from train_corpus import EMOTES, write_corpus

from trainer.model.chatformat import encode_stream
from trainer.model.checkpoint import load_card, load_fingerprints
from trainer.model.modelcard import shareable_path
from trainer.model.train import train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    return train(corpus, tmp_path_factory.mktemp("run") / "model", preset="tiny", max_steps=80, progress=False)


def test_tiny_model_trains_and_its_loss_falls(trained):
    assert "Muon" in load_card(trained)["training"]["optimizer"]
    entries = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    losses = [e["loss"] for e in entries if "loss" in e]
    evals = [e["eval_loss"] for e in entries if "eval_loss" in e]
    assert len(losses) >= 4 and len(evals) >= 2
    assert losses[-1] < 0.7 * losses[0]  # from ~ln(vocab) down to the corpus's structure
    assert evals[-1] < evals[0]
    card = load_card(trained)
    assert card["training"]["steps"] == 80 and card["training"]["train_seconds"] < 60
    assert card["metrics"]["valid_loss"] < losses[0]


def test_checkpoint_loads_with_transformers_and_has_its_card(trained):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(trained)
    tokenizer = AutoTokenizer.from_pretrained(trained)
    assert tokenizer.eos_token == "<|endoftext|>" and model.config.eos_token_id == tokenizer.eos_token_id
    assert model.config.vocab_size == len(tokenizer)
    ids = torch.tensor([encode_stream(tokenizer, ["KEKW KEKW", "gg wp"])])
    assert torch.isfinite(model(ids, labels=ids).loss)

    card = load_card(trained)
    assert card["format"] == "streamchat-checkpoint" and card["boundary"] == "<|endoftext|>"
    assert card["block_size"] == 64 and card["preset"] == "tiny" and card["emotes"] == EMOTES
    assert card["parameters"] == sum(p.numel() for p in model.parameters())
    assert card["split"]["train_streams"] == ["s0", "s1", "s2"] and card["split"]["valid_streams"] == ["v0"]
    assert card["data"]["train_messages"] == 1800 and card["data"]["sources"]
    assert {"torch", "transformers", "tokenizers"} <= set(card["versions"])
    assert card["training"]["precision"] in ("fp32", "bf16")
    assert (trained / "model.safetensors").exists() and not list(trained.glob("*.bin"))
    assert (trained / "loss.png").stat().st_size > 1000
    assert not (trained / "training").exists()  # resumable state is dropped once the checkpoint is written

    fingerprints = load_fingerprints(trained)
    assert "KEKW" in fingerprints and "what is happening in this test" not in fingerprints


def test_emotes_are_single_tokens_in_the_checkpoint(trained):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(trained)
    for emote in EMOTES:
        assert len(tokenizer(emote, add_special_tokens=False)["input_ids"]) == 1
        assert len(tokenizer(emote + " " + emote, add_special_tokens=False)["input_ids"]) == 2


def test_max_time_bounds_the_run(corpus, tmp_path, capsys):
    out = train(corpus, tmp_path / "timed", preset="tiny", max_time=2.0, progress=False)
    assert "'loss'" not in capsys.readouterr().out  # without progress, no log dicts on stdout (metrics.jsonl has them)
    card = load_card(out)
    assert card["training"]["stopped_by"] == "max_time"
    assert 2.0 <= card["training"]["train_seconds"] < 15
    assert card["training"]["best_step"] is not None


def test_init_from_continues_with_the_same_tokenizer(corpus, trained, tmp_path):
    out = train(corpus, tmp_path / "continued", init_from=trained, max_steps=10, progress=False)
    assert (out / "tokenizer.json").read_text() == (trained / "tokenizer.json").read_text()
    card = load_card(out)
    assert card["training"]["init_from"] == shareable_path(trained) and card["block_size"] == 64


def test_the_tiny_checkpoint_fixture_is_a_checkpoint(tiny_checkpoint):
    card = load_card(tiny_checkpoint)
    assert card["preset"] == "tiny" and (tiny_checkpoint / "tokenizer.json").exists()
