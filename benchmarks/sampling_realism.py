"""Which sampling settings make the model's free messages read most like real chat.

    .venv/bin/python benchmarks/sampling_realism.py [MODEL_DIR] [SAMPLES] [SEEDS] [GROUPS]

Defaults: the sodapoppin model benchmarks/train_quality.py trained, 1,000 messages, seeds 0,1,
groups raw,engine. For each seed, the same places in the validation streams (8-20 real messages
before each) for the word Markov chain and for the model under each setting; generation metrics
as `trainer evaluate` computes them (realism AUC: a character n-gram classifier telling real from
generated, 0.5 = indistinguishable). `raw` samples the model alone under each of SETTINGS (as
`evaluate` does); `engine` makes each message the way the bot does (trainer/engine/generate.py:
8 candidates, safety filters, the pick among survivors) under each of ENGINE_SETTINGS, with a
fresh channel per message so the bot's memory of its own posts doesn't link the draws.
Results to benchmarks/results/sampling_realism.jsonl.
"""

import json
import sys
from pathlib import Path

import numpy as np

import trainer.evaluation.evaluate as evaluation
from trainer.evaluation.baselines import MarkovChain
from trainer.corpus.fingerprints import FingerprintSet
from trainer.evaluation.genmetrics import generation_metrics

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "out" / "train_quality" / "data" / "sodapoppin-tcd"
MODEL = ROOT / "out" / "train_quality" / "models" / "sodapoppin-tcd"
RESULTS = ROOT / "results" / "sampling_realism.jsonl"
SETTINGS = [
    {"temperature": 1.0, "top_p": 1.0, "top_k": 0},
    {"temperature": 1.0, "top_p": 0.98, "top_k": 0},
    {"temperature": 1.0, "top_p": 0.95, "top_k": 0},
    {"temperature": 1.0, "top_p": 0.9, "top_k": 0},
    {"temperature": 1.0, "top_p": 0.8, "top_k": 0},
    {"temperature": 1.0, "top_p": 1.0, "top_k": 0, "min_p": 0.05},
    {"temperature": 0.9, "top_p": 0.95, "top_k": 50},  # the engine's earlier default
]
ENGINE_SETTINGS = [
    {},  # the engine's defaults
    {"choice_temperature": 1.0},  # the pick weighted by score (the default until 2026-11-28)
]


def engine_generate(model_dir: Path, places, seed: int, setting: dict) -> list:
    from trainer.engine.generate import Generator

    gen = Generator.load(model_dir, seed=seed, threads=2, **setting)
    return [gen.message(context, channel=str(i)) for i, (context, _) in enumerate(places)]


def main() -> None:
    model_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else MODEL
    samples = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    seeds = [int(s) for s in (sys.argv[3] if len(sys.argv) > 3 else "0,1").split(",")]
    groups = (sys.argv[4] if len(sys.argv) > 4 else "raw,engine").split(",")
    corpus = evaluation.read_corpus(DATA)
    loaded = evaluation.load_model(model_dir)
    training = FingerprintSet.from_texts(corpus.train_texts)
    aucs: dict[str, list[float]] = {}
    for seed in seeds:
        places = evaluation.sample_contexts(corpus.valid_streams, samples, seed=seed)
        contexts, real = [c for c, _ in places], [m for _, m in places]
        common = {"real": real, "real_all": corpus.valid_texts, "emotes": corpus.emotes, "training": training}
        chain = MarkovChain(seed=seed).fit(corpus.train_texts)
        runs = [("markov", generation_metrics([chain.generate(c) for c in contexts], **common))]
        for setting in SETTINGS if "raw" in groups else ():
            outputs = evaluation.model_generate(loaded, contexts, seed=seed, sampling=setting)
            runs.append((json.dumps(setting), generation_metrics(outputs, **common)))
        for setting in ENGINE_SETTINGS if "engine" in groups else ():
            outputs = engine_generate(model_dir, places, seed, setting)
            runs.append(("engine " + json.dumps(setting), generation_metrics(outputs, **common)))
        for name, metrics in runs:
            aucs.setdefault(name, []).append(metrics["realism_auc"])
            row = {"seed": seed, "samples": samples, "sampling": name,
                   **{k: round(metrics[k], 4) for k in ("realism_auc", "one_word_rate", "mean_words",
                                                         "copy_rate_3plus", "copy_rate_all", "distinct_2")}}
            print(json.dumps(row), flush=True)
            with open(RESULTS, "a") as handle:
                handle.write(json.dumps(row) + "\n")
    for name, values in aucs.items():
        print(f"mean realism AUC {np.mean(values):.4f}  {name}")


if __name__ == "__main__":
    main()
