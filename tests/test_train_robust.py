"""Training never loses a user's data and fails on bad state with a message, not a traceback:
`--out` never replaces a folder that isn't a checkpoint, a small corpus trains, a full disk or a
damaged resume checkpoint is handled, damaged weights and cards are named."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from train_corpus import write_corpus

import trainer.model.fitting as fitting_module
from trainer.errors import StreamchatError
from trainer.model.checkpoint import load_card, load_checkpoint
from trainer.model.train import RUN_DIR, train

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"), train_streams=2, per_stream=400, valid_messages=150)


@pytest.fixture(scope="module")
def model(corpus, tmp_path_factory):
    return train(corpus, tmp_path_factory.mktemp("m") / "model", preset="tiny", max_steps=4, progress=False)


def test_out_refuses_a_folder_that_is_not_a_checkpoint(corpus, tmp_path):
    notes = tmp_path / "x"
    notes.mkdir()
    (notes / "notes.txt").write_text("keep")
    with pytest.raises(StreamchatError, match=r"holds notes.txt.*not a streamchat checkpoint"):
        train(corpus, notes, preset="tiny", max_steps=2, progress=False)
    assert (notes / "notes.txt").read_text() == "keep"
    before = sorted(p.name for p in corpus.iterdir())
    with pytest.raises(StreamchatError, match="corpus"):
        train(corpus, corpus, preset="tiny", max_steps=2, progress=False)
    assert sorted(p.name for p in corpus.iterdir()) == before


def test_out_refuses_a_model_home(corpus, model, tmp_path):
    from trainer.loop.home import ModelHome

    home = ModelHome(tmp_path / "home")
    home.promote(home.add_version(model, move=False))
    home = home.path
    versions = sorted(p.name for p in (home / "versions").iterdir())
    with pytest.raises(StreamchatError, match="model home"):
        train(corpus, home, preset="tiny", max_steps=2, progress=False)
    assert sorted(p.name for p in (home / "versions").iterdir()) == versions


@pytest.mark.slow
def test_a_300_message_corpus_trains_and_validates_on_what_there_is(tmp_path):
    data = write_corpus(tmp_path / "c", train_streams=1, per_stream=290, valid_messages=10)
    out = train(data, tmp_path / "model", preset="tiny", max_steps=3, progress=False)
    assert load_card(out)["metrics"]["valid_loss"] > 0


@pytest.mark.slow
def test_a_full_disk_while_training_is_an_error_and_leaves_the_old_checkpoint_clean(corpus, tmp_path, monkeypatch):
    import torch

    out = train(corpus, tmp_path / "model", preset="tiny", max_steps=2, progress=False)
    card = load_card(out)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(StreamchatError, match="disk.*full"):
        train(corpus, out, preset="tiny", max_steps=4, progress=False)
    assert not (out / RUN_DIR).exists()
    assert load_card(out) == card
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []


def _interrupted_run(corpus, out: Path, monkeypatch) -> None:
    make = fitting_module.callback_classes

    def interrupting():
        TimeBudget, MetricsLog = make()

        class Interrupting(MetricsLog):
            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step == 5:
                    raise KeyboardInterrupt

        return TimeBudget, Interrupting

    with monkeypatch.context() as patch:
        patch.setattr(fitting_module, "callback_classes", interrupting)
        with pytest.raises(KeyboardInterrupt):
            train(corpus, out, preset="tiny", max_steps=6, progress=False)


@pytest.mark.slow
def test_resume_falls_back_from_a_damaged_checkpoint_to_the_one_before(corpus, tmp_path, monkeypatch):
    out = tmp_path / "model"
    _interrupted_run(corpus, out, monkeypatch)  # saves every 3 steps: checkpoint-3, then dies at 5
    monkeypatch.setattr(fitting_module, "callback_classes", fitting_module.callback_classes)
    # a second interrupted run would add checkpoint-6; make two by hand: copy 3 to 4 and damage 4
    import shutil

    shutil.copytree(out / RUN_DIR / "checkpoint-3", out / RUN_DIR / "checkpoint-4")
    state = json.loads((out / RUN_DIR / "checkpoint-4" / "trainer_state.json").read_text())
    state["global_step"] = 4
    (out / RUN_DIR / "checkpoint-4" / "trainer_state.json").write_text(json.dumps(state))
    weights = out / RUN_DIR / "checkpoint-4" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    train(corpus, out, preset="tiny", max_steps=6, resume=True, progress=False)
    assert load_card(out)["training"]["resumed_from_step"] == 3


def test_truncated_weights_are_named_by_evaluate_and_load(corpus, model, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(model, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(StreamchatError, match="cannot load the model"):
        load_checkpoint(broken)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "trainer", "evaluate", str(broken), "--data", str(corpus),
                           "--samples", "2"], capture_output=True, text=True, env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "cannot load the model" in done.stderr


@pytest.mark.parametrize("version", ["x", [1], None, 1.5])
def test_a_card_with_an_odd_format_version_is_named(model, tmp_path, version):
    import shutil

    odd = tmp_path / "odd"
    shutil.copytree(model, odd)
    card = json.loads((odd / "streamchat.json").read_text())
    card["format_version"] = version
    (odd / "streamchat.json").write_text(json.dumps(card))
    with pytest.raises(StreamchatError, match="format_version"):
        load_card(odd)
