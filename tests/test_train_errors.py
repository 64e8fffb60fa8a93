"""Bad inputs to training get a clear message that says what to do, and nothing is lost."""

from __future__ import annotations

import json

import pytest
from train_corpus import EMOTES, chat_messages, write_corpus

from trainer.errors import StreamchatError
from trainer.corpus.records import ChatRecord, write_records
from trainer.model.modelcard import shareable_path
from trainer.model.train import train


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def test_missing_folder_and_unprepared_folder(tmp_path):
    with pytest.raises(StreamchatError, match=r"no data folder.*trainer prepare"):
        train(tmp_path / "nowhere", tmp_path / "model", preset="tiny")
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "chat.log").write_text("[0:00:01] <someone> hello\n")
    with pytest.raises(StreamchatError, match=r"not a prepared corpus.*trainer prepare"):
        train(tmp_path / "raw", tmp_path / "model", preset="tiny")
    assert not (tmp_path / "model").exists()


def test_empty_and_tiny_corpus(tmp_path):
    for count in (0, 50):
        data = tmp_path / f"c{count}"
        write_records(data / "train.jsonl", [ChatRecord(text=t, stream="s") for t in chat_messages(count, seed=1)])
        with pytest.raises(StreamchatError, match=f"has {count} messages.*add more chat"):
            train(data, tmp_path / "model", preset="tiny")


def test_corpus_too_small_for_the_preset(tmp_path):
    data = write_corpus(tmp_path / "c", train_streams=1, per_stream=400, valid_messages=100)
    with pytest.raises(StreamchatError, match=r"too small for the base preset.*--preset tiny"):
        train(data, tmp_path / "model", preset="base", max_steps=1)


def test_malformed_corpus_line(corpus, tmp_path):
    data = tmp_path / "broken"
    data.mkdir()
    lines = (corpus / "train.jsonl").read_text().splitlines()
    lines[5] = "{not json"
    (data / "train.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(StreamchatError, match=r"train.jsonl:6: not a corpus record"):
        train(data, tmp_path / "model", preset="tiny")


def test_base_model_that_cannot_be_loaded(corpus, tmp_path):
    for name in (str(tmp_path / "no-such-model"), "gpt2"):  # a missing folder; a hub name while offline
        with pytest.raises(StreamchatError, match=r"could not load the base model.*offline.*--base-model"):
            train(corpus, tmp_path / "model", base_model=name, max_steps=1, progress=False)


def test_out_of_memory_names_the_smaller_preset(corpus, tmp_path):
    huge = {"n_embd": 65536, "n_head": 1, "n_layer": 1, "block_size": 64}  # a 68 GB weight matrix
    with pytest.raises(StreamchatError, match=r"small preset ran out of memory.*--preset tiny"):
        train(corpus, tmp_path / "model", preset="small", overrides=huge, max_steps=1, progress=False)


def test_bad_numbers_and_cli_exit_code(corpus, tmp_path, capsys):
    with pytest.raises(StreamchatError, match="--max-time"):
        train(corpus, tmp_path / "m", max_time=0)
    from trainer.cli import main

    assert main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m")]) == 2
    assert "error: no data folder" in capsys.readouterr().err


@pytest.mark.slow
def test_fine_tune_a_local_base_gpt2(corpus, tmp_path):
    """--base-model with a local folder: emotes and boundary added, embeddings resized."""
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from trainer.model.checkpoint import load_card
    from trainer.model.tokenizer import train_tokenizer

    base_dir = tmp_path / "base-gpt2"
    base_tokenizer = train_tokenizer(chat_messages(1500, seed=4), [])  # knows no emotes
    base_tokenizer.save_pretrained(base_dir)
    config = GPT2Config(vocab_size=len(base_tokenizer), n_positions=128, n_embd=32, n_layer=1, n_head=2)
    GPT2LMHeadModel(config).save_pretrained(base_dir)

    out = train(corpus, tmp_path / "tuned", preset="tiny", base_model=str(base_dir), max_steps=6, progress=False)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert len(tokenizer) > len(base_tokenizer)
    for emote in EMOTES:
        assert len(tokenizer(emote, add_special_tokens=False)["input_ids"]) == 1
    card = load_card(out)
    assert card["training"]["base_model"] == shareable_path(base_dir) and card["block_size"] == 64  # not this disk
    assert card["training"]["optimizer"].startswith("AdamW")  # a pretrained GPT-2 is tuned with AdamW alone
    assert json.loads((out / "config.json").read_text())["vocab_size"] == len(tokenizer)
