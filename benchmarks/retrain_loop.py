"""What a retrain from chat costs, stage by stage, on real chat (fl0m, three days of live IRC capture).

The setup a streamer has after a few days of collecting:
1. `prepare` day 1, train a `small` model on it for TRAIN_SECONDS, adopt it into a model home;
2. days 1-3 become the bot's collected chat (`STREAMCHAT_COLLECT_DIR/<channel>/<day>.jsonl`, with
   message ids and user hashes as the collector writes them);
3. `python -m trainer retrain --home ... --collected ... --max-time RETRAIN_SECONDS` — the
   same command the bot's `!chatretrain` spawns — timed stage by stage from status.json.

Writes benchmarks/results/retrain_loop.json and .md. Needs ../shared/data (skips without it).
Run: .venv/bin/python benchmarks/retrain_loop.py
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "fl0m-tsv"
DAYS = ["Week-1_01_06_2021fl0m.log", "Week-1_02_06_2021fl0m.log", "Week-1_03_06_2021fl0m.log"]
TRAIN_SECONDS = 180
RETRAIN_SECONDS = 180
SAMPLES = 100
RESULTS = REPO / "benchmarks" / "results"


def seconds_between(a: str | None, b: str | None) -> float | None:
    if not a or not b:
        return None
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(b) - parse(a)).total_seconds()


def main() -> int:
    if not all((DATA / day).is_file() for day in DAYS):
        print(f"skipped: {DATA} not found")
        return 0
    sys.path.insert(0, str(REPO))
    from trainer.loop.home import ModelHome
    from trainer.ingest.prepare import prepare
    from trainer.corpus.records import ChatRecord, read_records, write_records
    from trainer.model.train import train

    work = Path(tempfile.mkdtemp(prefix="retrain_loop-"))
    timings: dict = {}

    # 1. the model a streamer starts with: day 1 only
    start = time.perf_counter()
    prepare([DATA / DAYS[0]], work / "day1", progress=False)
    first = train(work / "day1", work / "first", preset="small", max_time=TRAIN_SECONDS, progress=False)
    timings["initial_train_s"] = round(time.perf_counter() - start, 1)
    home = ModelHome(work / "models" / "fl0m")
    home.promote(home.add_version(first, move=False))

    # 2. three days collected by the bot (prepared records, with ids and user hashes added)
    collected = work / "collected" / "fl0m"
    messages = 0
    for n, day in enumerate(DAYS):
        prepare([DATA / day], work / f"p{n}", progress=False)
        records = [r for name in ("train.jsonl", "valid.jsonl") for r in read_records(work / f"p{n}" / name)]
        out = [ChatRecord(text=r.text, channel="fl0m", stream=f"fl0m/{day}", ts=r.ts, id=f"{n}-{i}",
                          user=f"{i % 997:032x}") for i, r in enumerate(records)]
        write_records(collected / f"2021-06-0{n + 1}.jsonl", out)
        messages += len(out)

    # 3. the retrain, as the bot starts it
    command = [sys.executable, "-m", "trainer", "retrain", "--home", str(home.path), "--collected", str(collected),
               "--max-time", str(RETRAIN_SECONDS), "--samples", str(SAMPLES), "--no-progress", "--nice", "10"]
    stages: dict[str, str] = {}
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2")))
    while process.poll() is None:
        status = home.read_status()
        if status.get("stage") and status["stage"] not in stages:
            stages[status["stage"]] = status.get("stage_started") or status.get("started")
        time.sleep(0.5)
    total = time.perf_counter() - start
    stderr = process.stderr.read()
    status = home.read_status()
    if process.returncode != 0 or status.get("state") != "done":
        print(stderr[-3000:])
        return 1
    started, ended = status["started"], status["ended"]
    timings.update(
        retrain_wall_s=round(total, 1),
        preparing_s=seconds_between(started, stages.get("training")),
        training_s=seconds_between(stages.get("training"), stages.get("evaluating")),
        evaluating_both_s=seconds_between(stages.get("evaluating"), stages.get("promoting") or ended),
    )
    figures = status["figures"]
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other jobs",
        "data": f"fl0m-tsv, {len(DAYS)} days, {messages} collected messages",
        "initial": f"small preset, {TRAIN_SECONDS} s on day 1",
        "retrain": f"--max-time {RETRAIN_SECONDS} --samples {SAMPLES}",
        "timings": timings,
        "corpus": figures["corpus"],
        "candidate": figures["candidate"],
        "current": figures.get("current"),
        "new_emotes": len(figures.get("new_emotes") or []),
        "outcome": status["outcome"],
        "reason": status["reason"],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "retrain_loop.json").write_text(json.dumps(result, indent=2) + "\n")
    cand, cur = figures["candidate"], figures.get("current") or {}
    md = [
        "# retrain_loop: one retrain from collected chat, stage by stage",
        "",
        f"{result['data']}; {result['initial']}; retrain {result['retrain']}. {result['machine']}.",
        "",
        "| stage | seconds |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in timings.items()),
        "",
        "| model | bits/char (fresh chat) | empty | copies 3+ | realism AUC |",
        "|---|---|---|---|---|",
        f"| current (day 1) | {cur.get('bits_per_char', 0):.3f} | {cur.get('empty_rate', 0):.1%} | "
        f"{cur.get('copy_rate', 0):.1%} | {cur.get('realism_auc', 0):.3f} |",
        f"| candidate (days 1-3) | {cand['bits_per_char']:.3f} | {cand['empty_rate']:.1%} | "
        f"{cand['copy_rate']:.1%} | {cand['realism_auc']:.3f} |",
        "",
        f"Outcome: **{result['outcome']}** — {result['reason']}. New emote tokens: {result['new_emotes']}.",
        "",
    ]
    (RESULTS / "retrain_loop.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
