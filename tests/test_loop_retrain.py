"""Retraining a model home from collected chat: promotion, refusal, rollback, a kill midway, privacy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trainer.corpus import privacy
from trainer.model.checkpoint import load_card, resolve_model
from trainer.errors import StreamchatError
from trainer.loop.home import ModelHome
from trainer.corpus.records import ChatRecord, read_records, write_records
from trainer.loop.retrain import RetrainOptions, build_corpus, decide, extend_with_emotes, retrain

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

# Words that exist only in messages that must never be learned.
MARKERS = {
    "deleted": "zebracornDeleted",
    "cleared": "zebracornCleared",
    "opted_out": "zebracornOptout",
    "forgotten": "zebracornForgotten",
    "blocked": "zebracornBlocked",
}


def sample_texts(checkpoint: Path) -> list[str]:
    """The prepared sample the tiny checkpoint was trained on (where the fixture prepared it; the
    card names it only by a hash, the folder being outside the working one)."""
    data = checkpoint.parent / "data"
    assert Path(load_card(checkpoint)["data"]["dir"]).name == data.name
    texts = [r.text for r in read_records(data / "train.jsonl")]
    texts += [r.text for r in read_records(data / "valid.jsonl")]
    return texts


def make_collected(root: Path, texts: list[str], *, n: int = 1500, users: int = 40) -> Path:
    """A channel's collected chat as the bot writes it: two days, ids, salted-hash-like users."""
    chan = root / "collected" / "somechannel"
    records = []
    for i in range(n):
        day = "2026-11-27" if i < n // 2 else "2026-11-28"
        second = i % (n // 2)
        records.append(ChatRecord(
            text=texts[i % len(texts)], channel="somechannel", stream=f"somechannel/{day}",
            ts=f"{day}T{10 + second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z",
            id=f"msg-{i}", user=f"user{i % users:02d}hash",
        ))
    # One message of each kind that must go, early enough to land in training.
    for k, (kind, marker) in enumerate(MARKERS.items()):
        records[100 + k] = ChatRecord(
            text=f"{marker} is what {kind} said", channel="somechannel", stream="somechannel/2026-11-27",
            ts=records[100 + k].ts, id=f"secret-{kind}", user=f"{kind}-user",
        )
    for day in ("2026-11-27", "2026-11-28"):
        write_records(chan / f"{day}.jsonl", [r for r in records if r.stream.endswith(day)])
    return chan


@pytest.fixture
def home(tiny_checkpoint, tmp_path) -> ModelHome:
    home = ModelHome(tmp_path / "models" / "somechannel")
    version = home.add_version(tiny_checkpoint, move=False)
    home.promote(version)
    return home


@pytest.fixture
def collected(tiny_checkpoint, tmp_path) -> Path:
    return make_collected(tmp_path, sample_texts(tiny_checkpoint))


def corpus_texts(data_dir: Path) -> list[str]:
    return [r.text for name in ("train.jsonl", "valid.jsonl") for r in read_records(data_dir / name)]


def purge_every_marker(collected: Path) -> None:
    """Each privacy action once, on the message of its marker."""
    privacy.delete_message(collected, "secret-deleted")
    privacy.clear_user(collected, "cleared-user")
    privacy.opt_out(collected, "opted_out-user")
    privacy.forget(collected, "forgotten-user")
    privacy.block_word(collected, MARKERS["blocked"])


def test_privacy_is_honoured_by_the_corpus(collected, tmp_path):
    purge_every_marker(collected)
    # A message that slipped in after the purge (a race with the collector) is still left out.
    late = ChatRecord(text=f"{MARKERS['forgotten']} again", channel="somechannel",
                      stream="somechannel/2026-11-28", ts="2026-11-28T09:00:00Z", id="late", user="forgotten-user")
    with open(collected / "2026-11-28.jsonl", "a", encoding="utf-8") as handle:
        handle.write(late.to_json() + "\n")
    summary = build_corpus(collected, [], tmp_path / "work", progress=False)
    texts = corpus_texts(tmp_path / "work" / "data")
    assert len(texts) > 1000
    joined = "\n".join(texts)
    for marker in MARKERS.values():
        assert marker not in joined
    # The fresh validation set is the most recent chat.
    assert summary["valid_to"].startswith("2026-11-28")
    valid = [r for r in read_records(tmp_path / "work" / "data" / "valid.jsonl")]
    assert valid and all(r.ts is None or r.ts >= "2026-11-28" for r in valid)
    # Only the most recent messages (200 of 1500), not the whole of their day.
    assert 150 <= len(valid) <= 200 and len(texts) - len(valid) > 1000
    # No ids or user hashes in the corpus.
    raw = (tmp_path / "work" / "data" / "train.jsonl").read_text()
    assert "user0" not in raw and "msg-" not in raw


def test_retrain_promotes_a_better_model_and_rollback_returns(home, collected):
    before = home.current_version()
    status = retrain(home.path, RetrainOptions(collected=collected, max_steps=40, samples=10,
                                               margin=0.02, progress=False))
    assert status["outcome"] == "promoted", status["reason"]
    after = home.current_version()
    assert after != before and status["version"] == after
    assert resolve_model(home.path) == home.version_dir(after)
    card = json.loads((home.version_dir(after) / "retrain.json").read_text())
    assert card["evaluation"]["bits_per_char"] <= card["previous_evaluation"]["bits_per_char"] * 1.02
    saved = home.read_status()
    assert saved["state"] == "done" and saved["figures"]["candidate"]["bits_per_char"] > 0
    assert not home.lock_path.exists() and not home.work_dir.exists()
    # Rollback with the command line, as a streamer would.
    result = subprocess.run([sys.executable, "-m", "trainer", "rollback", "--home", str(home.path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert home.current_version() == before
    assert f"current version is {before}" in result.stdout


def test_a_worse_candidate_is_not_promoted(home, collected):
    before = home.current_version()
    status = retrain(home.path, RetrainOptions(collected=collected, from_scratch=True, preset="tiny",
                                               max_steps=2, samples=10, progress=False))
    assert status["outcome"] == "kept"
    assert "worse on fresh chat" in status["reason"]
    assert home.current_version() == before and home.versions() == [before]


def test_a_broken_current_version_does_not_block_a_working_one(home, collected):
    (home.current_dir() / "model.safetensors").write_bytes(b"not weights")
    status = retrain(home.path, RetrainOptions(collected=collected, from_scratch=True, preset="tiny",
                                               max_steps=5, samples=0, progress=False))
    assert status["outcome"] == "promoted"
    assert status["reason"].startswith("the current version could not be evaluated")
    load_card(resolve_model(home.path))


def test_a_second_retrain_is_refused(home, collected):
    with home.lock():
        with pytest.raises(StreamchatError, match="already running"):
            retrain(home.path, RetrainOptions(collected=collected, max_steps=2, progress=False))
    assert home.read_status().get("state") != "running"


def test_a_retrain_killed_midway_leaves_current_working(home, collected):
    before = home.current_version()
    env = dict(os.environ, OMP_NUM_THREADS="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "trainer", "retrain", "--home", str(home.path), "--collected", str(collected),
         "--max-time", "120", "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    try:
        deadline = time.time() + 120
        while home.read_status().get("stage") != "training":
            assert process.poll() is None, "the retrain ended before training"
            assert time.time() < deadline, "the retrain never started training"
            time.sleep(0.2)
        time.sleep(2.0)  # well into training
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert home.current_version() == before
    load_card(resolve_model(home.path))  # current is complete and loadable
    assert home.read_status()["state"] == "interrupted"
    assert home.lock().owner() is None  # the killed process's lock is stale
    # The next retrain takes over the stale lock and clears the debris in work/.
    status = retrain(home.path, RetrainOptions(collected=collected, max_steps=2, samples=0, margin=1.0,
                                               progress=False))
    assert status["state"] == "done"
    assert not home.work_dir.exists()


def test_new_emotes_become_tokens_initialised_from_their_pieces(tiny_checkpoint, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = extend_with_emotes(tiny_checkpoint, ["zebraPog"], tmp_path / "extended")
    old_tok, new_tok = AutoTokenizer.from_pretrained(tiny_checkpoint), AutoTokenizer.from_pretrained(out)
    assert len(old_tok.tokenize("hi zebraPog")) > 2
    assert new_tok.tokenize("hi zebraPog") == old_tok.tokenize("hi") + ["ĠzebraPog"]
    old_w = AutoModelForCausalLM.from_pretrained(tiny_checkpoint).get_input_embeddings().weight
    new_w = AutoModelForCausalLM.from_pretrained(out).get_input_embeddings().weight
    pieces = old_tok(" zebraPog", add_special_tokens=False)["input_ids"]
    new_id = new_tok.convert_tokens_to_ids("ĠzebraPog")
    assert torch.allclose(new_w[new_id], old_w[pieces].mean(0))
    assert torch.equal(new_w[: len(old_tok)], old_w)  # existing tokens untouched
    assert "zebraPog" in load_card(out)["emotes"]


def test_decide_explains_itself():
    current = {"bits_per_char": 2.0, "empty_rate": 0.0, "copy_rate": 0.0, "samples": 200}
    assert decide({**current, "bits_per_char": 1.9}, current, 0.0).promote
    assert not decide({**current, "bits_per_char": 2.1}, current, 0.0).promote
    assert decide({**current, "bits_per_char": 2.1}, current, 0.1).promote
    worse = decide({**current, "empty_rate": 0.3}, current, 0.0)
    assert not worse.promote and "empty" in worse.reason
    assert decide({**current, "bits_per_char": 2.5}, None, 0.0).reason.startswith("first version")


def test_command_line_errors_are_clear_and_create_nothing(tmp_path):
    home = tmp_path / "models" / "typo"
    result = subprocess.run(
        [sys.executable, "-m", "trainer", "retrain", "--home", str(home), "--collected", str(tmp_path / "nope")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "error: no collected chat at" in result.stderr and "Traceback" not in result.stderr
    assert not home.exists()
    result = subprocess.run([sys.executable, "-m", "trainer", "rollback", "--home", str(home)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "not a model home" in result.stderr


def test_privacy_holds_when_the_collect_folder_is_prepared_or_added_with_also(collected, tmp_path):
    from trainer.ingest.prepare import prepare

    purge_every_marker(collected)
    prepare([collected], tmp_path / "prepared", progress=False)
    build_corpus(None, [collected], tmp_path / "work", progress=False)
    for data in (tmp_path / "prepared", tmp_path / "work" / "data"):
        joined = "\n".join(corpus_texts(data))
        assert len(joined) > 1000
        for marker in MARKERS.values():
            assert marker not in joined, (data, marker)
    # An unreadable policy: nothing of the folder is learned.
    (collected / privacy.POLICY_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(StreamchatError, match="no message survived"):
        prepare([collected], tmp_path / "closed", progress=False)


def test_the_home_remembers_its_corpus_and_retrain_uses_it_by_default(tiny_checkpoint, collected, tmp_path):
    from trainer.loop.retrain import corpora_to_use, sized_max_time

    corpus = tiny_checkpoint.parent / "data"  # what the fixture trained the checkpoint on
    home_dir = tmp_path / "models" / "adopted"
    result = subprocess.run([sys.executable, "-m", "trainer", "home", str(home_dir), "--adopt", str(tiny_checkpoint),
                             "--corpus", str(corpus)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"retrains also learn from: {corpus.resolve()}" in result.stdout
    home = ModelHome(home_dir)
    assert home.corpora() == [corpus.resolve()]
    assert corpora_to_use(home, RetrainOptions(collected=collected)) == [corpus.resolve() / "train.jsonl",
                                                                         corpus.resolve() / "valid.jsonl"]
    assert corpora_to_use(home, RetrainOptions(collected=collected, only_collected=True)) == []

    status = retrain(home.path, RetrainOptions(collected=collected, max_steps=2, samples=0, margin=1.0,
                                               progress=False))
    sample_messages = len(list(read_records(corpus / "train.jsonl")))
    assert status["figures"]["corpus"]["train_messages"] > sample_messages  # old and new chat together
    assert "max_time" not in status["figures"]  # --max-steps given: no time budget is sized

    # The default budget follows the data: a few passes at the current version's speed, within bounds.
    seconds = sized_max_time(corpus, home.current_dir())
    assert 60 <= seconds <= 900
    assert sized_max_time(corpus, None) == pytest.approx(min(900, max(60, 3 * sum(
        len(r.text) + 1 for r in read_records(corpus / "train.jsonl")) * 0.45 / 10_000)), abs=1)
