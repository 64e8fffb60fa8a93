"""`--resume`: an interrupted run continues from its last saved step, not from scratch."""

from __future__ import annotations

import json

import pytest
from train_corpus import write_corpus

import trainer.model.fitting as fitting_module
from trainer.model.checkpoint import load_card
from trainer.model.train import RUN_DIR, train

pytestmark = pytest.mark.slow


def interrupt_at(step: int):
    """Make the next run raise KeyboardInterrupt (Ctrl-C) when it reaches `step`."""
    make = fitting_module.callback_classes

    def patched():
        TimeBudget, MetricsLog = make()

        class Interrupting(MetricsLog):
            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step == step:
                    raise KeyboardInterrupt

        return TimeBudget, Interrupting

    return patched


def test_resume_continues_where_it_stopped(tmp_path, monkeypatch):
    corpus = write_corpus(tmp_path / "corpus")
    out = tmp_path / "model"
    with monkeypatch.context() as patch:
        patch.setattr(fitting_module, "callback_classes", interrupt_at(25))
        with pytest.raises(KeyboardInterrupt):
            train(corpus, out, preset="tiny", max_steps=40, progress=False)
    # the run saved at step 20 (every max_steps // 2 steps) and died at 25: no checkpoint yet
    assert (out / RUN_DIR / "checkpoint-20" / "trainer_state.json").exists()
    assert not (out / "streamchat.json").exists()
    tokenizer_before = (out / RUN_DIR / "tokenizer" / "tokenizer.json").read_text()

    train(corpus, out, preset="tiny", max_steps=40, resume=True, progress=False)
    card = load_card(out)
    assert card["training"]["resumed_from_step"] == 20 and card["training"]["steps"] == 40
    assert (out / "tokenizer.json").read_text() == tokenizer_before  # same tokenizer, not retrained
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps)  # the resumed run appends after what the first one logged
    assert max(steps) == 40 and 30 in steps  # logged on both sides of the interruption


def test_resume_with_nothing_to_resume_starts_fresh(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    out = train(corpus, tmp_path / "model", preset="tiny", max_steps=10, resume=True, progress=False)
    assert load_card(out)["training"]["resumed_from_step"] is None
