"""Training benchmark: held-out bits/char after a fixed CPU budget, training speed
against the seed project's recipe, and the fraction of the machine's matrix-product peak.

    .venv/bin/python benchmarks/train_quality.py            # the full run (~45 minutes)
    .venv/bin/python benchmarks/train_quality.py --quick    # a smoke run of the same steps

1. The machine's peak: square fp32 and bf16 matrix products, measured in this run.
2. sodapoppin-tcd (the seed's data), VOD 752430475 held out: `prepare`, then `train` with the
   default preset for the main budget (15 minutes), then `evaluate` (model vs character
   5-gram on the same split, generation metrics vs the Markov chain).
3. On the same model and machine: real-text tokens/s with our packed blocks against the seed's
   recipe (each message its own sequence, padded to 180 tokens), and achieved FLOP/s.
4. The same table for the other sets in ../shared/data, with a shorter budget each.
5. Fine-tuning: the fl0m model of step 4 saved as a plain GPT-2 folder serves as the
   `--base-model`, fine-tuned on sodapoppin for the short budget.
Writes benchmarks/results/train_quality.json and .md; scratch data under benchmarks/out/.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "data"
OUT = REPO / "benchmarks" / "out" / "train_quality"
RESULTS = REPO / "benchmarks" / "results"
SEED_PAD_LENGTH = 180  # the seed padded every line to 180 tokens
SETS = {  # name: (files, validation files or None for prepare's default: the latest ~10 %)
    "sodapoppin-tcd": ("*.txt", ["752430475.txt"]),
    "fl0m-tsv": ("*.log", None),
    "irc-client-2016": ("*.log", None),
    "rayrabenstein-gql": ("*.json.gz", None),
    "arypie-gql-2021": ("*.json.gz", None),
}
MAIN_SET = "sodapoppin-tcd"
BASE_SET = "fl0m-tsv"

logger = logging.getLogger("train_quality")


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def machine_peak(seconds: float) -> dict:
    import torch

    from trainer.model.precision import matmul_flops

    return {
        "threads": torch.get_num_threads(),
        "fp32_gflops": round(matmul_flops(torch.float32, 2048, seconds) / 1e9, 1),
        "bf16_gflops": round(matmul_flops(torch.bfloat16, 2048, seconds) / 1e9, 1),
        "load_average": load_average(),
    }


def flops_per_token(config, context: int) -> float:
    """Training FLOPs per token (forward + backward = 3 x forward), Kaplan et al.'s count:
    2 per weight of the blocks and of the output layer, plus attention over the context."""
    d, layers = config.n_embd, config.n_layer
    block_weights = layers * 12 * d * d
    forward = 2 * (block_weights + config.vocab_size * d) + 2 * layers * context * d
    return 3 * forward


def time_steps(model, batches, steps: int, bf16: bool = False) -> float:
    """Seconds per optimizer step (median of `steps`, after one warm-up step)."""
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    times = []
    for i in range(steps + 1):
        batch = batches[i % len(batches)]
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if i:
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def throughput(model_dir: Path, data_dir: Path, peak: dict, steps: int, bf16: bool = False) -> dict:
    """Real-text tokens/s: packed blocks (ours) vs one padded line per sequence (the seed's),
    with the same fresh model of the checkpoint's configuration, same tokens per batch."""
    import numpy as np
    import torch
    from transformers import AutoConfig, AutoTokenizer, GPT2LMHeadModel

    from trainer.model.checkpoint import load_card
    from trainer.model.packing import pack_blocks, token_stream
    from trainer.corpus.records import read_records

    card = load_card(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    config = AutoConfig.from_pretrained(model_dir)
    config.n_positions = max(config.n_positions, SEED_PAD_LENGTH)
    block = card["block_size"]
    batch_blocks = card["training"]["preset_settings"]["batch_size"]
    records = []
    for record in read_records(data_dir / "train.jsonl"):
        records.append(record)
        if len(records) >= 20_000:
            break
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config).train()

    blocks = torch.from_numpy(pack_blocks(token_stream(tokenizer, records), block).astype(np.int64))
    packed = [{"input_ids": blocks[i : i + batch_blocks], "labels": blocks[i : i + batch_blocks]}
              for i in range(0, batch_blocks * 4, batch_blocks)]

    # The seed: each message alone (with its end-of-text), padded to 180 tokens; pads masked
    # out of attention and loss but still computed. Same number of token slots per batch.
    eos = tokenizer.eos_token_id
    lines = [ids[: SEED_PAD_LENGTH - 1] + [eos] for ids in tokenizer([r.text for r in records[:4000]],
                                                                       add_special_tokens=False)["input_ids"]]
    per_batch = max(1, batch_blocks * block // SEED_PAD_LENGTH)
    padded, real_per_batch = [], []
    for start in range(0, per_batch * 4, per_batch):
        chunk = lines[start : start + per_batch]
        ids = torch.full((len(chunk), SEED_PAD_LENGTH), eos, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, line in enumerate(chunk):
            ids[row, : len(line)] = torch.tensor(line)
            mask[row, : len(line)] = 1
        padded.append({"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)})
        real_per_batch.append(int(mask.sum()))

    # alternate the two so that other jobs on the machine slow both alike; the peak is measured
    # right before and after, so that the fraction compares figures taken under the same load
    from trainer.model.precision import matmul_flops

    peaks = [matmul_flops(torch.float32, 2048, 1.0)]
    packed_s, seed_s = [], []
    for _ in range(2):
        packed_s.append(time_steps(model, packed, steps))
        seed_s.append(time_steps(model, padded, steps))
    peaks.append(matmul_flops(torch.float32, 2048, 1.0))
    peak = {**peak, "fp32_gflops": round(max(peaks) / 1e9, 1)}
    packed_tps = batch_blocks * block / min(packed_s)
    seed_tps = float(np.mean(real_per_batch)) / min(seed_s)
    flops = flops_per_token(config, block)
    extra = {}
    if bf16:  # the same packed steps under bf16 autocast, to show why auto picked what it did
        extra["packed_bf16_autocast_tokens_per_s"] = round(batch_blocks * block / time_steps(model, packed, steps, bf16=True))
    return {
        **extra,
        "packed_tokens_per_s": round(packed_tps),
        "seed_recipe_tokens_per_s": round(seed_tps),
        "speedup": round(packed_tps / seed_tps, 1),
        "seed_real_token_fraction": round(float(np.mean(real_per_batch)) / (per_batch * SEED_PAD_LENGTH), 3),
        "train_flops_per_token": round(flops),
        "achieved_gflops": round(packed_tps * flops / 1e9, 1),
        "fp32_peak_gflops_alongside": peak["fp32_gflops"],
        "fraction_of_fp32_peak": round(packed_tps * flops / 1e9 / peak["fp32_gflops"], 3),
        "load_average": load_average(),
    }


def prepare_set(name: str) -> Path:
    from trainer.ingest.prepare import prepare

    pattern, valid = SETS[name]
    folder = SHARED / name
    data = OUT / "data" / name
    if (data / "stats.json").exists():
        return data
    files = sorted(folder.glob(pattern))
    prepare(files, data, valid=[folder / v for v in valid] if valid else None, progress=False)
    return data


def evaluate_model(model_dir: Path, data: Path, samples: int, draws: int = 1) -> dict:
    from trainer.evaluation.evaluate import evaluate

    return evaluate(model_dir, data, samples=samples, progress=False, draws=draws)


def summarize(run: dict) -> dict:
    """The figures of one trained + evaluated model that go into the table."""
    ev, card = run["evaluation"], run["card"]
    bpc = ev["bits_per_char"]
    model_bpc, ngram_bpc = bpc["model"], bpc["char_5gram"]
    return {
        "budget_s": run["budget_s"],
        "preset": card["preset"],
        "parameters": card["parameters"],
        "vocab_size": card["vocab_size"],
        "block_size": card["block_size"],
        "train_tokens": card["data"]["train_tokens"],
        "tokens_seen": card["training"]["tokens_seen"],
        "epochs": card["training"]["epochs"],
        "train_seconds": card["training"]["train_seconds"],
        "train_tokens_per_s": card["training"]["tokens_per_second"],
        "precision": card["training"]["precision"],
        "bpc_model": round(model_bpc, 4),
        "bpc_char_5gram": round(ngram_bpc, 4),
        "bpc_vs_5gram": round(model_bpc / ngram_bpc - 1, 4),
        "bpc_model_novel": bpc.get("model_novel"),
        "bpc_char_5gram_novel": bpc.get("char_5gram_novel"),
        "generation": {name: ev["generation"].get(name) for name in ("model", "markov")} if ev.get("generation") else None,
    }


def train_and_evaluate(name: str, data: Path, budget: float, samples: int, draws: int = 1, **train_kwargs) -> dict:
    from trainer.model.checkpoint import load_card
    from trainer.model.train import train

    model_dir = OUT / "models" / name
    load_before = load_average()
    started = time.time()
    train(data, model_dir, max_time=budget, progress=False, **train_kwargs)
    trained_s = time.time() - started
    evaluation = evaluate_model(model_dir, data, samples, draws)
    card = load_card(model_dir)
    logger.info("%s: %s", name, json.dumps(evaluation.get("bits_per_char")))
    return {"name": name, "model_dir": str(model_dir), "budget_s": budget, "wall_s": round(trained_s, 1),
            "load_average_before": load_before, "load_average_after": load_average(),
            "card": card, "evaluation": evaluation}


def save_base_gpt2(model_dir: Path, out: Path) -> Path:
    """A streamchat checkpoint re-saved as a plain GPT-2 folder (model + tokenizer, no card):
    what a user downloads as a base model."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if out.exists():
        shutil.rmtree(out)
    AutoModelForCausalLM.from_pretrained(model_dir).save_pretrained(out)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(out)
    return out


def generation_table(gen: dict) -> list[str]:
    """Model vs Markov chain vs the real messages at the same places, as markdown lines."""
    model, markov = gen.get("model") or {}, gen["markov"]
    rows = [("empty messages", "empty_rate", None, "{:.1%}"),
            ("words per message (mean)", "mean_words", "real_mean_words", "{:.2f}"),
            ("one-word messages", "one_word_rate", "real_one_word_rate", "{:.1%}"),
            ("verbatim training copies among 3+-word outputs", "copy_rate_3plus", None, "{:.1%}"),
            ("distinct-1 / distinct-2", None, None, None),
            ("emote rate", "emote_rate", "real_emote_rate", "{:.1%}"),
            # real: other real messages of the same streams against these (the floor)
            ("realism AUC (0.5: indistinguishable from real)", "realism_auc", "real_realism_auc", "{:.3f}")]
    sampling = gen.get("sampling", {})
    draws = gen.get("draws", 1)
    lines = ["", f"Free generation on {MAIN_SET}: {gen['samples']} messages"
             + (f" in each of {draws} draws (the mean below)" if draws > 1 else "")
             + f", each after {gen['context_messages'][0]}-"
             f"{gen['context_messages'][1]} real validation messages; the model "
             + ("through the bot's engine (its lexicon and filters)" if sampling.get("engine") else "sampled raw (no filter)")
             + f" at temperature {sampling.get('temperature')}, top-p {sampling.get('top_p')}.", "",
             "| | model | Markov chain (order 2) | real |", "|---|---|---|---|"]
    for label, key, real_key, form in rows:
        if key is None:
            cells = [f"{m.get('distinct_1', 0):.2f} / {m.get('distinct_2', 0):.2f}" for m in (model, markov)]
            real = f"{markov['real_distinct_1']:.2f} / {markov['real_distinct_2']:.2f}"
        else:
            cells = [form.format(m[key]) if key in m else "–" for m in (model, markov)]
            real = form.format(markov[real_key]) if markov.get(real_key) is not None else "–"
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {real} |")
    if draws > 1:
        model_draws, markov_draws = (" / ".join(f"{v:.3f}" for v in m.get("realism_auc_draws", [])) for m in (model, markov))
        lines += ["", f"Realism AUC of each draw: model {model_draws}; Markov chain {markov_draws}."]
    return lines


def write_markdown(result: dict, path: Path) -> None:
    peak = result["peak"]
    lines = [
        "# Training benchmark (issue 3)",
        "",
        f"Machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, torch threads "
        f"{peak['threads']}; measured peak fp32 {peak['fp32_gflops']} GFLOP/s, bf16 {peak['bf16_gflops']} GFLOP/s "
        f"(2048² matrix products, this run). {result['contention']}",
        "",
        "Bits per character on each set's held-out streams (`python -m trainer evaluate`, the preceding "
        "validation messages as context), the character 5-gram fitted on the same training split; "
        "tokens/s are real-text tokens per second of training; FLOP/s fraction against the measured fp32 peak.",
        "",
        "| set | budget | model | bpc model | bpc 5-gram | vs 5-gram | train tok/s | packed tok/s | seed recipe tok/s | speed-up | FLOP/s of fp32 peak |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in sorted(result["sets"], key=lambda n: list(SETS).index(n) if n in SETS else len(SETS)):
        row = result["sets"][name]
        s, t = row["summary"], row.get("throughput", {})
        lines.append(
            f"| {name} | {s['budget_s'] / 60:g} min | {s['preset']} {s['parameters'] / 1e6:.1f}M, V{s['vocab_size']}, "
            f"ctx {s['block_size']} | {s['bpc_model']:.3f} | {s['bpc_char_5gram']:.3f} | {s['bpc_vs_5gram']:+.1%} | "
            f"{s['train_tokens_per_s'] or 0:,.0f} | {t.get('packed_tokens_per_s', 0):,} | {t.get('seed_recipe_tokens_per_s', 0):,} | "
            f"{t.get('speedup', 0)}x | {t.get('fraction_of_fp32_peak', 0):.0%} |"
        )
    main_row = result["sets"].get(MAIN_SET, {}).get("throughput", {})
    if "packed_bf16_autocast_tokens_per_s" in main_row:
        lines += ["", f"fp32 vs bf16 autocast, same model and packed batches on {MAIN_SET}: "
                  f"{main_row['packed_tokens_per_s']:,} vs {main_row['packed_bf16_autocast_tokens_per_s']:,} tokens/s."]
    ft = result.get("fine_tune")
    if ft:
        s = ft["summary"]
        lines += ["", f"Fine-tuning (`--base-model`, a {ft['base_parameters'] / 1e6:.1f}M GPT-2 folder built here from "
                  f"the {BASE_SET} run), {s['budget_s'] / 60:g} min on {MAIN_SET}: bpc {s['bpc_model']:.3f} "
                  f"(5-gram {s['bpc_char_5gram']:.3f}, {s['bpc_vs_5gram']:+.1%})."]
    main = result["sets"].get(MAIN_SET)
    if main and main["evaluation"].get("generation"):
        lines += generation_table(main["evaluation"]["generation"])
    lines += ["", f"Precision: {result['precision_note']}", "", f"Total benchmark time {result['total_minutes']:.0f} min."]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--main-minutes", type=float, default=15.0)
    parser.add_argument("--other-minutes", type=float, default=3.0)
    parser.add_argument("--samples", type=int, default=200, help="generated messages for the main set's evaluation")
    parser.add_argument("--other-samples", type=int, default=60, help="generated messages for the other evaluations")
    parser.add_argument("--draws", type=int, default=5,
                        help="the main set's generation metrics: mean of this many draws (one moves the realism AUC ~0.03)")
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    parser.add_argument("--quick", action="store_true", help="smoke run: seconds per budget, results not written")
    parser.add_argument("--preset", default="auto")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other sets' figures of the previous run's JSON (rerun only --sets)")
    parser.add_argument("--reevaluate", action="store_true",
                        help="run `evaluate` again on the models a previous run trained (--sets), into its JSON")
    parser.add_argument("--speed-only", action="store_true",
                        help="re-measure only the speed figures of the models a previous run trained, into its JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if not SHARED.is_dir():
        print(f"skipped: the real chat logs are not at {SHARED}")
        return 0
    if args.speed_only:
        return speed_only(args.sets)
    if args.reevaluate:
        return reevaluate(args.sets, args.samples, args.other_samples, args.draws)
    if args.quick:
        args.main_minutes, args.other_minutes, args.samples, args.other_samples, args.draws = 0.3, 0.2, 20, 10, 2
    started = time.time()
    import torch

    result = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version(), "torch": torch.__version__},
        "settings": vars(args),
        "peak": machine_peak(1.0 if args.quick else 3.0),
        "sets": {},
    }
    try:
        cpu = [l for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")]
        result["machine"]["cpu"] = cpu[0].split(":", 1)[1].strip()
    except (OSError, IndexError):
        pass
    logger.info("peak: %s", result["peak"])
    if args.merge and (RESULTS / "train_quality.json").exists():
        previous = json.loads((RESULTS / "train_quality.json").read_text(encoding="utf-8"))
        result["sets"] = {k: v for k, v in previous["sets"].items() if k not in args.sets}
        if "fine_tune" in previous:
            result["fine_tune"] = previous["fine_tune"]
        result["merged_from_previous_run"] = sorted(result["sets"])
    base_dir = None
    for name in args.sets:
        main_set = name == MAIN_SET
        budget = 60 * (args.main_minutes if main_set else args.other_minutes)
        try:
            data = prepare_set(name)
            run = train_and_evaluate(name, data, budget, args.samples if main_set else args.other_samples,
                                     args.draws if main_set else 1, preset=args.preset)
            run["throughput"] = throughput(Path(run["model_dir"]), data, result["peak"],
                                           2 if args.quick else (5 if main_set else 3), bf16=main_set)
            run["summary"] = summarize(run)
        except Exception as error:  # one broken set must not lose the others' figures
            logger.exception("%s failed", name)
            result.setdefault("failed", {})[name] = repr(error)
            continue
        logger.info("%s: %s %s", name, run["summary"], run["throughput"])
        result["sets"][name] = {k: v for k, v in run.items() if k != "model_dir"}
        if name == BASE_SET:
            base_dir = save_base_gpt2(Path(run["model_dir"]), OUT / "base-gpt2")
        if not args.quick:
            finish(result, started, partial=True)
    if base_dir is not None:
        from transformers import AutoModelForCausalLM

        base_params = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(base_dir).parameters())
        run = train_and_evaluate("fine-tune", prepare_set(MAIN_SET), 60 * args.other_minutes, args.other_samples,
                                 base_model=str(base_dir))
        run["summary"] = summarize(run)
        run["base_parameters"] = base_params
        result["fine_tune"] = {k: v for k, v in run.items() if k != "model_dir"}
    if args.quick:
        print(json.dumps({k: v for k, v in result.items() if k != "sets"}, indent=2, default=str)[:3000])
        for name, row in result["sets"].items():
            print(name, row["summary"], row["throughput"])
        return 0
    finish(result, started, partial=False)
    print((RESULTS / "train_quality.md").read_text())
    return 0


def speed_only(sets: list[str]) -> int:
    """Throughput and FLOP/s fraction again, for the models of the last full run (when the first
    measurement was disturbed by other jobs), written into the same result files."""
    path = RESULTS / "train_quality.json"
    result = json.loads(path.read_text(encoding="utf-8"))
    result["peak"] = machine_peak(3.0)
    for name in sets:
        if name not in result["sets"]:
            continue
        model_dir = OUT / "models" / name
        result["sets"][name]["throughput"] = throughput(model_dir, OUT / "data" / name, result["peak"],
                                                        5, bf16=name == MAIN_SET)
        result["sets"][name]["throughput"]["remeasured"] = True
        logger.info("%s: %s", name, result["sets"][name]["throughput"])
    path.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    write_markdown(result, RESULTS / "train_quality.md")
    print((RESULTS / "train_quality.md").read_text())
    return 0


def reevaluate(sets: list[str], samples: int, other_samples: int, draws: int) -> int:
    """`evaluate` again (after a change to evaluation, or with more samples) on the models of
    the last run, written into the same result files; the training figures stay."""
    path = RESULTS / "train_quality.json"
    result = json.loads(path.read_text(encoding="utf-8"))
    for name in sets:
        if name not in result["sets"]:
            continue
        run = result["sets"][name]
        main_set = name == MAIN_SET
        run["evaluation"] = evaluate_model(OUT / "models" / name, OUT / "data" / name,
                                           samples if main_set else other_samples, draws if main_set else 1)
        run["summary"] = summarize(run)
        run["reevaluated"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        logger.info("%s: %s", name, run["summary"])
    path.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    write_markdown(result, RESULTS / "train_quality.md")
    print((RESULTS / "train_quality.md").read_text())
    return 0


def finish(result: dict, started: float, *, partial: bool) -> None:
    """Write the JSON and the markdown (also after each set, so a cut-short run keeps its figures)."""
    import copy

    result = copy.deepcopy(result)
    result["partial"] = partial

    runs = list(result["sets"].values()) + ([result["fine_tune"]] if "fine_tune" in result else [])
    loads = [r["load_average_before"] for r in runs] + [r["load_average_after"] for r in runs] or [0.0]
    result["contention"] = (
        f"Load average (1 min) during the runs: {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores"
        + ("; other jobs shared the cores, so every speed figure is lower than on an idle machine." if max(loads) > 2.5 else ".")
    )
    peak = result["peak"]
    result["precision_note"] = (
        f"bf16 matrix products measured {peak['bf16_gflops']} vs fp32 {peak['fp32_gflops']} GFLOP/s; training "
        "uses bf16 autocast only where it is measured 20 % faster (`--precision auto`), so fp32 here."
        if peak["bf16_gflops"] < 1.2 * peak["fp32_gflops"] else
        f"bf16 matrix products measured {peak['bf16_gflops']} vs fp32 {peak['fp32_gflops']} GFLOP/s: training uses bf16 autocast."
    )
    result["total_minutes"] = round((time.time() - started) / 60, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    for row in runs:
        row["card"] = {k: row["card"][k] for k in ("preset", "parameters", "vocab_size", "block_size", "training", "metrics", "data")}
        row["card"]["data"] = {k: v for k, v in row["card"]["data"].items() if k != "sources"}
    (RESULTS / "train_quality.json").write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    write_markdown(result, RESULTS / "train_quality.md")


if __name__ == "__main__":
    sys.exit(main())
