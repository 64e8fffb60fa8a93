"""`python -m trainer prepare INPUT... --out DIR`: chat logs in, a clean corpus split by stream out.

The pipeline, one file at a time (memory stays flat in the size of the input):

1. find the log files in the inputs (folders recursively, by extension; gzip read transparently);
2. per file: detect the format (`trainer.ingest.formats`), parse it, clean every message
   (`trainer.ingest.cleaning`), count emotes (`trainer.ingest.emotes`), and append the kept messages as corpus
   records (`trainer.corpus.records`) to a temporary file of their stream;
3. choose the validation streams (`trainer.ingest.split`), then concatenate the stream files into
   `DIR/train.jsonl` and `DIR/valid.jsonl`, oldest stream first, and write `DIR/emotes.txt` and
   `DIR/stats.json` (per file: format, lines read, messages kept, drops by reason).

A file that can't be read is reported with what was wrong and skipped; every other file is
still imported. Every line read is accounted for in the stats (blank, logger lines, unknown
shape, or a message that was kept or dropped for a counted reason).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
import zlib
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain, groupby, islice
from operator import itemgetter
from pathlib import Path

from trainer.errors import StreamchatError
from trainer.corpus.records import EMOTES_FILE, STATS_FILE, TRAIN_FILE, VALID_FILE, stream_lines
from trainer.fsutil import atomic_write, write_json_atomic, write_text_atomic

logger = logging.getLogger(__name__)

# Extensions looked at inside folders (a file named on the command line is always read).
LOG_SUFFIXES = {".txt", ".log", ".json", ".jsonl", ".csv", ".tsv", ".srt", ".ssa", ".ass", ".gz", ".irc"}
CHUNK = 20_000  # messages parsed ahead, so usernames of the chunk are known before cleaning it
STATS_VERSION = 1


def find_log_files(inputs: Iterable[Path]) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(file, the input it came from) for every log file; and problems with the inputs."""
    found: list[tuple[Path, Path]] = []
    problems: list[str] = []
    seen: set[Path] = set()
    for root in inputs:
        root = Path(root)
        if root.is_file():
            if root.resolve() not in seen:
                seen.add(root.resolve())
                found.append((root, root))
        elif root.is_dir():
            files = [
                path for path in sorted(root.rglob("*"))
                if path.is_file()
                and not any(part.startswith(".") for part in path.relative_to(root).parts)
                and path.suffix.lower() in LOG_SUFFIXES
                and not path.name.lower().startswith("readme")
            ]
            if not files:
                problems.append(
                    f"{root}: folder with no log files (looked for {', '.join(sorted(LOG_SUFFIXES))}, "
                    "in subfolders too); point prepare at the files or the folder that holds them"
                )
            for path in files:
                if path.resolve() not in seen:
                    seen.add(path.resolve())
                    found.append((path, root))
        else:
            problems.append(f"{root}: no such file or folder")
    return found, problems


