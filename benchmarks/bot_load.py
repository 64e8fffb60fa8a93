"""The bot under a chat flood: the real `python -m bot run` process against the fake Twitch on loopback.

    .venv/bin/python benchmarks/bot_load.py [--model MODEL_DIR] [--rate 200] [--seconds 60]

Without --model it prepares data/sample and trains the tiny preset (seconds) into
benchmarks/out/bot_load/. Then, with the bot as a separate process and the fake Twitch in this
one (so they talk over real loopback HTTP and websocket connections):

1. quiet chat, side by side: `--idle-seconds` of only `!chat` requests (one a second, each from
   a new viewer), for the reply latency without load;
2. the flood: `--rate` human chat messages a second for `--seconds`, lines of the bundled sample
   chat, while viewers keep sending one `!chat` a second;
3. then: every human message collected? (ids counted against what was sent; no duplicates, no
   bot posts, no commands), reply latency p50/p95 from the `!chat` leaving the fake's websocket
   to the reply arriving at its Helix endpoint, the share of requests answered, the bot
   process's resident memory at the start and the end, and its CPU time.

The bot runs with its defaults except STREAMCHAT_COOLDOWN=2 (so about 15 answers per 30 s are
measured, inside Twitch's limit of 20). Writes benchmarks/results/bot_load.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fake_twitch import FakeTwitch, bot_environment  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
OUT = REPO / "benchmarks" / "out" / "bot_load"
PROMPTS = ["what is", "this game is", "chat is", "i think the boss", "who is winning", "how long is the",
           "pawsHi everyone", "the best part", "is this the", "can we get"]


def tiny_model() -> Path:
    from trainer.ingest.prepare import prepare
    from trainer.model.train import train

    model = OUT / "model"
    if not (model / "streamchat.json").is_file():
        prepare([REPO / "data" / "sample"], OUT / "data", progress=False)
        train(OUT / "data", model, preset="tiny", max_steps=200, progress=False)
    return model


def sample_lines() -> list[str]:
    """Human lines of the bundled sample that the collector keeps (so every one must be collected)."""
    from trainer.ingest.cleaning import DEFAULT_BOTS, clean_message
    from trainer.ingest.formats import open_log

    lines = []
    for path in sorted((REPO / "data" / "sample").glob("*.txt")):
        for message in open_log(path).messages:
            user = (message.user or "").lower()
            if message.is_system or user in DEFAULT_BOTS or message.text.lstrip().startswith("!"):
                continue
            if clean_message(message.text) is not None:
                lines.append(message.text)
    return lines


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(args) -> dict:
    model = Path(args.model) if args.model else tiny_model()
    lines = sample_lines()
    work = OUT / "run"
    if work.exists():
        import shutil

        shutil.rmtree(work)
    work.mkdir(parents=True)
    async with FakeTwitch(keepalive_interval=5) as fake:
        env = bot_environment(fake, work, model=str(model))
        for name in list(env):  # the bot's own defaults, not the tests' fast timings
            if name.startswith("STREAMCHAT_") and name not in ("STREAMCHAT_MODEL", "STREAMCHAT_TOKENS",
                                                               "STREAMCHAT_COLLECT_DIR"):
                del env[name]
        env["STREAMCHAT_COOLDOWN"] = "2"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TWITCH_", "STREAMCHAT_"))}
        full_env.update(env, OMP_NUM_THREADS="1")
        log = open(OUT / "bot.log", "w")
        process = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=work, env=full_env,
                                   stdout=log, stderr=subprocess.STDOUT)
        bot = psutil.Process(process.pid)
        channel_id = fake.user_by_login("streamer")["id"]
        started = time.monotonic()
        await fake.wait_until(lambda: fake.subscribed(channel_id) or process.poll() is not None, 120, "the bot")
        if process.poll() is not None:
            raise SystemExit("the bot did not start; see benchmarks/out/bot_load/bot.log")
        start_up = time.monotonic() - started
        await asyncio.sleep(1)
        rss_start = bot.memory_info().rss
        cpu_start = sum(bot.cpu_times()[:2])
        load_start = os.getloadavg()

        asks: dict[str, str] = {}  # !chat message id -> phase
        viewer = 0

        async def ask(phase: str) -> None:
            nonlocal viewer
            viewer += 1
            prompt = PROMPTS[viewer % len(PROMPTS)]
            message_id = await fake.chat("streamer", f"asker{viewer}", f"!chat {prompt}", message_id=f"ask-{viewer}")
            asks[message_id] = phase

        # 1. quiet chat: only !chat, one a second
        for _ in range(int(args.idle_seconds)):
            await ask("idle")
            await asyncio.sleep(1)

        # 2. the flood
        loop = asyncio.get_running_loop()
        total = int(args.rate * args.seconds)
        human_ids = []
        flood_start = loop.time()
        for i in range(total):
            delay = flood_start + i / args.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            message_id = f"human-{i}"
            await fake.chat("streamer", f"viewer{i % 500}", lines[i % len(lines)], message_id=message_id)
            human_ids.append(message_id)
            if i % int(args.rate) == int(args.rate) // 2:
                await ask("load")
        flood_seconds = loop.time() - flood_start

        # 3. settle, measure, stop
        await asyncio.sleep(args.settle)
        rss_end = bot.memory_info().rss
        cpu_used = sum(bot.cpu_times()[:2]) - cpu_start
        load_end = os.getloadavg()
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(60)
        log.close()

        from trainer.corpus.records import read_records

        records = [r for path in sorted((work / "collected" / "streamer").glob("*.jsonl")) for r in read_records(path)]
        collected_ids = [r.id for r in records]
        bot_post_ids = {s.message_id for s in fake.accepted()}
        arrived = {d.message_id: d.at for d in fake.deliveries}
        replies = {s.reply_to: s.at for s in fake.accepted() if s.reply_to}
        latency = {"idle": [], "load": []}
        for message_id, phase in asks.items():
            if message_id in replies:
                latency[phase].append(replies[message_id] - arrived[message_id])
        sent_times = sorted(s.at for s in fake.accepted())
        max_in_30s = max((sum(1 for t in sent_times[i:] if t - start < 30) for i, start in enumerate(sent_times)),
                         default=0)

    def summary(values: list[float], phase: str) -> dict:
        asked = sum(1 for p in asks.values() if p == phase)
        return {
            "asked": asked,
            "answered": len(values),
            "p50_s": percentile(values, 0.5),
            "p95_s": percentile(values, 0.95),
            "max_s": max(values) if values else None,
        }

    human_set = set(human_ids)
    result = {
        "benchmark": "bot_load",
        "model": str(model),
        "model_parameters": _parameters(model),
        "rate_target_per_s": args.rate,
        "seconds": args.seconds,
        "human_messages_sent": len(human_ids),
        "flood_rate_achieved_per_s": round(len(human_ids) / flood_seconds, 1),
        "human_messages_collected": sum(1 for i in collected_ids if i in human_set),
        "collected_missing": len(human_set - set(collected_ids)),
        "collected_duplicates": len(collected_ids) - len(set(collected_ids)),
        "collected_bot_posts_or_commands": sum(1 for i in collected_ids if i in bot_post_ids or i.startswith("ask-")),
        "latency_idle": summary(latency["idle"], "idle"),
        "latency_load": summary(latency["load"], "load"),
        "latency_p50_ratio_load_vs_idle": (
            round(percentile(latency["load"], 0.5) / percentile(latency["idle"], 0.5), 2)
            if latency["load"] and latency["idle"] else None
        ),
        "posts_total": len(sent_times),
        "posts_max_in_any_30s": max_in_30s,
        "rss_start_mb": round(rss_start / 2**20, 1),
        "rss_end_mb": round(rss_end / 2**20, 1),
        "bot_cpu_seconds": round(cpu_used, 1),
        "bot_start_up_s": round(start_up, 1),
        "bot_exit_code": exit_code,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "loadavg_start": [round(x, 2) for x in load_start],
            "loadavg_end": [round(x, 2) for x in load_end],
        },
        "settings": "bot defaults except STREAMCHAT_COOLDOWN=2; OMP_NUM_THREADS=1",
    }
    return result


def _parameters(model: Path) -> int | None:
    try:
        card = json.loads((model / "streamchat.json").read_text())
        return card.get("parameters")
    except (OSError, ValueError):
        return None


def _shown(model: str) -> str:
    try:
        return str(Path(model).resolve().relative_to(REPO))
    except ValueError:
        return model


def write_markdown(result: dict, path: Path) -> None:
    def ms(value):
        return "-" if value is None else f"{value * 1000:.0f} ms"

    idle, load = result["latency_idle"], result["latency_load"]
    m = result["machine"]
    text = f"""# Bot under load (benchmarks/bot_load.py)

