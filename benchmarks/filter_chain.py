"""The filter chain: time per message on worst-case inputs, and how much real chat it refuses.

    .venv/bin/python benchmarks/filter_chain.py

- time: `FilterChain.check` (every message the bot posts goes through it) on
  messages built to be slow: 500 characters of separators between letters, look-alike letters,
  l33t digits, domain-like dots, emoji, and a 40-letter blocked word of alternating `il` with
  prompts of repeated `1 `. Target: p99 under 1 ms.
- false positives: every validation message of every set in ../shared/data (prepared here,
  `@user` stand-ins dropped and cleaned as the generator does) through `check`; refusals by reason.

Writes benchmarks/results/filter_chain.json and .md.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results"
TARGET_P99_MS = 1.0


def worst_cases() -> dict[str, str]:
    limit = 500
    return {
        "il_prompt": ("1 " * 250)[:limit],
        "il_letters": ("il" * 250)[:limit],
        "separated_letters": ("k|i|t|t|e " * 60)[:limit],
        "small_capitals": ("ᴋɪᴛᴛᴇ ᴍʏ " * 60)[:limit],
        "leet_digits": ("n1gg3 " * 90)[:limit],
        "dots": ("a.b" * 200)[:limit],
        "domains": ("drops.bes " * 60)[:limit],
        "emoji_between": ("k🙂i🙂t🙂t " * 60)[:limit],
        "mixed_scripts": ("раураl ѕсаm 日本 " * 40)[:limit],
        "symbols": ("+|@|$|!|(|< " * 50)[:limit],
        "plain_chat": ("hello chat KEKW that was close " * 20)[:limit],
    }


def time_chain() -> dict:
    from trainer.engine.safety import FilterChain

    chain = FilterChain(max_words=500)  # no early "too_many_words": every rule runs on every input
    chain.add_banned_word("il" * 20)  # a moderator's long blocked word
    chain.add_banned_word("kitten")
    cases = worst_cases()
    for text in cases.values():  # warm caches (look-alike table, public suffix list)
        chain.check(text)
        chain.content_reason(text)
    per_case = {}
    all_ms, all_cpu = [], []
    for name, text in cases.items():
        times, cpu = [], []
        for _ in range(200):
            start, start_cpu = time.perf_counter(), time.thread_time()
            chain.check(text)
            cpu.append((time.thread_time() - start_cpu) * 1000)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        cpu.sort()
        all_ms += times
        all_cpu += cpu
        per_case[name] = {"chars": len(text), "median_ms": round(statistics.median(times), 4),
                          "p99_ms": round(_p99(times), 4), "cpu_p99_ms": round(_p99(cpu), 4)}
    all_ms.sort()
    all_cpu.sort()
    return {"cases": per_case, "messages_timed": len(all_ms), "p99_ms": round(_p99(all_ms), 4),
            "cpu_p99_ms": round(_p99(all_cpu), 4), "max_ms": round(all_ms[-1], 4), "target_p99_ms": TARGET_P99_MS,
            "load_average": os.getloadavg()[0]}


def _p99(sorted_values: list[float]) -> float:
    return sorted_values[int(len(sorted_values) * 0.99) - 1]


def false_positives() -> dict:
    from trainer.corpus.records import read_records
    from trainer.engine.generate import _drop_placeholders
    from trainer.engine.safety import FilterChain
    from trainer.ingest.prepare import prepare

    chain = FilterChain()
    out = {}
    for folder in sorted(p for p in SHARED.iterdir() if p.is_dir()):
        with tempfile.TemporaryDirectory() as tmp:
            prepare([folder], Path(tmp), progress=False)
            texts = [chain.clean(_drop_placeholders(r.text)) for r in read_records(Path(tmp) / "valid.jsonl")]
        texts = [t for t in texts if t]
        reasons = Counter(chain.check(t) for t in texts)
        refused = sum(n for r, n in reasons.items() if r is not None)
        words = Counter(chain.banned_word_in(t) for t in texts if chain.check(t) == "banned_word")
        out[folder.name] = {"messages": len(texts), "refused": refused, "rate": round(refused / max(1, len(texts)), 5),
                            "by_reason": {r: n for r, n in reasons.most_common() if r is not None},
                            "banned_words_found": dict(words.most_common())}
    total = sum(v["messages"] for v in out.values())
    refused = sum(v["refused"] for v in out.values())
    content = sum(v["by_reason"].get(r, 0) for v in out.values() for r in ("url", "banned_word"))
    return {"sets": out, "messages": total, "refused": refused, "rate": round(refused / max(1, total), 5),
            "url_or_banned_word": content, "url_or_banned_word_rate": round(content / max(1, total), 5)}


def main() -> int:
    result = {"python": platform.python_version(), "machine": platform.machine(), "timing": time_chain()}
    if SHARED.is_dir():
        result["false_positives"] = false_positives()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "filter_chain.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    t = result["timing"]
    lines = ["# Filter chain: time per message and refusals of real chat", "",
             "`python benchmarks/filter_chain.py`; `FilterChain.check` per message, 200 runs of each input.", "",
             f"Worst-case inputs (500 characters): p99 **{t['cpu_p99_ms']} ms** of CPU time, "
             f"{t['p99_ms']} ms wall (max {t['max_ms']} ms; target p99 < {TARGET_P99_MS} ms). The 2 cores are "
             f"shared: load average {t['load_average']:.1f} during the run, so wall time counts waits for a core.",
             "", "| input | median ms | p99 ms | p99 CPU ms |", "|---|---|---|---|"]
    lines += [f"| {name} | {c['median_ms']} | {c['p99_ms']} | {c['cpu_p99_ms']} |" for name, c in t["cases"].items()]
    if "false_positives" in result:
        fp = result["false_positives"]
        lines += ["", f"Real chat (validation messages of ../shared/data, {fp['messages']:,}): refused "
                  f"{fp['refused']:,} ({fp['rate']:.2%}); for a link or a banned word {fp['url_or_banned_word']:,} "
                  f"({fp['url_or_banned_word_rate']:.2%}).", "", "| set | messages | refused | by reason |", "|---|---|---|---|"]
        lines += [f"| {name} | {v['messages']:,} | {v['rate']:.2%} | "
                  + ", ".join(f"{r} {n}" for r, n in v["by_reason"].items()) + " |" for name, v in fp["sets"].items()]
    (RESULTS / "filter_chain.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0 if t["cpu_p99_ms"] < TARGET_P99_MS else 1


if __name__ == "__main__":
    sys.exit(main())
