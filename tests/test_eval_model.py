"""Evaluation of a model: bits per character by hand, generation, the CLI, bad inputs."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from trainer.model.chatformat import BOUNDARY, encode_stream
from trainer.model.checkpoint import save_checkpoint
from trainer.errors import StreamchatError
from trainer.evaluation.report import format_report
from trainer.evaluation.evaluate import (
    _windows,
    bits_per_char,
    evaluate,
    evaluate_baselines,
    load_model,
    model_message_bits,
    sample_contexts,
)
from trainer.corpus.fingerprints import FingerprintSet
from trainer.corpus.records import ChatRecord, write_records

WORDS = "LULW Pog hello chat KEKW what is this game nice OMEGALUL yes no gg EZ".split()
BLOCK = 24


def chat(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.choice([1, 1, 2, 3]))) for _ in range(count)]


def make_tokenizer(texts):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=[BOUNDARY], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    backend.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=BOUNDARY, bos_token=BOUNDARY, unk_token=BOUNDARY)


def make_checkpoint(path: Path, train_texts, *, zero: bool = False) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = make_tokenizer(train_texts)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=BLOCK, n_embd=16, n_layer=1, n_head=2,
        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config)
    if zero:  # every logit 0: the next token is uniform over the vocabulary
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.zero_()
    card = {"block_size": BLOCK, "preset": "test", "parameters": sum(p.numel() for p in model.parameters())}
    return save_checkpoint(model, tokenizer, card, path, FingerprintSet.from_texts(train_texts))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("corpus")
    train = [ChatRecord(text=t, stream=f"s{i}") for i in range(3) for t in chat(i, 150)]
    valid = [ChatRecord(text=t, stream=f"v{i}") for i in range(2) for t in chat(10 + i, 40)]
    write_records(data / "train.jsonl", train)
    write_records(data / "valid.jsonl", valid)
    (data / "emotes.txt").write_text("LULW\nPog\nKEKW\nOMEGALUL\nEZ\n")
    (data / "stats.json").write_text("{}")
    return data


@pytest.fixture(scope="module")
def checkpoint(corpus, tmp_path_factory) -> Path:
    texts = [json.loads(line)["text"] for line in (corpus / "train.jsonl").read_text().splitlines()]
    return make_checkpoint(tmp_path_factory.mktemp("model") / "model", texts)


def test_windows_score_every_position_once():
    for length in [1, 2, 5, 24, 25, 100]:
        windows = _windows(length, 24, 12)
        scored = [t for begin, end, first in windows for t in range(first, end)]
        assert scored == list(range(1, length))
        for begin, end, first in windows:
            assert end - begin <= 24 and (first == 1 or first - begin >= 12)


def test_uniform_model_gives_log2_vocab_per_token(corpus, tmp_path):
    texts = [json.loads(line)["text"] for line in (corpus / "train.jsonl").read_text().splitlines()]
    model_dir = make_checkpoint(tmp_path / "zero", texts, zero=True)
    loaded = load_model(model_dir)
    valid = chat(99, 30)
    tokens = len(encode_stream(loaded.tokenizer, valid)) - 1  # everything after the opening boundary
    chars = sum(len(t) + 1 for t in valid)
    expected = tokens * math.log2(len(loaded.tokenizer)) / chars
    assert bits_per_char(loaded, valid) == pytest.approx(expected, rel=1e-6)


def test_bits_match_a_token_by_token_computation(checkpoint):
    loaded = load_model(checkpoint)
    valid = chat(42, 25)  # long enough to need several windows of 24 tokens
    ids = encode_stream(loaded.tokenizer, valid)
    assert len(ids) > 3 * BLOCK
    stride = BLOCK // 2
    bits = []
    with torch.no_grad():
        for t in range(1, len(ids)):
            # the window that scores position t begins at the last stride step leaving it inside
            begin = 0 if t < BLOCK else ((t - BLOCK) // stride + 1) * stride
            logits = loaded.model(torch.tensor([ids[begin:t]])).logits[0, -1]
            bits.append(-torch.log_softmax(logits.double(), -1)[ids[t]].item() / math.log(2))
    per_message = model_message_bits(loaded, [valid])[0]
    spans = [len(loaded.tokenizer(t, add_special_tokens=False)["input_ids"]) + 1 for t in valid]
    expected = np.add.reduceat(np.array(bits), np.concatenate([[0], np.cumsum(spans)[:-1]]))
    assert per_message == pytest.approx(expected, rel=1e-4)
    records = [ChatRecord(text=t, stream="x") for t in valid]
    assert bits_per_char(loaded, records) == pytest.approx(sum(bits) / sum(len(t) + 1 for t in valid), rel=1e-4)


def test_streams_are_scored_separately(checkpoint):
    loaded = load_model(checkpoint)
    a, b = chat(1, 10), chat(2, 10)
    together = bits_per_char(loaded, [ChatRecord(text=t, stream="a") for t in a] + [ChatRecord(text=t, stream="b") for t in b])
    apart = (model_message_bits(loaded, [a])[0].sum() + model_message_bits(loaded, [b])[0].sum()) / sum(
        len(t) + 1 for t in a + b
    )
    assert together == pytest.approx(apart, rel=1e-6)


def test_sample_contexts_are_real_preceding_messages():
    streams = [[f"a{i}" for i in range(50)], [f"b{i}" for i in range(5)]]
    places = sample_contexts(streams, 30, seed=1)
    assert len(places) == 30
    for context, real in places:
        stream = streams[0] if real.startswith("a") else streams[1]
        i = stream.index(real)
        assert 1 <= len(context) <= 20 and context == stream[i - len(context) : i]
        assert len(context) >= min(8, i)


def test_evaluate_reports_model_baselines_and_generation(checkpoint, corpus):
    result = evaluate(checkpoint, corpus, samples=24, progress=False)
    bpc = result["bits_per_char"]
    assert 0 < bpc["char_5gram"] < bpc["model"]  # an untrained model is worse than the 5-gram
    assert result["validation"]["messages"] == 80
    generation = result["generation"]
    assert generation["samples"] == 24
    for name in ("model", "markov"):
        metrics = generation[name]
        assert metrics["count"] == 24 and 0 <= metrics["realism_auc"] <= 1
        assert 0 <= metrics["real_realism_auc"] <= 1  # the floor: other real chat against real chat
    assert generation["model"]["real_realism_auc"] == generation["markov"]["real_realism_auc"]
    assert len(result["examples"]) == 12
    json.dumps(result)  # serializable as is


def test_cli_end_to_end_with_json(checkpoint, corpus, tmp_path, capsys):
    from trainer.cli import main

    out = tmp_path / "figures" / "eval.json"
    assert main(["evaluate", str(checkpoint), "--data", str(corpus), "--json", str(out), "--samples", "16"]) == 0
    printed = capsys.readouterr().out
    assert "char 5-gram" in printed and "realism AUC" in printed and "markov: " in printed
    figures = json.loads(out.read_text())
    assert figures["generation"]["model"]["count"] == 16
    assert figures["bits_per_char"]["model"] > 0


def test_draws_average_the_generation_metrics(checkpoint, corpus, capsys):
    """--draws K: each draw is what a single-draw evaluation with that seed gives; the
    figures are their mean, and each draw's realism AUC is kept and printed."""
    from trainer.cli import main

    single = [evaluate(checkpoint, corpus, samples=16, progress=False, seed=seed)["generation"] for seed in (3, 4)]
    both = evaluate(checkpoint, corpus, samples=16, progress=False, seed=3, draws=2)["generation"]
    assert both["draws"] == 2 and both["samples"] == 16
    for name in ("model", "markov"):
        each = [g[name]["realism_auc"] for g in single]
        assert both[name]["realism_auc_draws"] == pytest.approx(each)
        assert both[name]["realism_auc"] == pytest.approx(sum(each) / 2)
        assert both[name]["mean_words"] == pytest.approx((single[0][name]["mean_words"] + single[1][name]["mean_words"]) / 2)
    assert main(["evaluate", str(checkpoint), "--data", str(corpus), "--samples", "16", "--draws", "2"]) == 0
    printed = capsys.readouterr().out
    assert "mean of 2 draws" in printed and "realism AUC of each draw, markov: " in printed
    assert main(["evaluate", str(checkpoint), "--data", str(corpus), "--draws", "0"]) == 2
    assert "error: --draws must be 1 or more" in capsys.readouterr().err


