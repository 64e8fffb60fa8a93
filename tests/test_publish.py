"""`python -m trainer publish`: a checkpoint onto the Hub through huggingface_hub, against a
stand-in of the Hub's HTTP API on 127.0.0.1 (HF_ENDPOINT), never the network."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fake_hub import FakeHub

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def publish(args, hub_url: str, token: str | None, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_OFFLINE"))}
    env.update(HF_ENDPOINT=hub_url, HF_HOME=str(home), PYTHONPATH=str(REPO), HF_HUB_DISABLE_TELEMETRY="1")
    if token:
        env["HF_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "trainer", "publish", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_publish_uploads_the_checkpoint_with_its_card(tiny_checkpoint, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_checkpoint, model)
    (model / "training").mkdir()  # an old run's leftovers stay home
    (model / "training" / "state.bin").write_bytes(b"x")
    with FakeHub() as hub:
        done = publish([str(model), "--repo", "tester/chatmodel"], hub.url, hub.token, tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "published" in done.stdout and "tester/chatmodel" in done.stdout
        files = hub.repos["tester/chatmodel"]
        assert {"README.md", "config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                "streamchat.json"} <= set(files)
        assert not any(name.startswith("training/") for name in files)
        assert files["model.safetensors"] == (tiny_checkpoint / "model.safetensors").read_bytes()
        assert "library_name: transformers" in files["README.md"].decode()
        assert json.loads(files["generation_config.json"])["do_sample"] is True
        assert all(auth == f"Bearer {hub.token}" for method, _, auth in hub.requests if method == "POST")


def test_publish_without_a_token_or_with_a_bad_one_says_so(tiny_checkpoint, tmp_path):
    with FakeHub() as hub:
        done = publish([str(tiny_checkpoint), "--repo", "tester/chatmodel"], hub.url, None, tmp_path)
        assert done.returncode == 2 and "HF_TOKEN" in done.stderr and "Traceback" not in done.stderr
        done = publish([str(tiny_checkpoint), "--repo", "tester/chatmodel"], hub.url, "hf_wrong", tmp_path)
        assert done.returncode == 2 and "refused" in done.stderr and "Traceback" not in done.stderr
        assert not hub.repos
        done = publish([str(tiny_checkpoint), "--repo", "nouser"], hub.url, hub.token, tmp_path)
        assert done.returncode == 2 and "USER/NAME" in done.stderr
