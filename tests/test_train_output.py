"""What people see of a training run and what a checkpoint tells others: a quiet, honest
terminal; loss.png in bits per character; a checkpoint that transformers' tools and the Hub
understand (model card, sampling defaults, positions) and that names no place on this disk."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from train_corpus import write_corpus

from trainer.model.checkpoint import load_card
from trainer.model.modelcard import SAMPLING_DEFAULTS
from trainer.model.train import train

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def test_a_piped_30_second_run_prints_a_few_readable_lines(tmp_path):
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "trainer", "prepare", str(REPO / "data" / "sample"), "--out", str(data)],
                   check=True, capture_output=True, env=env, cwd=tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "trainer", "train", "--data", str(data), "--out", str(tmp_path / "model"),
         "--preset", "tiny", "--max-time", "30"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    lines = output.splitlines()
    assert len(lines) <= 30, output
    for noise in ("{'loss'", "Writing model shards", "missing keys", "attention_mask", "loss_type",
                  "The used dataset had no length"):
        assert noise not in output
    assert any(line.startswith("step ") and "validation" in line and "bits/char" in line for line in lines)
    assert "trained the tiny model" in output and f"saved to {tmp_path / 'model'}" in output


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def test_a_budget_far_too_small_for_the_data_is_warned_about(corpus, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="trainer.model.fitting"):
        train(corpus, tmp_path / "model", preset="tiny", max_steps=3, progress=False)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("one pass" in w and "--max-steps" in w for w in warnings), warnings


def test_a_short_run_still_draws_both_curves_in_bits_per_char(corpus, tmp_path):
    out = train(corpus, tmp_path / "model", preset="tiny", max_time=3.0, progress=False)
    entries = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train_points = [e["train_bits_per_char"] for e in entries if "train_bits_per_char" in e]
    valid_points = [e["valid_bits_per_char"] for e in entries if "valid_bits_per_char" in e]
    assert len(train_points) >= 2 and valid_points  # the first step and the last are logged
    assert 0.5 < valid_points[-1] < 8  # bits per char, not nats per token
    assert not any("eval_loss" in e and e["step"] == entries[-1]["step"] and "final_loss" in e for e in entries)
    assert (out / "loss.png").stat().st_size > 1000


@pytest.fixture(scope="module")
def checkpoint(corpus, tmp_path_factory):
    return train(corpus, tmp_path_factory.mktemp("hub") / "model", preset="tiny", max_steps=30, progress=False)


def test_transformers_pipeline_samples_as_the_bot_does(checkpoint):
    from transformers import pipeline

    from trainer.engine.generate import SamplingSettings

    defaults = SamplingSettings()
    assert SAMPLING_DEFAULTS == {"do_sample": True, "temperature": defaults.temperature, "top_p": defaults.top_p,
                                 "top_k": defaults.top_k, "repetition_penalty": defaults.repetition_penalty,
                                 "max_new_tokens": defaults.max_new_tokens}
    saved = json.loads((checkpoint / "generation_config.json").read_text())
    assert {key: saved[key] for key in SAMPLING_DEFAULTS} == SAMPLING_DEFAULTS

    chat = pipeline("text-generation", model=str(checkpoint))
    assert chat.tokenizer.model_max_length == chat.model.config.n_positions == load_card(checkpoint)["block_size"]
    prompt = "<|endoftext|>" + "<|endoftext|>".join(["gg wp"] * 60)  # longer than the model's positions
    ids = chat.tokenizer(prompt, truncation=True, max_length=chat.model.config.n_positions - 32)["input_ids"]
    assert chat.tokenizer.decode(ids).endswith("gg wp")  # truncation keeps the most recent chat
    outputs = {chat(chat.tokenizer.decode(ids), return_full_text=False)[0]["generated_text"] for _ in range(4)}
    assert len(outputs) > 1  # sampled, not greedy


def test_the_checkpoint_has_a_model_card_and_no_paths_of_this_disk(checkpoint, corpus):
    readme = (checkpoint / "README.md").read_text()
    front = readme.split("---")[1]
    assert "library_name: transformers" in front and "pipeline_tag: text-generation" in front and "tags:" in front
    assert "<|endoftext|>" in readme and "pipeline(" in readme
    card_text = (checkpoint / "streamchat.json").read_text()
    for place in (str(corpus), str(checkpoint), str(Path.home()), "/tmp/"):
        assert place not in card_text and place not in readme
    card = load_card(checkpoint)
    assert card["data"]["dir"].endswith(corpus.name) and not Path(card["data"]["dir"]).is_absolute()
