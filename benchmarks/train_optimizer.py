"""Equal-step training runs that chose the optimizer and its settings (for the CPU budget).

A bare training loop (the same model, packing and schedule as `trainer train`, without the
Trainer's evaluations and saves) on the sodapoppin corpus that benchmarks/train_quality.py
prepares, with the tokenizer of the model it trained. It reports bits per char on 256 packed
validation blocks (the context restarts at each block, so the figure is above `evaluate`'s,
but it ranks runs the same way). One thread per run; run two at once, one per core:

    .venv/bin/python benchmarks/train_optimizer.py adamw '{"optimizer": "adamw"}'
    .venv/bin/python benchmarks/train_optimizer.py muon  '{"optimizer": "muon", "muon_lr": 0.02}'

Settings (JSON): steps (1200), optimizer (adamw|muon), lr (AdamW's, 5e-3), muon_lr (0.02),
muon_weight_decay (0.1), schedule (cosine|wsd), warmup (100), and any preset field
(n_layer, n_embd, activation, ...). Results are appended to benchmarks/results/train_optimizer.jsonl.
"""

import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer

from trainer.model.presets import PRESETS, build_model
from trainer.model.optim import MuonAdamW, gpt2_param_groups
from trainer.model.packing import pack_blocks, token_stream
from trainer.corpus.records import read_records
from trainer.model.train import MIN_LR_RATIO

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "out" / "train_quality" / "data" / "sodapoppin-tcd"
TOKENIZER = ROOT / "out" / "train_quality" / "models" / "sodapoppin-tcd"
CACHE = ROOT / "out" / "train_optimizer_ids.npz"
RESULTS = ROOT / "results" / "train_optimizer.jsonl"
VALID_BLOCKS = 256


def token_ids(tokenizer):
    if CACHE.exists():
        cached = np.load(CACHE)
        return cached["train"], cached["valid"]
    train = token_stream(tokenizer, read_records(DATA / "train.jsonl"))
    valid = token_stream(tokenizer, read_records(DATA / "valid.jsonl"))
    np.savez(CACHE, train=train, valid=valid)
    return train, valid


def make_optimizer(model, settings: dict):
    lr, weight_decay = settings["lr"], 0.1
    if settings["optimizer"] == "muon":
        groups = gpt2_param_groups(model, lr=lr, muon_lr=settings["muon_lr"], weight_decay=weight_decay)
        groups[0]["weight_decay"] = settings["muon_weight_decay"]
        return MuonAdamW(groups)
    matrices = [p for p in model.parameters() if p.ndim >= 2]
    vectors = [p for p in model.parameters() if p.ndim < 2]
    return torch.optim.AdamW([{"params": matrices, "weight_decay": weight_decay},
                              {"params": vectors, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95))


def lr_factor(step: int, settings: dict) -> float:
    progress, warm = step / settings["steps"], min(1.0, (step + 1) / settings["warmup"])
    if settings["schedule"] == "wsd":  # constant, then linear to 0 over the last 30 %
        return warm * (1.0 if progress < 0.7 else max(0.0, (1 - progress) / 0.3))
    return warm * (MIN_LR_RATIO + (1 - MIN_LR_RATIO) * 0.5 * (1 + math.cos(math.pi * progress)))


def main() -> None:
    name, given = sys.argv[1], json.loads(sys.argv[2])
    settings = {"steps": 1200, "optimizer": "adamw", "lr": 5e-3, "muon_lr": 0.02, "muon_weight_decay": 0.1,
                "schedule": "cosine", "warmup": 100}
    preset_fields = {k: v for k, v in given.items() if k not in settings}
    settings.update({k: v for k, v in given.items() if k in settings})
    torch.set_num_threads(1)
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(TOKENIZER)
    train_ids, valid_ids = token_ids(tokenizer)
    preset = replace(PRESETS["small"], **preset_fields)
    train_blocks = pack_blocks(train_ids, preset.block_size)
    valid_blocks = pack_blocks(valid_ids, preset.block_size)
    valid_blocks = valid_blocks[np.linspace(0, len(valid_blocks) - 1, VALID_BLOCKS).astype(int)]
    eos = tokenizer.eos_token_id
    chars = sum(len(tokenizer.decode([int(t) for t in row if t != eos])) for row in valid_blocks)
    chars += int((valid_blocks == eos).sum())

    model = build_model(preset, len(tokenizer), eos)
    optimizer = make_optimizer(model, settings)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, settings))

    def valid_bits_per_char() -> float:
        model.eval()
        total = 0.0
        with torch.no_grad():
            for i in range(0, len(valid_blocks), 16):
                x = torch.from_numpy(valid_blocks[i:i + 16]).long()
                total += model(input_ids=x, labels=x).loss.item() * x.shape[0] * (preset.block_size - 1)
        model.train()
        return total / math.log(2) / chars

    rng = np.random.default_rng(0)
    order, at = rng.permutation(len(train_blocks)), 0
    start = time.time()
    for step in range(settings["steps"]):
        if at + preset.batch_size > len(order):
            order, at = rng.permutation(len(train_blocks)), 0
        x = torch.from_numpy(train_blocks[order[at:at + preset.batch_size]]).long()
        at += preset.batch_size
        model(input_ids=x, labels=x).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        model.zero_grad(set_to_none=True)
        if (step + 1) % (settings["steps"] // 4) == 0:
            print(f"{name} step {step + 1}: {valid_bits_per_char():.4f} bits/char, {time.time() - start:.0f} s", flush=True)
    seconds = time.time() - start
    result = {"name": name, "settings": settings, "preset_fields": preset_fields,
              "bits_per_char_packed": round(valid_bits_per_char(), 4), "train_s": round(seconds),
              "tokens_per_second": round(settings["steps"] * preset.batch_size * preset.block_size / seconds)}
    print(json.dumps(result))
    with open(RESULTS, "a") as handle:
        handle.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
