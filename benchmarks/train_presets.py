"""Equal-time training runs that choose the `small` preset (the shape that learns most in a CPU budget).

Each run trains one configuration for the same wall-clock budget on one thread, on the
sodapoppin corpus that benchmarks/train_quality.py prepares, then scores bits per char on the
first 6,000 validation messages. Run two at once (one per core) so pairs see the same load:

    .venv/bin/python benchmarks/train_presets.py NAME '{"n_embd": 128, ...}' VOCAB SECONDS

VOCAB is the BPE size before emotes (0: the data-sized default). Results are appended to
benchmarks/results/train_presets.jsonl.
"""

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch

from trainer.evaluation.evaluate import bits_per_char
from trainer.corpus.records import read_records
from trainer.model.train import train

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "out" / "train_quality" / "data" / "sodapoppin-tcd"
RESULTS = ROOT / "results" / "train_presets.jsonl"


def main() -> None:
    name, overrides, vocab, seconds = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]) or None, float(sys.argv[4])
    torch.set_num_threads(1)
    out = ROOT / "out" / "train_presets" / name
    start = time.time()
    train(DATA, out, preset="small", max_time=seconds, overrides=overrides, vocab_size=vocab,
          progress=False, precision="fp32")
    train_s = time.time() - start
    valid = list(read_records(DATA / "valid.jsonl"))[:6000]
    bpc = bits_per_char(out, valid)
    card = json.loads((out / "streamchat.json").read_text())
    training = card.get("training", {})
    result = {
        "name": name, "overrides": overrides, "bpe_vocab": vocab, "bpc_first_6000": round(bpc, 4),
        "parameters": card.get("parameters"), "train_s": round(train_s),
        "steps": training.get("steps"), "tokens_seen": training.get("tokens_seen"),
        "tokens_per_second": training.get("tokens_per_second"),
    }
    print(json.dumps(result))
    with open(RESULTS, "a") as handle:
        handle.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