def stream_name(path: Path) -> str:
    """A file's stream id: a VOD id at the end of its name (`2025-11-29_..._2630758683`), else its name."""
    name = path.name
    for suffix in (".gz", ".json", ".jsonl", ".txt", ".log", ".csv", ".tsv", ".srt", ".ssa", ".ass", ".irc"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    tail = name.rsplit("_", 1)[-1]
    if tail.isdigit() and len(tail) >= 6 and tail != name:
        return tail
    return name


@dataclass
class _FileTask:
    """One file to import, with everything a worker process needs."""

    index: int
    path: Path
    group: str  # the stream group when the log doesn't name its channel: the folder it came from
    key: str  # the stream id when the log doesn't name one (unique among the files)
    forced_valid: bool
    fmt: str | None
    tmp: Path
    bots: tuple
    own_name: str | None
    blocked: tuple
    stable_hashes: bool = False  # True when worker processes import files side by side


@dataclass
class _Part:
    """The kept records of one stream from one file: a temporary file and their text hashes."""

    key: str
    channel: str | None
    group: str
    forced_valid: bool
    path: Path
    hashes: array = field(default_factory=lambda: array("q"))  # hash of each text, case-folded
    first_ts: str | None = None


@dataclass
class _FileResult:
    report: dict
    parts: list
    emotes: object  # EmoteStats
    drops: dict
    changes: dict


_cleaners: dict = {}


def _cleaner_for(task: _FileTask):
    """One MessageCleaner per settings and process (the blocked-word pattern compiles once)."""
    from trainer.ingest.cleaning import MessageCleaner

    settings = (task.bots, task.own_name, task.blocked)
    cleaner = _cleaners.get(settings)
    if cleaner is None:
        cleaner = _cleaners[settings] = MessageCleaner(task.bots, task.own_name, task.blocked)
    cleaner.drops = {}
    cleaner.changes = {}
    cleaner.start_stream()
    return cleaner


def _import_file(task: _FileTask, emotes=None) -> _FileResult:
    """Parse, clean and write one file (in a worker process, or in this one counting into `emotes`)."""
    from trainer.ingest.emotes import EmoteStats
    from trainer.ingest.formats import LogProblem, open_log

    path = task.path
    report: dict = {"path": str(path), "format": None, "encoding": None, "stream": None,
                    "channel": None, "lines": 0, "messages": 0, "kept": 0, "dropped": {},
                    "blank_lines": 0, "log_lines": 0, "unparsed_lines": 0, "warnings": [], "error": None}
    cleaner = _cleaner_for(task)
    result = _FileResult(report, [], None if emotes else EmoteStats(), cleaner.drops, cleaner.changes)
    emotes = emotes or result.emotes
    try:
        source = open_log(path, task.fmt)
    except LogProblem as error:
        report["error"] = str(error)
        return result
    info = source.info
    report["format"] = info.format
    report["encoding"] = info.encoding
    parts: dict[str, _Part] = {}

    def part_for(key: str, channel: str | None) -> _Part:
        part = parts.get(key)
        if part is not None and part.channel != channel:
            key = f"{channel}/{key}"  # one stream per channel (a raw IRC capture of several)
            part = parts.get(key)
        if part is None:
            part = parts[key] = _Part(key, channel, channel or task.group, task.forced_valid,
                                      task.tmp / f"{task.index}-{len(parts)}.jsonl")
        return part

    messages = source.messages
    default = None
    n_messages = n_kept = 0
    try:
        while True:
            chunk = list(islice(messages, CHUNK))
            if not chunk:
                break
            n_messages += len(chunk)
            if default is None:  # after the first chunk: JSON and headers have named stream/channel
                default = part_for(info.stream or task.key, info.channel)
            marked = [m[4] for m in chunk if m[4]]
            if marked:
                emotes.add_marked(chain.from_iterable(marked))
            if info.format in ("corpus", "irc"):
                # These can name their own stream/channel per message: split the chunk into runs.
                for (channel, key), run in groupby(chunk, key=itemgetter(7, 8)):
                    target = default
                    if key is not None or channel is not None:
                        target = part_for(key if key is not None else default.key,
                                          channel if channel is not None else info.channel)
                    n_kept += _write_run(cleaner, emotes, list(run), target, task.stable_hashes)
            else:
                n_kept += _write_run(cleaner, emotes, chunk, default, task.stable_hashes)
    except LogProblem as error:
        report["error"] = str(error)
    except OSError as error:
        report["error"] = f"read failed after {info.lines} lines ({error}); the messages before it were imported"
    result.parts = [part for part in parts.values() if len(part.hashes)]
    report.update(
        stream=default.key if default else None, channel=info.channel, lines=info.lines,
        messages=n_messages, kept=n_kept, blank_lines=info.blank, log_lines=info.meta_lines,
        unparsed_lines=info.unparsed, dropped=dict(cleaner.drops),
    )
    if info.unparsed:
        info.warnings.append(
            f"{info.unparsed} lines of an unknown shape for format {info.format} were skipped "
            f"(e.g. {'; '.join(info.unparsed_examples)})"
        )
    report["warnings"] = info.warnings
    return result


def _write_run(cleaner, emotes, messages, part: _Part, stable_hashes: bool) -> int:
    """Clean messages of one stream and append the kept ones to the stream's temporary file."""
    texts, users, times = cleaner.clean_many(messages)
    if not texts:
        return 0
    # Batched, C-speed work: the records, hashes, emote counts.
    with open(part.path, "a", encoding="utf-8") as handle:
        handle.write(stream_lines(texts, times, channel=part.channel, stream=part.key))
    if stable_hashes:  # hashes from several processes must agree
        part.hashes.extend(text_hashes(texts))
    else:  # one process: Python's own string hash is the same throughout, and cheaper
        part.hashes.extend(map(hash, map(str.casefold, texts)))
    if part.first_ts is None:
        part.first_ts = next((t for t in times if t is not None), None)
    emotes.add_many(texts, users)
    return len(texts)


def text_hashes(texts: list[str]):
    """64-bit hashes of texts after case folding, the same in every process (for the overlap report)."""
    import numpy as np

    data = list(map(str.encode, map(str.casefold, texts)))
    high = np.fromiter(map(zlib.crc32, data), dtype=np.uint64, count=len(data))
    low = np.fromiter(map(zlib.adler32, data), dtype=np.uint64, count=len(data))
    return ((high << np.uint64(32)) | low).view(np.int64)


def _file_tasks(files: list[tuple[Path, Path]], valid_roots: set[Path], fmt, tmp: Path, cleaner_settings) -> list[_FileTask]:
    """A task per file, with a stream id unique among the files (chat.json in two folders = two streams)."""
    names: dict[str, int] = {}
    for path, _ in files:
        names[stream_name(path)] = names.get(stream_name(path), 0) + 1
    tasks = []
    used: set[str] = set()
    for index, (path, root) in enumerate(files):
        key = stream_name(path)
        if names[key] > 1:
            key = f"{path.parent.name}/{key}"
            base, n = key, 2
            while key in used:
                key, n = f"{base}#{n}", n + 1
        used.add(key)
        group = root.name if root.is_dir() and path.parent == root else path.parent.name
        tasks.append(_FileTask(index, path, group, key, root in valid_roots, fmt, tmp, *cleaner_settings))
    return tasks


def _run_tasks(tasks: list[_FileTask], workers: int, emotes):
    """Results of the tasks in their order; files are independent, so worker processes share them."""
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield _import_file(task, emotes)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the caller may have threads (the bot) or torch loaded. Biggest files
    # first, so no worker is left with a big one at the end; results come back in that order.
    biggest_first = sorted(tasks, key=lambda task: -task.path.stat().st_size)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from pool.map(_import_file, biggest_first)


def auto_workers(files: list[tuple[Path, Path]]) -> int:
    """Worker processes for an import: one per core (at most 4) on 4+ cores when there is enough to share.

    On 2 cores one process is as fast (benchmarks/import_speed.py): spawning workers and merging
    their counts costs what the second core gains, the more so when other jobs share the cores.
    """
    cores = os.cpu_count() or 1
    total = sum(path.stat().st_size for path, _ in files)
    if cores < 4 or len(files) < 4 or total < 16 * 1024 * 1024:
        return 1
    return min(4, cores)


class _Stream:
    """Everything known about one stream after the import: its parts, hashes, first time."""

    def __init__(self, info, channel: str | None):
        self.info = info  # split.StreamInfo
        self.channel = channel
        self.parts: list[Path] = []
        self.hashes: list[array] = []

    def add(self, part: _Part, source: str) -> None:
        # Parts in file order, whatever order worker processes finished them in.
        at = sum(1 for p in self.parts if _part_order(p) < _part_order(part.path))
        self.parts.insert(at, part.path)
        self.hashes.insert(at, part.hashes)
        self.info.messages += len(part.hashes)
        self.info.forced_valid = self.info.forced_valid or part.forced_valid
        if part.first_ts and (self.info.first_ts is None or part.first_ts < self.info.first_ts):
            self.info.first_ts = part.first_ts
        if source not in self.info.files:
            self.info.files.append(source)


def _part_order(path: Path) -> tuple[int, int]:
    file_index, part_index = path.stem.split("-")
    return int(file_index), int(part_index)


def _atomic_concat(pieces: list[tuple[Path, int, int | None]], target: Path) -> None:
    """Concatenate line ranges [start, stop) of files (stop None: to the end) into `target`, atomically."""
    with atomic_write(target, "wb") as out:
        for path, start, stop in pieces:
            with open(path, "rb") as handle:
                if start == 0 and stop is None:
                    shutil.copyfileobj(handle, out, 1 << 20)
                else:
                    out.writelines(islice(handle, start, stop))


def _stream_pieces(stream: _Stream, start: int, stop: int | None) -> list[tuple[Path, int, int | None]]:
    """Line ranges of a stream's part files covering its messages [start, stop)."""
    pieces = []
    offset = 0
    for path, hashes in zip(stream.parts, stream.hashes):
        size = len(hashes)
        lo = max(start, offset)
        hi = offset + size if stop is None else min(stop, offset + size)
        if lo < hi:
            pieces.append((path, lo - offset, None if hi == offset + size else hi - offset))
        offset += size
    return pieces


def prepare(
    inputs: list[Path],
    out_dir: Path,
    *,
    valid: list[Path] | None = None,
    fmt: str | None = None,
    bot_names: Iterable[str] = (),
    blocked_words: Iterable[str] = (),
    progress: bool = True,
    bot_name: str | None = None,
    workers: int | None = None,
) -> dict:
    """Import chat logs into `out_dir` (train.jsonl, valid.jsonl, emotes.txt, stats.json); return the stats.

    `valid` inputs form the validation set; without them the most recent streams (about 10 % of
    the messages) do. `bot_names` are bot accounts beside `cleaning.DEFAULT_BOTS`, `bot_name` the
    bot's own account; messages with a word of `blocked_words` are never learned. `workers`:
    processes that import files side by side (default `auto_workers`: 1 on 2 cores).
    """
    import numpy as np
    from tqdm import tqdm

    from trainer.ingest.emotes import EmoteStats
    from trainer.ingest.formats import resolve_format
    from trainer.ingest.split import StreamInfo, choose_validation, overlap

    started = time.perf_counter()
    out_dir = Path(out_dir)
    if fmt:
        try:
            fmt = resolve_format(fmt)
        except ValueError as error:
            raise StreamchatError(str(error)) from None
    inputs = [Path(p) for p in inputs]
    valid = [Path(p) for p in valid or ()]
    # --valid inputs first: a file named there and also inside an INPUT folder is validation only.
    files, problems = find_log_files(valid + inputs)
    # Never re-import an earlier output of this import (an INPUT folder may hold DIR).
    out_resolved = out_dir.resolve()
    files = [(path, root) for path, root in files if out_resolved not in path.resolve().parents]
    if not files:
        raise StreamchatError(
            "no log files to import: " + "; ".join(problems)
            + ". Give chat log files or folders (e.g. data/sample/ or data/raw/)."
        )
    tmp = out_dir / ".prepare-tmp"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    except OSError as error:
        raise StreamchatError(f"can't write to {out_dir} ({error.strerror}); choose another --out DIR") from None
    cleaner_settings = (tuple(b for b in bot_names if b and b.strip()), bot_name,
                        tuple(w for w in blocked_words if w and w.strip()))
    tasks = _file_tasks(files, set(valid), fmt, tmp, cleaner_settings)
    workers = auto_workers(files) if workers is None else max(1, workers)
    for task in tasks:
        task.stable_hashes = workers > 1
    index_of = {str(task.path): task.index for task in tasks}

    emote_stats = EmoteStats()
    streams: dict[str, _Stream] = {}
    reports: list[dict] = []
    drops: dict[str, int] = {}
    changes: dict[str, int] = {}
    try:
        total_bytes = sum(task.path.stat().st_size for task in tasks)
        with tqdm(total=total_bytes, unit="B", unit_scale=True, desc="prepare", disable=not progress,
                  file=sys.stderr, leave=False) as bar:
            for result in _run_tasks(tasks, workers, emote_stats):
                report = result.report
                reports.append(report)
                for key, value in result.drops.items():
                    drops[key] = drops.get(key, 0) + value
                for key, value in result.changes.items():
                    changes[key] = changes.get(key, 0) + value
                if result.emotes is not None:  # counted in a worker process
                    emote_stats.merge(result.emotes)
                for part in result.parts:
                    stream = streams.get(part.key)
                    if stream is None:
                        stream = streams[part.key] = _Stream(StreamInfo(part.key, part.group), part.channel)
                    stream.add(part, report["path"])
                bar.update(Path(report["path"]).stat().st_size)
                bar.set_postfix(messages=sum(r["messages"] for r in reports), refresh=False)
                if report["error"]:
                    logger.warning("%s: %s", report["path"], report["error"])
                for warning in report["warnings"]:
                    logger.warning("%s: %s", report["path"], warning)

        reports.sort(key=lambda r: index_of[r["path"]])  # worker results come biggest first
        plan = choose_validation([s.info for s in streams.values()])
        ordered = sorted(streams.values(), key=lambda s: s.info.order())
        train_pieces, valid_pieces = [], []
        train_hashes, valid_hashes = [], []
        for s in ordered:
            hashes = np.frombuffer(b"".join(h.tobytes() for h in s.hashes), dtype=np.int64)
            if s.info.key == plan.tail_of:
                train_pieces += _stream_pieces(s, 0, plan.tail_from)
                valid_pieces += _stream_pieces(s, plan.tail_from, None)
                train_hashes.append(hashes[: plan.tail_from])
                valid_hashes.append(hashes[plan.tail_from:])
            elif s.info.key in plan.valid:
                valid_pieces += _stream_pieces(s, 0, None)
                valid_hashes.append(hashes)
            else:
                train_pieces += _stream_pieces(s, 0, None)
                train_hashes.append(hashes)
        _atomic_concat(train_pieces, out_dir / TRAIN_FILE)
        _atomic_concat(valid_pieces, out_dir / VALID_FILE)
        train_h = np.concatenate(train_hashes) if train_hashes else np.zeros(0, np.int64)
        valid_h = np.concatenate(valid_hashes) if valid_hashes else np.zeros(0, np.int64)
        split_overlap = overlap(valid_h, train_h)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    statistical = emote_stats.statistical()
    emotes = emote_stats.vocabulary(statistical)
    write_text_atomic(out_dir / EMOTES_FILE, "".join(e + "\n" for e in emotes))
    elapsed = time.perf_counter() - started
    for report in reports:
        if report["stream"] is not None:
            held = report["stream"] in plan.valid and report["stream"] != plan.tail_of
            report["split"] = "valid" if held else "train"
    messages = sum(r["messages"] for r in reports)
    kept = sum(r["kept"] for r in reports)
    stats = {
        "stats_version": STATS_VERSION,
        "inputs": [str(p) for p in inputs],
        "valid_inputs": [str(p) for p in valid],
        "out_dir": str(out_dir),
        "format_override": fmt,
        "input_problems": problems,
        "totals": {
            "files": len(reports),
            "files_failed": sum(1 for r in reports if r["error"] and not r["messages"]),
            "lines": sum(r["lines"] for r in reports),
            "blank_lines": sum(r["blank_lines"] for r in reports),
            "log_lines": sum(r["log_lines"] for r in reports),
            "unparsed_lines": sum(r["unparsed_lines"] for r in reports),
            "messages": messages,
            "kept": kept,
            "train_messages": int(len(train_h)),
            "valid_messages": int(len(valid_h)),
            "dropped": dict(sorted(drops.items(), key=lambda kv: -kv[1])),
            "changed": dict(sorted(changes.items(), key=lambda kv: -kv[1])),
        },
        "formats": _count_by(reports, "format"),
        "split": {
            "method": plan.method,
            "train_streams": sum(1 for s in ordered if s.info.key not in plan.valid or s.info.key == plan.tail_of),
            "valid_streams": [s.info.key for s in ordered if s.info.key in plan.valid],
            "valid_fraction": round(len(valid_h) / max(1, len(valid_h) + len(train_h)), 4),
            "overlap": split_overlap,
        },
        "emotes": {"total": len(emotes), "marked": len(emote_stats.marked), "statistical": len(statistical)},
        "streams": [
            {"stream": s.info.key, "group": s.info.group, "channel": s.channel, "messages": s.info.messages,
             "first_ts": s.info.first_ts, "split": "valid" if s.info.key in plan.valid else "train"}
            for s in ordered
        ],
        "files": reports,
        "workers": workers,
        "elapsed_s": round(elapsed, 3),
        "messages_per_s": round(messages / elapsed) if elapsed > 0 else None,
    }
    write_json_atomic(out_dir / STATS_FILE, stats)
    if kept == 0:
        raise StreamchatError(
            f"no message survived the import ({messages} parsed); see {out_dir / STATS_FILE} "
            "for what each file held and why messages were dropped"
        )
    return stats


def _count_by(reports: list[dict], key: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for report in reports:
        if report[key]:
            counts[report[key]] = counts.get(report[key], 0) + 1
    return counts


def summary(stats: dict) -> str:
    """A short human summary of an import."""
    t = stats["totals"]
    s = stats["split"]
    o = s["overlap"]
    lines = [
        f"imported {t['messages']:,} messages from {t['files']} files "
        f"({', '.join(f'{n} {f}' for f, n in stats['formats'].items())}) in {stats['elapsed_s']:.1f} s "
        f"({stats['messages_per_s'] or 0:,} messages/s)",
        f"kept {t['kept']:,}: train {t['train_messages']:,} in {s['train_streams']} streams, "
        f"validation {t['valid_messages']:,} in {len(s['valid_streams'])} streams ({s['method']})",
        f"validation messages also in training: {o['in_train']:,} ({o['fraction']:.1%}); "
        f"distinct texts {o['distinct_in_train']:,} of {o['distinct_valid']:,} ({o['distinct_fraction']:.1%})",
    ]
    if t["dropped"]:
        lines.append("dropped: " + ", ".join(f"{k} {v:,}" for k, v in t["dropped"].items()))
    if t["changed"]:
        lines.append("changed: " + ", ".join(f"{k} {v:,}" for k, v in t["changed"].items()))
    skipped = t["blank_lines"] + t["log_lines"] + t["unparsed_lines"]
    if skipped:
        lines.append(f"lines that were no message: {t['log_lines']:,} logger lines, {t['blank_lines']:,} blank, "
                     f"{t['unparsed_lines']:,} of an unknown shape")
    lines.append(f"emotes: {stats['emotes']['total']:,} ({stats['emotes']['marked']:,} marked in the logs, "
                 f"{stats['emotes']['statistical']:,} found statistically)")
    for problem in stats["input_problems"]:
        lines.append(f"problem: {problem}")
    for report in stats["files"]:
        if report["error"]:
            lines.append(f"problem: {report['path']}: {report['error']}")
        for warning in report["warnings"]:
            lines.append(f"warning: {report['path']}: {warning}")
    out = Path(stats["out_dir"])
    lines.append(f"wrote {out / TRAIN_FILE}, {out / VALID_FILE}, {out / EMOTES_FILE}, {out / STATS_FILE}")
    return "\n".join(lines)


def register(subparsers) -> None:
    from trainer.ingest.formats import FORMATS

    aliases = [alias for spec in FORMATS.values() for alias in spec.aliases]
    parser = subparsers.add_parser(
        "prepare",
        help="import chat logs into a clean corpus split by stream",
        description="Import chat logs (files or folders; gzip and every common format detected per file) "
        "into DIR/train.jsonl, DIR/valid.jsonl, DIR/emotes.txt and DIR/stats.json.",
    )
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="log files or folders")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="where the corpus goes")
    parser.add_argument("--valid", nargs="+", type=Path, metavar="INPUT", default=None,
                        help="inputs that form the validation set (default: the most recent streams, ~10%%)")
    parser.add_argument("--format", dest="fmt", metavar="NAME", default=None,
                        help="read every file in this format instead of detecting it "
                        f"({', '.join(FORMATS)}; also {', '.join(aliases)})")
    parser.add_argument("--bots", default="", metavar="NAME,...",
                        help="more bot accounts whose messages are dropped (beside Nightbot, StreamElements, ...)")
    parser.add_argument("--bot-name", default=None, metavar="NAME", help="the bot's own account (its messages are dropped)")
    parser.add_argument("--block-words", type=Path, default=None, metavar="FILE",
                        help="a file of words, one a line: messages containing one are never learned")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="processes importing files side by side (default: 1 on 2 cores, one per core up to 4 on bigger machines)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args) -> int:
    from trainer.text import read_word_list

    blocked = read_word_list(args.block_words) if args.block_words is not None else []
    stats = prepare(
        args.inputs, args.out, valid=args.valid, fmt=args.fmt,
        bot_names=[b for b in args.bots.split(",") if b.strip()], blocked_words=blocked,
        progress=not args.no_progress and sys.stderr.isatty(), bot_name=args.bot_name, workers=args.workers,
    )
    print(summary(stats))
    return 0
