"""Shared test fixtures: where the real logs are, and a quiet, small torch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# Two cores and tests that run side by side: keep every torch op on one thread.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real chat logs beside the checkout; the test is skipped when they are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real chat logs not found at {SHARED_DATA}")
    return SHARED_DATA




@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """The demo's model: `data/sample/` prepared, then the tiny preset trained as `bot local`
    trains it (~15 s). Session-scoped: every test that needs a real model shares this one."""
    from bot.local import SAMPLE_TRAIN_STEPS
    from trainer.ingest.prepare import prepare
    from trainer.model.train import train

    base = tmp_path_factory.mktemp("tiny_checkpoint")
    data = base / "data"
    prepare([REPO / "data" / "sample"], data, progress=False)
    return train(data, base / "model", preset="tiny", max_steps=SAMPLE_TRAIN_STEPS, progress=False)