def test_cli_bad_model_dir_is_an_error_message(corpus, tmp_path):
    import subprocess
    import sys

    command = [sys.executable, "-m", "trainer", "evaluate", str(corpus), "--data", str(corpus)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "not a streamchat checkpoint" in done.stderr
    assert "Traceback" not in done.stderr


def test_baselines_alone(corpus):
    result = evaluate_baselines(corpus, samples=20)
    assert set(result["bits_per_char"]) == {"char_5gram", "char_5gram_novel"}
    assert set(result["generation"]) >= {"markov"} and "model" not in result["generation"]
    assert "char 5-gram" in format_report(result)


def test_evaluate_the_trained_tiny_checkpoint(tiny_checkpoint):
    data = tiny_checkpoint.parent / "data"  # where the fixture prepared data/sample
    result = evaluate(tiny_checkpoint, data, samples=16, progress=False)
    bpc = result["bits_per_char"]
    assert 0 < bpc["char_5gram"] < 8 and 0 < bpc["model"] < 8
    generation = result["generation"]
    assert generation["model"]["count"] + round(16 * generation["model"]["silent_rate"]) == 16
    # The model speaks through the engine, kept to the words of its training messages; the
    # chain only strings training words together; real held-out chat has its own new words.
    assert generation["sampling"]["engine"] and generation["sampling"]["lexicon"]
    assert generation["model"]["invented_rate"] == 0 and generation["markov"]["invented_rate"] == 0
    assert 0 <= generation["model"]["real_invented_rate"] <= 1
    assert "invented words" in format_report(result)


def test_bad_inputs_are_clear_errors(checkpoint, corpus, tmp_path):
    with pytest.raises(StreamchatError, match="streamchat checkpoint"):
        evaluate(corpus, corpus, samples=0)  # a data folder is not a model
    with pytest.raises(StreamchatError, match="no model"):
        evaluate(tmp_path / "nothing", corpus, samples=0)
    with pytest.raises(StreamchatError, match="prepare"):
        evaluate(checkpoint, tmp_path, samples=0)  # a folder prepare did not write
    empty = tmp_path / "empty"
    write_records(empty / "train.jsonl", [ChatRecord(text="hi", stream="a")])
    write_records(empty / "valid.jsonl", [])
    with pytest.raises(StreamchatError, match="valid.jsonl has no messages"):
        evaluate(checkpoint, empty, samples=0)
    with pytest.raises(StreamchatError, match="empty"):
        bits_per_char(checkpoint, [])
