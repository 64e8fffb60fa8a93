"""Which model shape and vocabulary make the best model in the 2-core CPU's 15 minutes, measured on a GPU.

A 15-minute CPU run per configuration would take hours; on a GPU each one takes a minute or two.
Each configuration trains with `trainer.model.train` (the real Trainer, Muon, schedule, evaluations) for
the number of optimizer steps the CPU would run in the same 15 minutes, in fp32 like the CPU, then
is evaluated as `trainer evaluate` does: exact bits per char on the validation streams and
realism AUC of 1,000 free messages, over five draws (one draw varies by +-0.03).

    .venv/bin/python benchmarks/budget_sweep.py measure   # on the CPU: each config's step time
    python3 benchmarks/budget_sweep.py run [OUT]          # on a GPU: train + evaluate all configs
    .venv/bin/python benchmarks/budget_sweep.py one 4x160 900s OUT   # one config, 15 real CPU minutes

`measure` times a bare training step (forward, backward, optimizer; two threads, the preset's
batch) of every configuration and writes benchmarks/results/budget_sweep_cpu.json; `run` gives
each configuration CPU_STEPS x (REFERENCE's step time / its step time) steps, where CPU_STEPS is
what REFERENCE (4 x 128, the `small` preset until 2026-11-28) ran in train_quality's 900 s run.
Results: budget_sweep.jsonl (in OUT, default benchmarks/out/budget_sweep) and a table at the end.
"""

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
DATA = ROOT / "out" / "train_quality" / "data" / "sodapoppin-tcd"
CPU_FILE = ROOT / "results" / "budget_sweep_cpu.json"
CPU_STEPS = 6166  # steps of REFERENCE in 900 s on the CPU (the train_quality run of 2026-11-28 12:35)
REFERENCE = "4x128"
EMOTE_AND_SPECIAL_TOKENS = 814  # the sodapoppin tokenizer: 2,048 BPE -> 2,862 (for `measure` only)
DEFAULT_BPE = 2048
DRAWS = 5  # realism over seeds 0-4
SAMPLES = 1000

# name -> preset overrides (on `small`) and `vocab_size` (BPE merges before emotes). Shapes are
# spelled out so a name means the same model whatever the preset becomes.
CONFIGS = {
    "4x128": {"n_layer": 4, "n_embd": 128, "n_head": 4},
    "4x128-bpe3.5k": {"n_layer": 4, "n_embd": 128, "n_head": 4, "vocab_size": 3584},
    "4x128-bpe5.5k": {"n_layer": 4, "n_embd": 128, "n_head": 4, "vocab_size": 5632},
    "4x160": {"n_layer": 4, "n_embd": 160, "n_head": 5},
    "4x192": {"n_layer": 4, "n_embd": 192, "n_head": 6},
    "3x192": {"n_layer": 3, "n_embd": 192, "n_head": 6},
    "4x160-bpe3.5k": {"n_layer": 4, "n_embd": 160, "n_head": 5, "vocab_size": 3584},
}


def split(config: dict) -> tuple[dict, int | None]:
    """(preset overrides, BPE vocabulary size or None)."""
    return {k: v for k, v in config.items() if k != "vocab_size"}, config.get("vocab_size")


