"""`evaluate` says what its figures mean: a one-sentence verdict against the 5-gram and the
Markov bot (beyond the draw-to-draw noise or not, and what to do), the spread between draws,
eval.png, and the figures recorded in the checkpoint's model card."""

from __future__ import annotations

import json
import shutil

import pytest

from trainer.cli import main
from trainer.evaluation.report import realism_spread, verdict


def result(model_bpc, gram_bpc, model_auc, chain_auc, *, samples=1000, draws=1, model_draws=None, **model_extra):
    generation = {
        "samples": samples, "draws": draws,
        "model": {"realism_auc": model_auc, "realism_auc_draws": model_draws or [model_auc], **model_extra},
        "markov": {"realism_auc": chain_auc, "realism_auc_draws": [chain_auc]},
    }
    return {"bits_per_char": {"model": model_bpc, "char_5gram": gram_bpc}, "generation": generation}


def test_the_markov_bot_winning_is_said_with_what_to_do():
    text = verdict(result(2.1, 1.77, 0.596, 0.511))
    assert text.startswith("Verdict:") and text.count(".") >= 1
    assert "worse than the 5-gram" in text and "Markov bot's messages pass for real chat better" in text
    assert "beyond the noise" in text and "train longer" in text


def test_a_small_realism_gap_is_within_the_noise():
    text = verdict(result(1.98, 2.22, 0.573, 0.574))
    assert "better than the 5-gram" in text and "within the draw-to-draw noise" in text
    assert "--draws" in text  # one draw: more draws would separate them


def test_several_draws_measure_their_own_spread():
    many = result(1.98, 2.22, 0.55, 0.60, draws=5, model_draws=[0.54, 0.55, 0.56, 0.55, 0.55])
    assert "harder to tell from real chat than the Markov bot's" in verdict(many)
    spread, how = realism_spread(many["generation"], "model")
    assert spread == pytest.approx(0.00707, abs=1e-4) and how == "measured over 5 draws"
    assert realism_spread(result(2, 2, 0.5, 0.5, samples=250)["generation"], "model")[0] == pytest.approx(0.06)


def test_invented_words_are_named_when_the_figure_is_there():
    text = verdict(result(1.98, 2.22, 0.57, 0.57, invented_rate=0.26, real_invented_rate=0.11))
    assert "invents words in 26%" in text


@pytest.mark.slow
def test_evaluate_ends_with_the_verdict_draws_the_picture_and_fills_the_model_card(tiny_checkpoint, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(tiny_checkpoint, model)
    data = tiny_checkpoint.parent / "data"
    assert main(["evaluate", str(model), "--data", str(data), "--samples", "40", "--plot"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-2].startswith("Verdict:") and "Markov" in printed[-2]
    assert any("from draw to draw" in line for line in printed)
    assert (model / "eval.png").stat().st_size > 10_000
    recorded = json.loads((model / "evaluation.json").read_text())
    assert recorded["bits_per_char"] > 0 and recorded["verdict"].startswith("Verdict:")
    readme = (model / "README.md").read_text()
    assert f"| bits per character | {recorded['bits_per_char']:.3f}" in readme and recorded["verdict"] in readme