The real `python -m bot run` process against the fake Twitch on loopback; the model is
`{_shown(result['model'])}` ({result['model_parameters']:,} parameters: the tiny preset trained on the
bundled sample unless `--model` named another). Bot defaults except
STREAMCHAT_COOLDOWN=2. {m['cpus']} CPUs, load average {m['loadavg_start'][0]} at the start and
{m['loadavg_end'][0]} at the end{": other jobs shared the machine's cores during the run" if max(m['loadavg_start'][0], m['loadavg_end'][0]) > m['cpus'] else ""}.

| | value |
|---|---|
| human chat sent | {result['human_messages_sent']:,} in {result['seconds']} s ({result['flood_rate_achieved_per_s']} msg/s achieved, {result['rate_target_per_s']} targeted) |
| human chat collected | **{result['human_messages_collected']:,}** (missing {result['collected_missing']}, duplicates {result['collected_duplicates']}, bot posts or commands {result['collected_bot_posts_or_commands']}) |
| `!chat` answered, quiet chat | {idle['answered']} of {idle['asked']} (the rest fell in the 2 s cooldown, silently) |
| reply latency, quiet chat | p50 {ms(idle['p50_s'])}, p95 {ms(idle['p95_s'])} |
| `!chat` answered, under the flood | {load['answered']} of {load['asked']} |
| reply latency, under the flood | p50 {ms(load['p50_s'])}, p95 {ms(load['p95_s'])}, max {ms(load['max_s'])} |
| latency p50, flood / quiet | {result['latency_p50_ratio_load_vs_idle']}x |
| posts in any 30 s (Twitch allows 20) | at most {result['posts_max_in_any_30s']} |
| bot resident memory | {result['rss_start_mb']} MB at the start, {result['rss_end_mb']} MB at the end |
| bot CPU time | {result['bot_cpu_seconds']} s for the whole run |

Requests not answered were dropped silently by the cooldown (one answer per 2 s) and, under the
flood, by the rule that the bot never joins in ahead of queued answers and never posts faster
than one message a second as a non-moderator. The slowest replies waited for that 1 s spacing
behind another post (a join-in), or for a CPU on the shared, loaded machine.

Latency is measured by the fake Twitch: from the `!chat` notification leaving its websocket
to the reply arriving at its `POST /helix/chat/messages`, so it includes reading, the
cooldown and queue checks, generation on the worker thread, the send queue and both
loopback hops.
"""
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="checkpoint (default: the tiny preset trained on data/sample)")
    parser.add_argument("--rate", type=float, default=200.0, help="human chat messages per second (default 200)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the flood (default 60)")
    parser.add_argument("--idle-seconds", type=float, default=20.0, help="quiet phase before it (default 20)")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to wait after the flood (default 5)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    OUT.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run(args))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bot_load.json").write_text(json.dumps(result, indent=1) + "\n")
    write_markdown(result, RESULTS / "bot_load.md")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
