"""The model home never points at a model that can't load, never leaves itself by a path, never
promotes a non-finite figure; an interrupted checkpoint save is recovered on the next load."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from train_corpus import write_corpus

import trainer.model.checkpoint as checkpoint_module
from trainer.errors import StreamchatError
from trainer.loop.home import ModelHome
from trainer.loop.retrain import decide
from trainer.model.checkpoint import load_card, resolve_model
from trainer.model.train import train

REPO = Path(__file__).resolve().parents[1]
NAN, INF = float("nan"), float("inf")


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "trainer", *args], capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    corpus = write_corpus(tmp_path_factory.mktemp("corpus"), train_streams=2, per_stream=400, valid_messages=150)
    return train(corpus, tmp_path_factory.mktemp("m") / "model", preset="tiny", max_steps=2, progress=False)


def truncated_copy(model: Path, where: Path) -> Path:
    shutil.copytree(model, where)
    weights = where / "model.safetensors"
    os.truncate(weights, weights.stat().st_size - 100)
    return where


@pytest.mark.parametrize("candidate, current, margin", [
    ({"bits_per_char": NAN}, None, 0.0),
    ({"bits_per_char": NAN}, {"bits_per_char": 3.76}, 0.0),
    ({"bits_per_char": INF}, {"bits_per_char": 3.76}, 0.0),
    ({"bits_per_char": 5.09}, {"bits_per_char": 3.76}, NAN),
    ({"bits_per_char": 3.0, "empty_rate": NAN, "samples": 50}, {"bits_per_char": 3.76, "empty_rate": 0.0,
                                                                 "samples": 50}, 0.0),
])
def test_non_finite_figures_never_promote(candidate, current, margin):
    assert not decide(candidate, current, margin).promote


@pytest.mark.parametrize("flag", ["--margin", "--max-time"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_the_cli_refuses_non_finite_numbers(tmp_path, flag, value):
    done = cli("retrain", "--home", str(tmp_path / "home"), "--collected", str(tmp_path), f"{flag}={value}")
    assert done.returncode == 2 and "not a finite number" in done.stderr
    done = cli("train", "--data", str(tmp_path), "--out", str(tmp_path / "m"), f"--max-time={value}")
    assert done.returncode == 2 and "not a finite number" in done.stderr


def test_rollback_and_adopt_refuse_a_version_that_cannot_load(model, tmp_path):
    home = ModelHome(tmp_path / "home")
    good = home.add_version(model, move=False)
    home.promote(good)
    broken = home.add_version(truncated_copy(model, tmp_path / "broken"))
    home.promote(broken)  # (a retrain evaluates before it promotes; here it is forced)
    newest = home.add_version(model, move=False)
    home.promote(newest)
    os.truncate(home.version_dir(newest) / "model.safetensors", 1000)  # current, damaged after the fact
    home.set_current(good)
    home.set_current(newest)
    done = cli("rollback", "--home", str(home.path), "--to", broken)
    assert done.returncode == 2 and "can't be loaded" in done.stderr and home.current_version() == newest
    done = cli("home", str(home.path), "--adopt", str(truncated_copy(model, tmp_path / "broken2")))
    assert done.returncode == 2 and "can't be loaded" in done.stderr and home.current_version() == newest
    assert sorted(home.versions()) == sorted([good, broken, newest])
    assert cli("rollback", "--home", str(home.path), "--to", good).returncode == 0
    assert home.current_version() == good


def test_rollback_refuses_a_path_outside_the_home(model, tmp_path):
    home = ModelHome(tmp_path / "models" / "chan")
    home.promote(home.add_version(model, move=False))
    home.promote(home.add_version(model, move=False))
    outside = tmp_path / "x"
    shutil.copytree(model, outside)
    before = home.current_version()
    for to in ("../../x", "../../../x", str(outside), ".."):
        done = cli("rollback", "--home", str(home.path), "--to", to)
        assert done.returncode == 2 and "not a path" in done.stderr, done.stderr
        assert home.current_version() == before
        with pytest.raises(StreamchatError):
            home.set_current(to)


def _save_and_die_between_the_renames(target: Path) -> None:
    """In a child process: save over `target` and be killed (SIGKILL) between the two renames."""
    import signal

    from trainer.model.checkpoint import load_checkpoint, save_checkpoint

    weights, tokenizer, card = load_checkpoint(target)
    real_replace, renames = os.replace, []

    def killed_after_the_first(source, destination):
        renames.append(destination)
        if Path(destination) == target:  # the old one is aside, the new one not yet in place
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(source, destination)

    checkpoint_module.os.replace = killed_after_the_first  # (this process dies with it)
    save_checkpoint(weights, tokenizer, {**card, "label": "new"}, target)


def test_a_save_killed_between_its_renames_is_recovered_on_the_next_load(model, tmp_path):
    import multiprocessing

    target = tmp_path / "model"
    shutil.copytree(model, target)
    child = multiprocessing.get_context("fork").Process(target=_save_and_die_between_the_renames, args=(target,))
    child.start()
    child.join(60)
    assert child.exitcode == -9 and not target.exists()
    assert resolve_model(target) == target and load_card(target)["label"] == "new"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".model.tmp")] == []
    done = cli("home", str(tmp_path / "home"), "--adopt", str(target))  # any command reads it again
    assert done.returncode == 0, done.stderr
