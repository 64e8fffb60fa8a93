"""What viewers read: invented words, realism against the Markov chain and bits per char, on
several channels, and what a longer CPU budget buys on one.

    .venv/bin/python benchmarks/chat_quality.py sets      # the small preset on each set (~2 h alone)
    .venv/bin/python benchmarks/chat_quality.py budget    # sodapoppin at 5, 15 and 60 CPU-minutes
    ... --model NAME=DIR --data NAME=DIR                  # evaluate models already trained
    ... sets --set fl0m-tsv                               # one set only

Budgets are optimizer steps, not seconds, so a busy machine measures the same model as a quiet
one: on the 2-core Intel Xeon the `small` preset makes ~300 steps a minute on quiet cores
(4,486 steps in 15 minutes, benchmarks/results/budget_sweep.md), so 1,500 / 4,500 / 18,000
steps stand for 5 / 15 / 60 CPU-minutes. Each model is evaluated as `trainer evaluate` does it:
through the bot's engine (its settings, lexicon and filters), mean of five draws of 1,000
messages after real context, against the Markov chain and real held-out chat.

Writes benchmarks/results/chat_quality.json and .md (one section per mode, merged).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
OUT = REPO / "benchmarks" / "out" / "chat_quality"
RESULTS = REPO / "benchmarks" / "results"
STEPS_PER_CPU_MINUTE = 300  # the small preset on the quiet 2-core Xeon
SETS = ("sodapoppin-tcd", "fl0m-tsv", "rayrabenstein-gql", "irc-client-2016")
BUDGET_MINUTES = (5, 15, 60)


def evaluated(name: str, model_dir: Path, data: Path, samples: int, draws: int) -> dict:
    from trainer.evaluation.evaluate import evaluate
    from trainer.model.checkpoint import load_card

    started = time.time()
    result = evaluate(model_dir, data, samples=samples, draws=draws, progress=False)
    card = load_card(model_dir)
    gen, bpc = result["generation"], result["bits_per_char"]
    row = {
        "name": name, "model": str(model_dir), "steps": card["training"]["steps"],
        "train_seconds": card["training"]["train_seconds"], "train_messages": card["data"].get("train_messages"),
        "bpc_model": bpc["model"], "bpc_5gram": bpc["char_5gram"], "bpc_ratio": bpc["model"] / bpc["char_5gram"],
        "invented": {"model": gen["model"]["invented_rate"], "markov": gen["markov"]["invented_rate"],
                     "real": gen["model"]["real_invented_rate"]},
        "realism": {"model": gen["model"]["realism_auc"], "markov": gen["markov"]["realism_auc"],
                    "model_draws": gen["model"]["realism_auc_draws"], "markov_draws": gen["markov"]["realism_auc_draws"],
                    "real": gen["markov"]["real_realism_auc"], "real_draws": gen["markov"]["real_realism_auc_draws"]},
        "words": {"model": gen["model"]["mean_words"], "markov": gen["markov"]["mean_words"],
                  "real": gen["model"]["real_mean_words"]},
        "silent_rate": gen["model"]["silent_rate"],
        "examples": result["examples"][:6],
        "evaluate_seconds": round(time.time() - started, 1),
    }
    print(json.dumps({k: v for k, v in row.items() if k != "examples"}), flush=True)
    return row


def train_steps(data: Path, out: Path, steps: int) -> Path:
    from trainer.model.train import train

    if not (out / "streamchat.json").exists():
        train(data, out, preset="small", max_steps=steps, progress=False)
    return out


def prepared(name: str) -> Path:
    from train_quality import prepare_set

    return prepare_set(name)


def spread(values: list[float]) -> str:
    return f"{min(values):.3f}-{max(values):.3f}"


def floor(realism: dict) -> str:
    """Other real chat of the same streams against the real messages: the best a generator can
    score (rows measured before it was added have none)."""
    return f"{realism['real']:.3f} ({spread(realism['real_draws'])})" if realism.get("real") is not None else "–"


def markdown(results: dict) -> str:
    lines = ["# Chat quality: what viewers read (`benchmarks/chat_quality.py`)", "",
             f"{results.get('when', '')}, {results.get('machine', '')}. Realism: cross-validated AUC of a "
             "character n-gram classifier telling generated from real held-out messages (0.5 = "
             "indistinguishable), mean of the draws with their range; other real chat: real messages from "
             "elsewhere in the same held-out streams, told from the real ones the same way (the floor). Invented: share of messages "
             "holding a word of 3+ letters the training split never held.", ""]
    for mode, title in (("sets", "The small preset on each set"), ("budget", "sodapoppin against CPU budget")):
        rows = results.get(mode)
        if not rows:
            continue
        lines += [f"## {title}", "",
                  "| | steps | bits/char (x 5-gram) | invented: model / chain / real | realism: model (range) | "
                  "realism: chain (range) | realism: other real chat | words: model / real | silent |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            inv, real = r["invented"], r["realism"]
            lines.append(
                f"| {r['name']} | {r['steps']:,} | {r['bpc_model']:.3f} ({r['bpc_ratio']:.2f}x) | "
                f"{inv['model']:.1%} / {inv['markov']:.1%} / {inv['real']:.1%} | "
                f"{real['model']:.3f} ({spread(real['model_draws'])}) | {real['markov']:.3f} ({spread(real['markov_draws'])}) | "
                f"{floor(real)} | "
                f"{r['words']['model']:.2f} / {r['words']['real']:.2f} | {r['silent_rate']:.1%} |")
        lines.append("")
        for r in rows:
            lines.append(f"Samples, {r['name']}:")
            for example in r["examples"]:
                lines.append(f"- real: {example['real']!r} · model: {example.get('model')!r} · chain: {example.get('markov')!r}")
            lines.append("")
    return "\n".join(lines) + "\n"


def _merged(before: list[dict], rows: list[dict]) -> list[dict]:
    """`before` with `rows` in place of the rows of the same name, new names appended."""
    fresh = {r["name"]: r for r in rows}
    kept = [fresh.pop(r["name"], r) for r in before]
    return kept + list(fresh.values())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["sets", "budget"])
    parser.add_argument("--model", action="append", default=[], metavar="NAME=DIR", help="an already trained model")
    parser.add_argument("--data", action="append", default=[], metavar="NAME=DIR", help="its prepared corpus")
    parser.add_argument("--set", action="append", default=[], metavar="NAME",
                        help="sets mode: this set only (trained here unless --model gives it); repeatable")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=5)
    args = parser.parse_args(argv)
    models = dict(item.split("=", 1) for item in args.model)
    datas = dict(item.split("=", 1) for item in args.data)

    if args.mode == "sets":
        jobs = [(name, 15) for name in (list(dict.fromkeys(list(models) + args.set)) or SETS)]
    else:
        jobs = [(f"{minutes} CPU-min", minutes) for minutes in BUDGET_MINUTES
                if not models or f"{minutes} CPU-min" in models]
    rows = []
    for name, minutes in jobs:
        data = Path(datas[name]) if name in datas else prepared(name if args.mode == "sets" else SETS[0])
        model = Path(models[name]) if name in models else train_steps(
            data, OUT / "models" / name.replace(" ", "-"), minutes * STEPS_PER_CPU_MINUTE)
        rows.append(evaluated(name, model, data, args.samples, args.draws))

    import torch

    path = RESULTS / "chat_quality.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    rows = _merged(results.get(args.mode, []), rows)  # rows of other models measured before stay
    if args.mode == "budget":
        rows.sort(key=lambda r: r["steps"])
    results.update({"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
                               f"load average {os.getloadavg()[0]:.1f} at the end",
                    args.mode: rows})
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")
    (RESULTS / "chat_quality.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
