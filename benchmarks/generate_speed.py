"""How fast the generation engine answers `!chat`, side by side with transformers' pipeline.

    .venv/bin/python benchmarks/generate_speed.py [--model MODEL_DIR] [--calls 200]

Without --model it prepares data/sample and trains the tiny preset (seconds) into
benchmarks/out/. Then, in one process and interleaved call by call (so both see the same
load from other jobs on the machine):

1. headline: `Generator.complete` (the whole path: cleaning, chat format, K=8 candidates of
   up to 32 new tokens, filters, choice) against `pipeline("text-generation")` sampling the
   same 8 sequences x up to 32 tokens from the same prefix, p50/p95 over `--calls` calls;
2. fixed work: exactly 8 x 32 new tokens (no early stop) for the lean sampler,
   `model.generate` and the pipeline;
3. the choices behind the engine: KV cache vs recomputing the window, 1 vs 2 threads,
   fp32 vs bf16, torch.compile;
4. memory: resident size of a fresh process with the engine loaded (and of one with only
   torch + transformers imported, for the difference).

Writes benchmarks/results/generate_speed.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
OUT = REPO / "benchmarks" / "out"
K = 8
NEW_TOKENS = 32


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {"calls": len(ms), "p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
            "mean_ms": round(statistics.fmean(ms), 2), "max_ms": round(max(ms), 2)}


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(jobs: dict, calls: int, warmup: int = 3) -> dict:
    """Run each job `calls` times, alternating job order call by call; per-job timings."""
    for fn in jobs.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in jobs}
    names = list(jobs)
    for i in range(calls):
        for name in names if i % 2 == 0 else reversed(names):
            times[name].append(timed(jobs[name]))
    return {name: summary(values) for name, values in times.items()}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def tiny_checkpoint() -> Path:
    from trainer.ingest.prepare import prepare
    from trainer.model.train import train

    data = OUT / "sample-data"
    model = OUT / "tiny-model"
    if not (model / "streamchat.json").exists():
        prepare([REPO / "data" / "sample"], data, progress=False)
        train(data, model, preset="tiny", max_time=60, progress=False)
    return model


def resident_mb(model_dir: Path | None) -> float:
    """VmRSS of a fresh process that imported torch + transformers (and loaded the engine and
    generated once, when `model_dir` is given)."""
    code = "import torch, transformers\n"
    if model_dir is not None:
        code += (f"from trainer.engine.generate import Generator\ng = Generator.load({str(model_dir)!r})\n"
                 "g.complete('hello chat', ['gg', 'KEKW'])\n")
    code += ("rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]\n"
             "print(int(rss) / 1024)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO,
                         env=dict(os.environ, TRANSFORMERS_VERBOSITY="error"))
    return round(float(out.stdout.strip().splitlines()[-1]), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="checkpoint to measure (default: train the tiny preset)")
    parser.add_argument("--calls", type=int, default=200, help="calls per headline measurement (default 200)")
    parser.add_argument("--variant-calls", type=int, default=50, help="calls per variant measurement (default 50)")
    parser.add_argument("--small-model", type=Path,
                        help="a trained small-preset checkpoint for the small-preset lines (default: random weights)")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    args = parser.parse_args()

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

    from trainer.engine.generate import Generator
    from trainer.corpus.records import read_records
    from trainer.engine.sampling import sample

    load_before = load_average()
    model_dir = args.model or tiny_checkpoint()
    started = time.perf_counter()
    gen = Generator.load(model_dir, seed=0, threads=1)
    load_seconds = time.perf_counter() - started
    settings = gen.settings
    tokenizer, model = gen.tokenizer, gen.model
    eos = tokenizer.eos_token_id

    # Real-looking work: contexts and prompts from the prepared sample's validation split.
    data_dir = Path(gen.card.get("data", {}).get("dir") or OUT / "sample-data")
    texts = [r.text for r in read_records(data_dir / "valid.jsonl")] if (data_dir / "valid.jsonl").exists() else []
    texts = texts or ["hello chat", "gg wp", "KEKW that was close", "what is this game"] * 10
    rng = random.Random(0)
    work = []
    for _ in range(64):
        start = rng.randrange(max(1, len(texts) - 12))
        context = texts[start:start + 10]
        prompt = " ".join(rng.choice(texts).split()[:3])
        work.append((prompt, context))
    cursor = {"engine": 0, "pipeline": 0}

    pipe = pipeline("text-generation", model=model, tokenizer=tokenizer, device="cpu")
    sampling_kwargs = dict(do_sample=True, temperature=settings.temperature, top_p=settings.top_p,
                           top_k=settings.top_k, repetition_penalty=settings.repetition_penalty)

    def prefix_of(prompt, context):
        """The same prefix the engine feeds (context in chat format + prompt), as ids and text."""
        echo = gen._prepare_prompt(prompt)
        prefix, _, max_new = gen._prefix(echo, gen._context_texts(context))
        return prefix, tokenizer.decode(prefix, skip_special_tokens=False), max_new

    prefixes = [prefix_of(p, c) for p, c in work]

    def engine_call():
        prompt, context = work[cursor["engine"] % len(work)]
        cursor["engine"] += 1
        gen.complete(prompt, context)

    def pipeline_call():
        _, text, max_new = prefixes[cursor["pipeline"] % len(prefixes)]
        cursor["pipeline"] += 1
        # min_new_tokens=1: like the engine, no row may end right after the prompt (an empty
        # completion); without it the pipeline often stops at once, having made nothing.
        pipe(text, num_return_sequences=K, max_new_tokens=max_new, min_new_tokens=1, return_full_text=False,
             **sampling_kwargs)

    torch.set_num_threads(1)
    print(f"headline: {args.calls} calls each, interleaved ...", flush=True)
    headline = interleaved({"engine_complete": engine_call, "pipeline": pipeline_call}, args.calls)
    headline["speedup_p95"] = round(headline["pipeline"]["p95_ms"] / headline["engine_complete"]["p95_ms"], 2)
    headline["speedup_p50"] = round(headline["pipeline"]["p50_ms"] / headline["engine_complete"]["p50_ms"], 2)
    print(json.dumps(headline), flush=True)

    # Fixed work: exactly K x 32 new tokens from one typical prefix.
    prefix_ids, prefix_text, max_new = prefixes[0]
    fixed_new = min(NEW_TOKENS, max_new)
    g = torch.Generator().manual_seed(0)
    input_ids = torch.tensor([prefix_ids])

    def lean(m=model, own_forward=True):
        sample(m, prefix_ids, boundary_id=eos, num=K, max_new_tokens=fixed_new, min_new_tokens=fixed_new,
               temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k,
               repetition_penalty=settings.repetition_penalty, generator=g, lean=own_forward)

    def hf_generate(use_cache=True):
        with torch.inference_mode():
            model.generate(input_ids, attention_mask=torch.ones_like(input_ids), num_return_sequences=K,
                           max_new_tokens=fixed_new, min_new_tokens=fixed_new, pad_token_id=eos,
                           use_cache=use_cache, **sampling_kwargs)

    def pipe_fixed():
        pipe(prefix_text, num_return_sequences=K, max_new_tokens=fixed_new, min_new_tokens=fixed_new,
             return_full_text=False, **sampling_kwargs)

    print("fixed work ...", flush=True)
    fixed = interleaved({"lean_sampler": lean, "model_generate": hf_generate, "pipeline": pipe_fixed},
                        args.variant_calls)
    fixed["new_tokens_per_row"] = fixed_new
    print(json.dumps(fixed), flush=True)

    # The choices behind the engine, each against the lean sampler (fp32, 1 thread, KV cache).
    print("variants ...", flush=True)
    variants: dict = {}
    variants["forward (same loop)"] = interleaved(
        {"LeanGPT2_preallocated_cache": lean, "model_forward_DynamicCache": lambda: lean(own_forward=False)},
        args.variant_calls)
    variants["kv_cache_vs_recompute (model.generate)"] = interleaved(
        {"kv_cache": hf_generate, "recompute_each_step": lambda: hf_generate(use_cache=False)},
        max(10, args.variant_calls // 2))

    def with_threads(n):
        def run():
            torch.set_num_threads(n)
            try:
                lean()
            finally:
                torch.set_num_threads(1)
        return run

    variants["threads"] = interleaved({"1_thread": with_threads(1), "2_threads": with_threads(2)}, args.variant_calls)
    bf16_model = type(model).from_pretrained(gen.model_dir, dtype=torch.bfloat16).eval()
    variants["dtype"] = interleaved({"fp32": lean, "bf16": lambda: lean(bf16_model)}, args.variant_calls)
    if not args.no_compile:
        # torch.compile applies to the model's forward (LeanGPT2 is plain eager code).
        try:
            compiled = type(model).from_pretrained(gen.model_dir).eval()
            compiled.forward = torch.compile(compiled.forward, dynamic=True)
            compile_start = time.perf_counter()
            lean(compiled, own_forward=False)
            compile_seconds = time.perf_counter() - compile_start
            variants["torch_compile"] = interleaved(
                {"LeanGPT2_eager": lean, "model_forward_eager": lambda: lean(own_forward=False),
                 "model_forward_compiled": lambda: lean(compiled, own_forward=False)}, args.variant_calls)
            variants["torch_compile"]["first_call_s"] = round(compile_seconds, 1)
        except Exception as error:  # no compiler, unsupported op: a finding, not a crash
            variants["torch_compile"] = {"error": f"{type(error).__name__}: {str(error)[:200]}"}
    print(json.dumps(variants), flush=True)

    # The preset a real channel gets on a CPU, with 8 messages of context and with a full window.
    # Random weights (speed does not depend on them when every row makes exactly 32 tokens); the
    # sample's tokenizer, so the pipeline gets the same prefix as text.
    print("small preset ...", flush=True)
    from trainer.model.presets import PRESETS, build_model

    if args.small_model:  # a trained small model, with its own tokenizer
        small_tokenizer = AutoTokenizer.from_pretrained(args.small_model)
        small = AutoModelForCausalLM.from_pretrained(args.small_model).eval()
    else:
        small_tokenizer = tokenizer
        small = build_model(PRESETS["small"], vocab_size=len(tokenizer), eos_token_id=eos).eval()
    small_eos = small_tokenizer.eos_token_id
    small_pipe = pipeline("text-generation", model=small, tokenizer=small_tokenizer, device="cpu")

    def chat_prefix(messages: int) -> list[int]:
        """EOS m1 EOS m2 ... EOS: `messages` real messages, or as many as fill the window."""
        ids = [small_eos]
        limit = small.config.n_positions - NEW_TOKENS - 1
        for text in (texts * 50)[:messages]:
            ids += small_tokenizer.encode(text) + [small_eos]
        return ids[-limit:]

    eight_ids, full_ids = chat_prefix(8), chat_prefix(10_000)
    eight_text = small_tokenizer.decode(eight_ids, skip_special_tokens=False)
    contexts = {"8_messages": (eight_ids, eight_text),
                "full_window": (full_ids, small_tokenizer.decode(full_ids, skip_special_tokens=False))}
    small_preset: dict = {"parameters": sum(p.numel() for p in small.parameters()),
                          "weights": f"trained ({args.small_model.name})" if args.small_model else "random weights"}
    for name, (ids, text) in contexts.items():
        ids_tensor = torch.tensor([ids])

        def small_lean(ids=ids):
            sample(small, ids, boundary_id=small_eos, num=K, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                   temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k,
                   repetition_penalty=settings.repetition_penalty, generator=g)

        def small_generate(ids_tensor=ids_tensor):
            with torch.inference_mode():
                small.generate(ids_tensor, attention_mask=torch.ones_like(ids_tensor), num_return_sequences=K,
                               max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, pad_token_id=small_eos,
                               **sampling_kwargs)

        def small_pipeline(text=text):
            small_pipe(text, num_return_sequences=K, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                       return_full_text=False, **sampling_kwargs)

        entry = interleaved({"lean_sampler": small_lean, "model_generate": small_generate,
                             "pipeline": small_pipeline}, max(10, args.variant_calls), warmup=2)
        entry["prefix_tokens"] = len(ids)
        for other in ("model_generate", "pipeline"):
            entry[f"{other}_over_lean_p95"] = round(entry[other]["p95_ms"] / entry["lean_sampler"]["p95_ms"], 2)
        small_preset[name] = entry
    print(json.dumps(small_preset), flush=True)

    memory = {"engine_process_rss_mb": resident_mb(gen.model_dir), "bare_torch_transformers_rss_mb": resident_mb(None)}
    memory["engine_over_bare_mb"] = round(memory["engine_process_rss_mb"] - memory["bare_torch_transformers_rss_mb"], 1)

    results = {
        "benchmark": "generate_speed",
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "transformers": transformers.__version__},
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "model": {"dir": str(model_dir), "preset": gen.card.get("preset"), "parameters": gen.card.get("parameters"),
                  "window": gen.window, "vocab": len(tokenizer), "load_seconds": round(load_seconds, 2)},
        "settings": {k: v for k, v in vars(settings).items()},
        "headline": headline,
        "fixed_work": fixed,
        "variants": variants,
        "small_preset_fixed_work": small_preset,
        "memory": memory,
        "rejections": dict(gen.filters.counts),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "generate_speed.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "generate_speed.md").write_text(report(results), encoding="utf-8")
    print(report(results))
    return 0


def report(r: dict) -> str:
    h, f, v, m = r["headline"], r["fixed_work"], r["variants"], r["memory"]
    e, p = h["engine_complete"], h["pipeline"]
    lines = [
        "# generate_speed: `!chat` completions on the CPU",
        "",
        f"{r['when']}, {r['machine']['cores']} cores ({r['machine']['cpu']}), torch {r['machine']['torch']}, "
        f"transformers {r['machine']['transformers']}. Model: preset {r['model']['preset']}, "
        f"{r['model']['parameters']:,} parameters, window {r['model']['window']}, vocabulary {r['model']['vocab']}. "
        f"Load average before/after: {r['load_average_before']} / {r['load_average_after']} "
        "(other jobs shared the 2 cores when it is above ~0.5; every comparison below is interleaved "
        "call by call in one process, so both sides saw the same load).",
        "",
        f"## Headline: K=8 candidates of up to 32 new tokens, {e['calls']} calls each",
        "",
        "| | p50 ms | p95 ms | mean ms |",
        "|---|---|---|---|",
        f"| `Generator.complete` (whole path, filters included) | {e['p50_ms']} | {e['p95_ms']} | {e['mean_ms']} |",
        f"| `pipeline(\"text-generation\")`, same prefix, 8 x up to 32 | {p['p50_ms']} | {p['p95_ms']} | {p['mean_ms']} |",
        "",
        f"Engine {h['speedup_p95']}x faster at p95 ({h['speedup_p50']}x at p50). Target: p95 <= 150 ms and >= 2x.",
        "",
        f"## Fixed work: exactly 8 x {f['new_tokens_per_row']} new tokens, one prefix",
        "",
        "| | p50 ms | p95 ms |",
        "|---|---|---|",
    ]
    for name in ("lean_sampler", "model_generate", "pipeline"):
        lines.append(f"| {name} | {f[name]['p50_ms']} | {f[name]['p95_ms']} |")
    lines += ["", "## Choices (lean sampler, fixed work; p50 / p95 ms)", ""]
    for group, entries in v.items():
        cells = [f"{name} {vals['p50_ms']} / {vals['p95_ms']}" for name, vals in entries.items() if isinstance(vals, dict)]
        extra = [f"{k}: {val}" for k, val in entries.items() if not isinstance(val, dict)]
        lines.append(f"- {group}: " + "; ".join(cells + extra))
    sp = r["small_preset_fixed_work"]
    lines += ["", f"## The small preset ({sp['parameters']:,} parameters, {sp.get('weights', 'random weights')}), 8 x 32 new tokens, "
              "interleaved call by call", "",
              "| context | prefix tokens | lean sampler p50 / p95 ms | model.generate p50 / p95 ms | "
              "pipeline p50 / p95 ms | p95 ratio generate / lean | p95 ratio pipeline / lean |",
              "|---|---|---|---|---|---|---|"]
    for name in ("8_messages", "full_window"):
        e = sp[name]
        cells = [f"{e[k]['p50_ms']} / {e[k]['p95_ms']}" for k in ("lean_sampler", "model_generate", "pipeline")]
        lines.append(f"| {name.replace('_', ' ')} | {e['prefix_tokens']} | " + " | ".join(cells)
                     + f" | {e['model_generate_over_lean_p95']}x | {e['pipeline_over_lean_p95']}x |")
    lines += [
        "",
        f"## Memory: engine process {m['engine_process_rss_mb']} MB resident "
        f"(torch + transformers alone {m['bare_torch_transformers_rss_mb']} MB; the engine adds {m['engine_over_bare_mb']} MB)",
        "",
        "## What the engine uses, and why",
        "",
        "`trainer/engine/sampling.py`: the shared prefix runs once and its KV cache is copied to the K rows; each "
        "step feeds K tokens through `LeanGPT2` (the model's own weights, a preallocated cache, no "
        "per-call machinery), fp32, one torch thread (`Generator.load(threads=1)`), under "
        "`torch.inference_mode`. The lines above are the evidence: the model's own forward with its "
        "`DynamicCache` in the same loop, bf16, two threads and torch.compile of the model's forward "
        f"(its first call, compiling, took {v.get('torch_compile', {}).get('first_call_s', '?')} s) were each "
        "measured against it in this run.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
