"""The baselines a trained model has to beat, on every chat set in ../shared/data.

    .venv/bin/python benchmarks/eval_baselines.py [--samples 1000] [--seeds 3]

For each set: `prepare` (sodapoppin with VOD 752430475 as validation, the split the training benchmarks use; the
others with prepare's default split, the most recent streams), then `evaluate_baselines`:
the character 5-gram's held-out bits per char (all validation messages, and those never seen
in training) with its fit + scoring time, and the word Markov chain's generation metrics,
mean ± standard deviation over `--seeds` seeds at `--samples` and at 200 samples (evaluate's
default), so the noise of each figure is known. The realism AUC of real chat against other
real chat (two disjoint samples) is the floor of that metric at each sample size.

Writes benchmarks/results/eval_baselines.json and .md (figures only: no chat text, which
stays out of the repository).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results"
OUT = REPO / "benchmarks" / "out" / "eval_baselines"

SETS = {
    "sodapoppin-tcd": "752430475",  # the training benchmarks' split: this VOD is the validation set
    "fl0m-tsv": None,
    "irc-client-2016": None,
    "rayrabenstein-gql": None,
    "arypie-gql-2021": None,
}
FIGURES = ["copy_rate_3plus", "copy_rate_all", "one_word_rate", "words_histogram_distance", "emote_rate",
           "distinct_1", "distinct_2", "realism_auc"]


def prepared(name: str, valid_stem: str | None) -> Path:
    from trainer.ingest.prepare import prepare

    source = SHARED / name
    out = OUT / name
    files = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))
    valid = [p for p in files if valid_stem and p.name.startswith(valid_stem)]
    inputs = [p for p in files if p not in valid]
    prepare(inputs, out, valid=valid or None, progress=False)
    return out


def mean_sd(values: list[float]) -> dict:
    values = [v for v in values if v is not None]
    if not values:
        return {"mean": None, "sd": None}
    return {"mean": statistics.fmean(values), "sd": statistics.pstdev(values) if len(values) > 1 else 0.0}


def real_vs_real_auc(valid_texts: list[str], samples: int, seed: int) -> float:
    from trainer.evaluation.genmetrics import realism_auc

    rng = random.Random(seed)
    picked = rng.sample(valid_texts, min(2 * samples, len(valid_texts)))
    half = len(picked) // 2
    return realism_auc(picked[:half], picked[half:], seed=seed)


def markov_runs(corpus, samples: int, seeds: int) -> dict:
    """The Markov chain's generation metrics over `seeds` seeds (evaluate's own procedure)."""
    from trainer.evaluation.baselines import MarkovChain
    from trainer.evaluation.evaluate import sample_contexts
    from trainer.corpus.fingerprints import FingerprintSet
    from trainer.evaluation.genmetrics import generation_metrics

    training = FingerprintSet.from_texts(corpus.train_texts)
    runs = []
    for seed in range(seeds):
        places = sample_contexts(corpus.valid_streams, samples, seed=seed)
        chain = MarkovChain(seed=seed).fit(corpus.train_texts)
        outputs = [chain.generate(context) for context, _ in places]
        runs.append(generation_metrics(outputs, real=[real for _, real in places], real_all=corpus.valid_texts,
                                       training=training, emotes=corpus.emotes))
    figures = {key: mean_sd([run[key] for run in runs]) for key in FIGURES}
    figures["real_vs_real_auc"] = mean_sd([real_vs_real_auc(corpus.valid_texts, samples, s) for s in range(seeds)])
    return figures


def measure(name: str, valid_stem: str | None, samples: int, seeds: int) -> dict:
    from trainer.evaluation.evaluate import evaluate_baselines, read_corpus

    start = time.perf_counter()
    data = prepared(name, valid_stem)
    prepare_s = time.perf_counter() - start
    corpus = read_corpus(data)
    first = evaluate_baselines(data, samples=samples, seed=0)
    return {
        "train_messages": len(corpus.train_texts),
        "train_streams": len(corpus.train_streams),
        "prepare_s": prepare_s,
        "validation": first["validation"],
        "char_5gram_bits_per_char": first["bits_per_char"]["char_5gram"],
        "char_5gram_bits_per_char_novel": first["bits_per_char"]["char_5gram_novel"],
        "char_5gram_fit_and_score_s": first["timing_s"]["char_5gram_s"],
        "markov": {str(n): markov_runs(corpus, n, seeds) for n in sorted({200, samples})},
        "real": {key: first["generation"]["markov"][f"real_{key}"] for key in ("one_word_rate", "mean_words", "emote_rate")},
    }


def markdown(results: dict) -> str:
    samples = results["samples"]
    lines = [
        "# Baselines: character 5-gram (modified Kneser-Ney) and word Markov chain",
        "",
        f"`{results['command']}` on {results['machine']}; {results['contention']}",
        "",
        "Held-out bits per char: −log2 p(message + closing boundary | preceding validation messages),",
        "summed, / sum of (length + 1). Novel = validation messages that never occur in training.",
        "",
        "| set | train msgs | valid msgs | novel | 5-gram bpc | 5-gram bpc novel | fit+score s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in results["sets"].items():
        v = row["validation"]
        lines.append(
            f"| {name} | {row['train_messages']:,} | {v['messages']:,} | {v['novel_share']:.0%} | "
            f"{row['char_5gram_bits_per_char']:.3f} | {row['char_5gram_bits_per_char_novel']:.3f} | "
            f"{row['char_5gram_fit_and_score_s']:.1f} |"
        )
    for n in sorted({200, samples}):
        lines += [
            "",
            f"Word Markov chain (order 2, seeded from a word of the recent chat), {n} messages, "
            f"mean ± sd over {results['seeds']} seeds; real chat in brackets:",
            "",
            "| set | copies 3+ words | copies all | one-word | words hist. TV | emote rate | distinct-1 | "
            "realism AUC | real-vs-real AUC |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, row in results["sets"].items():
            g = row["markov"][str(n)]
            cell = lambda key, f="{:.3f}": (  # noqa: E731
                "n/a" if g[key]["mean"] is None else f"{f.format(g[key]['mean'])} ± {f.format(g[key]['sd'])}"
            )
            real = row["real"]
            lines.append(
                f"| {name} | {cell('copy_rate_3plus')} | {cell('copy_rate_all')} | {cell('one_word_rate')} "
                f"({real['one_word_rate']:.3f}) | {cell('words_histogram_distance')} | {cell('emote_rate')} "
                f"({real['emote_rate']:.3f}) | {cell('distinct_1')} | {cell('realism_auc')} | "
                f"{cell('real_vs_real_auc')} |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"the chat logs are not at {SHARED}; nothing to measure", file=sys.stderr)
        return 1
    load = os.getloadavg()
    results = {
        "command": "python benchmarks/eval_baselines.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "samples": args.samples,
        "seeds": args.seeds,
        "sets": {},
    }
    started = time.perf_counter()
    for name in args.sets:
        print(f"{name} ...", flush=True)
        results["sets"][name] = measure(name, SETS.get(name), args.samples, args.seeds)
        print(json.dumps(results["sets"][name])[:400], flush=True)
    results["total_s"] = time.perf_counter() - started
    end_load = os.getloadavg()
    results["contention"] = (
        f"load average {load[0]:.1f} at the start and {end_load[0]:.1f} at the end "
        "(other jobs shared the cores; timings are upper bounds)"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "eval_baselines.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (RESULTS / "eval_baselines.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