# ---------------------------------------------------------------- measure (CPU)
def measure() -> None:
    import torch

    from trainer.model.presets import PRESETS, build_model
    from trainer.model.optim import MuonAdamW, gpt2_param_groups

    torch.set_num_threads(2)
    times = {}
    for name, config in CONFIGS.items():
        overrides, vocab_size = split(config)
        preset = replace(PRESETS["small"], **overrides)
        vocab = (vocab_size or DEFAULT_BPE) + EMOTE_AND_SPECIAL_TOKENS
        torch.manual_seed(0)
        model = build_model(preset, vocab, 0)
        optimizer = MuonAdamW(gpt2_param_groups(model, lr=preset.learning_rate, muon_lr=preset.muon_lr,
                                                weight_decay=0.1))
        x = torch.randint(0, vocab, (preset.batch_size, preset.block_size))

        def step():
            model(input_ids=x, labels=x).loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            model.zero_grad(set_to_none=True)

        for _ in range(3):
            step()
        best = float("inf")
        for _ in range(3):  # the best of three timings of 8 steps: the least disturbed
            start = time.perf_counter()
            for _ in range(8):
                step()
            best = min(best, (time.perf_counter() - start) / 8)
        times[name] = round(best * 1000, 2)
        print(f"{name}: {times[name]} ms/step, {sum(p.numel() for p in model.parameters()):,} parameters", flush=True)
    CPU_FILE.write_text(json.dumps({"ms_per_step": times, "threads": 2,
                                    "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, indent=1))


# ---------------------------------------------------------------- one configuration (GPU)
def one(name: str, budget: str, out: Path) -> None:
    """Train configuration `name` for `budget` ("6166": steps; "900s": seconds) and evaluate it;
    budget "eval": evaluate the checkpoint already in OUT/models/NAME."""
    import numpy as np

    import trainer.evaluation.evaluate as evaluation
    from trainer.corpus.fingerprints import FingerprintSet
    from trainer.model.train import train

    overrides, vocab_size = split(CONFIGS.get(name, {}))
    model_dir = out / "models" / name
    start = time.time()
    if budget != "eval":
        seconds = budget.endswith("s")
        train(DATA, model_dir, preset="small", precision="fp32", progress=False,
              max_steps=None if seconds else int(budget), max_time=float(budget[:-1]) if seconds else None,
              overrides=overrides or None, vocab_size=vocab_size)
    train_s = time.time() - start
    corpus = evaluation.read_corpus(DATA)
    loaded = evaluation.load_model(model_dir)
    training = FingerprintSet.from_texts(corpus.train_texts)
    novel = np.array([t not in training for t in corpus.valid_texts])
    bits = evaluation.model_message_bits(loaded, corpus.valid_streams)
    result = {"name": name, "config": CONFIGS.get(name, {}), "budget": budget, "train_s": round(train_s),
              "parameters": sum(p.numel() for p in loaded.model.parameters()),
              "vocab": len(loaded.tokenizer), "card_training": {
                  k: loaded.card["training"].get(k) for k in ("steps", "tokens_seen", "tokens_per_second",
                                                               "precision", "device", "epochs")},
              **evaluation._bpc_summary(bits, corpus.valid_streams, novel)}
    # 250 messages a batch (evaluate's 50 leaves a GPU idle): another random stream, the same measure.
    result["generation"], result["examples"], _ = evaluation.generation_figures(
        corpus, samples=SAMPLES, draws=DRAWS, loaded=loaded, training_set=training)
    with open(out / "budget_sweep.jsonl", "a") as handle:
        handle.write(json.dumps(result) + "\n")
    print(json.dumps({"name": name, "budget": budget, "train_s": result["train_s"], "bits_per_char": result["bits_per_char"],
                      "realism_auc": result["generation"]["model"]["realism_auc"]}), flush=True)


# ---------------------------------------------------------------- all of them (GPU)
def run(out: Path, parallel: int = 8, deadline_s: float = 310) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cpu = json.loads(CPU_FILE.read_text())["ms_per_step"]
    jobs = []
    for name in CONFIGS:
        jobs.append((name, str(round(CPU_STEPS * cpu[REFERENCE] / cpu[name]))))
    if (out / "models" / "gpu-auto" / "config.json").exists():
        jobs.append(("gpu-auto", "eval"))  # what `trainer train --preset auto` made on this GPU
    env = {**os.environ, "OMP_NUM_THREADS": "2", "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}

    def launch(job):
        name, steps = job
        command = [sys.executable, __file__, "one", name, str(steps), str(out)]
        with open(out / f"{name}.log", "w") as log:
            try:
                subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=deadline_s, check=False)
            except subprocess.TimeoutExpired:
                print(f"{name}: stopped at the {deadline_s:.0f} s deadline", flush=True)
        print(f"{name} done", flush=True)

    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(launch, jobs))
    rows = [json.loads(line) for line in (out / "budget_sweep.jsonl").read_text().splitlines()]
    for row in rows:
        model, markov = row["generation"]["model"], row["generation"]["markov"]
        print(f"{row['name']:14} budget {row['budget']:>6}  bits/char {row['bits_per_char']:.4f}  realism "
              f"{model['realism_auc']:.4f} (Markov chain {markov['realism_auc']:.4f})  "
              + " / ".join(f"{v:.3f}" for v in model["realism_auc_draws"]))


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "run"
    if command == "measure":
        measure()
    elif command == "one":
        one(sys.argv[2], sys.argv[3], Path(sys.argv[4]))
    else:
        run(Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "out" / "budget_sweep")
