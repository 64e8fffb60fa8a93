"""The fuzz suite's long run: every format's parser and `prepare` as a whole over malformed input.

    .venv/bin/python benchmarks/fuzz.py [--examples N] [--prepare-examples N]

The same inputs and checks as tests/test_fuzz.py (tests/fuzz_inputs.py: random bytes, mutated
made-up lines of each format, JSON documents of each shape with values of any type, deep
nesting, huge numbers, impossible dates, odd encodings), with many more examples and no
shrinking to one failure: every failing case is counted. Counts: cases generated, crashes
(exceptions that escaped a reader or `prepare`), good files lost (a good log beside malformed
ones that lost any message), files refused with a named problem, and lines the isolation skipped
after a parser raised on them.

Writes benchmarks/results/fuzz.json and .md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fuzz_inputs import JSON_FORMATS, SEEDS, FuzzCounts, check_parser, check_prepare, log_bytes  # noqa: E402


def _record(counts: FuzzCounts, what: str, check) -> None:
    counts.cases += 1
    try:
        check()
    except AssertionError as error:
        if "good" in what:
            return  # counted as a good file lost by check_prepare
        counts.crashes += 1
        counts.examples.append(f"{what}: {error}"[:300])
    except Exception:  # noqa: BLE001 - a crash is what is being counted
        counts.crashes += 1
        counts.examples.append(f"{what}: {traceback.format_exc(limit=2)}"[-400:])


def _parser_cases(fmt: str, counts: FuzzCounts, run_settings):
    @run_settings
    @given(log_bytes(fmt))
    def parser_case(data):
        _record(counts, fmt, lambda: check_parser(fmt, data, counts))

    return parser_case


def run(examples: int, prepare_examples: int, seed: int) -> dict:
    run_settings = settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                            phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    per_format = {}
    for fmt in sorted(set(SEEDS) | set(JSON_FORMATS)):
        counts = FuzzCounts()
        started = time.perf_counter()
        _parser_cases(fmt, counts, run_settings)()
        per_format[fmt] = {**_public(counts), "seconds": round(time.perf_counter() - started, 1)}
        print(f"{fmt:24s} {per_format[fmt]}", flush=True)

    prepare_counts = FuzzCounts()

    @settings(run_settings, max_examples=prepare_examples)
    @given(st.lists(st.sampled_from(sorted(set(SEEDS) | set(JSON_FORMATS))).flatmap(log_bytes), min_size=1, max_size=3))
    def prepare_case(files):
        _record(prepare_counts, "prepare (good file)", lambda: check_prepare(files, prepare_counts))

    started = time.perf_counter()
    prepare_case()
    prepare_result = {**_public(prepare_counts), "seconds": round(time.perf_counter() - started, 1)}
    print(f"{'prepare':24s} {prepare_result}", flush=True)
    total = {key: sum(r[key] for r in per_format.values()) + prepare_result[key]
             for key in ("cases", "crashes", "good_files_lost", "file_problems", "failed_lines")}
    return {"examples_per_format": examples, "prepare_examples": prepare_examples, "seed": seed,
            "python": platform.python_version(), "total": total, "parsers": per_format, "prepare": prepare_result}


def _public(counts: FuzzCounts) -> dict:
    return {"cases": counts.cases, "crashes": counts.crashes, "good_files_lost": counts.good_files_lost,
            "file_problems": counts.file_problems, "failed_lines": counts.failed_lines,
            "crash_examples": counts.examples[:5]}


def write_markdown(result: dict, path: Path) -> None:
    t = result["total"]
    lines = [
        "# Fuzzing the log readers and prepare",
        "",
        "`benchmarks/fuzz.py`: malformed input (random bytes, mutated lines of each format, JSON documents of "
        "each shape with values of any type, deep nesting, huge numbers, impossible dates, odd encodings) "
        "through every format's reader and through `prepare` beside a good log.",
        "",
        f"**{t['cases']:,} cases generated; {t['crashes']} crashes; {t['good_files_lost']} good files lost.** "
        f"{t['file_problems']:,} files were refused with a named problem and {t['failed_lines']:,} lines "
        "were skipped and counted after a parser raised on them (the rest of their files read on).",
        "",
        "| reader | cases | crashes | files refused (named) | lines skipped after a parser error | s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for fmt, r in result["parsers"].items():
        lines.append(f"| {fmt} | {r['cases']} | {r['crashes']} | {r['file_problems']} | {r['failed_lines']} | "
                     f"{r['seconds']} |")
    p = result["prepare"]
    lines += [f"| prepare (1-3 malformed files beside a good one) | {p['cases']} | {p['crashes']} | "
              f"{p['file_problems']} | {p['failed_lines']} | {p['seconds']} |", "",
              f"Good files lost in the prepare cases: {p['good_files_lost']}.", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1500, help="cases per format's reader")
    parser.add_argument("--prepare-examples", type=int, default=600, help="cases through prepare")
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)  # every malformed file warns; the counts are the result
    result = run(args.examples, args.prepare_examples, seed=0)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fuzz.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    write_markdown(result, RESULTS / "fuzz.md")
    print(json.dumps(result["total"]))
    return 1 if result["total"]["crashes"] or result["total"]["good_files_lost"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
