"""`python -m trainer prepare INPUT... --out DIR`: chat logs in, a clean corpus split by stream out.

The pipeline, one file at a time (memory stays flat in the size of the input):

1. find the log files in the inputs (folders recursively, by extension; gzip read transparently);
2. per file: detect the format (`trainer.logformats`), parse it, clean every message
   (`trainer.cleaning`), count emotes (`trainer.emotes`), and append the kept messages as corpus
   records (`trainer.records`) to a temporary file of their stream;
3. choose the validation streams (`trainer.split`), then concatenate the stream files into
   `DIR/train.jsonl` and `DIR/valid.jsonl`, oldest stream first, and write `DIR/emotes.txt` and
   `DIR/stats.json` (per file: format, lines read, messages kept, drops by reason).

A file that can't be read is reported with what was wrong and skipped; every other file is
still imported. Every line read is accounted for in the stats (blank, logger lines, unknown
shape, or a message that was kept or dropped for a counted reason).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from array import array
from collections.abc import Iterable
from itertools import chain, groupby, islice
from operator import itemgetter
from json.encoder import encode_basestring as _json_string
from pathlib import Path

from trainer.errors import StreamchatError
from trainer.records import EMOTES_FILE, STATS_FILE, TRAIN_FILE, VALID_FILE

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


class _Stream:
    """One stream's kept records while importing: a temporary file and its message hashes."""

    __slots__ = ("index", "info", "path", "hashes", "channel")

    def __init__(self, index: int, info, path: Path, channel: str | None):
        self.index = index
        self.info = info
        self.path = path
        self.hashes = array("q")  # hash of each kept text (case-folded), for the overlap report
        self.channel = channel


class _Importer:
    def __init__(self, out_dir: Path, fmt, cleaner, emote_stats):
        from trainer.split import StreamInfo

        self.StreamInfo = StreamInfo
        self.fmt = fmt
        self.cleaner = cleaner
        self.emotes = emote_stats
        self.tmp = out_dir / ".prepare-tmp"
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.streams: dict[str, _Stream] = {}
        self.files: list[dict] = []
        self.messages = 0
        self.kept = 0

    def stream(self, key: str, group: str, channel: str | None, forced_valid: bool, path: Path) -> _Stream:
        stream = self.streams.get(key)
        if stream is None:
            info = self.StreamInfo(key=key, group=group, forced_valid=forced_valid)
            stream = _Stream(len(self.streams), info, self.tmp / f"{len(self.streams)}.jsonl", channel)
            self.streams[key] = stream
        if str(path) not in stream.info.files:
            stream.info.files.append(str(path))
        stream.info.forced_valid = stream.info.forced_valid or forced_valid
        return stream

    def file_stream_key(self, path: Path, info) -> str:
        key = info.stream or stream_name(path)
        existing = self.streams.get(key)
        if existing is not None and str(path) not in existing.info.files and existing.info.files:
            # Two files with the same name (e.g. chat.json in two folders) are two streams.
            key = f"{path.parent.name}/{key}"
            n = 2
            base = key
            while key in self.streams and str(path) not in self.streams[key].info.files:
                key = f"{base}#{n}"
                n += 1
        return key

    def import_file(self, path: Path, root: Path, forced_valid: bool) -> dict:
        from trainer.logformats import LogProblem, open_log

        report: dict = {"path": str(path), "format": None, "encoding": None, "stream": None,
                        "channel": None, "lines": 0, "messages": 0, "kept": 0, "dropped": {},
                        "blank_lines": 0, "log_lines": 0, "unparsed_lines": 0, "warnings": [], "error": None}
        self.files.append(report)
        try:
            source = open_log(path, self.fmt)
        except LogProblem as error:
            report["error"] = str(error)
            return report
        info = source.info
        report["format"] = info.format
        report["encoding"] = info.encoding
        cleaner = self.cleaner
        drops_before = dict(cleaner.drops)
        cleaner.start_stream()
        messages = source.messages
        stream = None
        group_default = root.name if root.is_dir() and path.parent == root else path.parent.name
        n_messages = 0
        n_kept = 0
        try:
            while True:
                chunk = list(islice(messages, CHUNK))
                if not chunk:
                    break
                n_messages += len(chunk)
                if stream is None:
                    key = self.file_stream_key(path, info)
                    stream = self.stream(key, info.channel or group_default, info.channel, forced_valid, path)
                cleaner.add_names([m[0] for m in chunk])
                marked = [m[4] for m in chunk if m[4]]
                if marked:
                    self.emotes.add_marked(chain.from_iterable(marked))
                n_kept += self._write_chunk(chunk, stream, info, group_default, forced_valid, path)
        except LogProblem as error:
            report["error"] = str(error)
        except (OSError, EOFError) as error:
            report["error"] = f"read failed after {info.lines} lines ({error}); the messages before it were imported"
        report["stream"] = stream.info.key if stream else None
        report["channel"] = info.channel
        report["lines"] = info.lines
        report["messages"] = n_messages
        report["kept"] = n_kept
        report["blank_lines"] = info.blank
        report["log_lines"] = info.meta_lines
        report["unparsed_lines"] = info.unparsed
        if info.unparsed:
            info.warnings.append(
                f"{info.unparsed} lines of an unknown shape for format {info.format} were skipped "
                f"(e.g. {'; '.join(info.unparsed_examples)})"
            )
        report["warnings"] = info.warnings
        report["dropped"] = {k: v - drops_before.get(k, 0) for k, v in cleaner.drops.items() if v - drops_before.get(k, 0)}
        self.messages += n_messages
        self.kept += n_kept
        return report

    def _write_chunk(self, chunk, stream, info, group_default, forced_valid, path) -> int:
        """Clean a chunk of parsed messages and append the kept ones to their stream's file."""
        if info.format in ("corpus", "irc"):
            # These name their own stream/channel per message: split the chunk into runs.
            written = 0
            for (channel, key), run in groupby(chunk, key=itemgetter(7, 8)):
                target = stream
                if key is not None or channel is not None:
                    key = key if key is not None else stream.info.key
                    channel = channel if channel is not None else info.channel
                    if key != stream.info.key or channel != stream.channel:
                        target = self.stream(key, channel or group_default, channel, forced_valid, path)
                        target.channel = channel
                written += self._write_run(list(run), target)
            return written
        return self._write_run(chunk, stream)

    def _write_run(self, messages, stream: _Stream) -> int:
        texts, users, times = self.cleaner.clean_many(messages)
        if not texts:
            return 0
        # Batched, C-speed work: the JSON lines, overlap hashes, emote counts.
        encoded = map(_json_string, texts)
        head = '{"text":%s' + self._prefix(stream).replace("%", "%%") + "%s}\n"
        stamps = ["null" if t is None else _json_string(t) for t in times]
        with open(stream.path, "a", encoding="utf-8") as handle:
            handle.write("".join(map(head.__mod__, zip(encoded, stamps))))
        stream.hashes.extend(map(hash, map(str.casefold, texts)))
        if stream.info.first_ts is None:
            stream.info.first_ts = next((t for t in times if t is not None), None)
        self.emotes.add_many(texts, users)
        return len(texts)

    @staticmethod
    def _prefix(stream: _Stream) -> str:
        channel = "null" if stream.channel is None else _json_string(stream.channel)
        return f',"channel":{channel},"stream":{_json_string(stream.info.key)},"ts":'


def _atomic_concat(parts: list[tuple[Path, int | None, int | None]], target: Path) -> None:
    """Concatenate whole files or line ranges (start, stop) of them into `target`, atomically."""
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "wb") as out:
        for path, start, stop in parts:
            if start is None and stop is None:
                with open(path, "rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 20)
            else:
                with open(path, "rb") as handle:
                    out.writelines(islice(handle, start, stop))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, target)


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
) -> dict:
    """Import chat logs into `out_dir` (train.jsonl, valid.jsonl, emotes.txt, stats.json); return the stats.

    `valid` inputs form the validation set; without them the most recent streams (about 10 % of
    the messages) do. `bot_names` are bot accounts beside `cleaning.DEFAULT_BOTS`, `bot_name` the
    bot's own account; messages with a word of `blocked_words` are never learned.
    """
    import numpy as np
    from tqdm import tqdm

    from trainer.cleaning import MessageCleaner
    from trainer.emotes import EmoteStats
    from trainer.logformats import resolve_format
    from trainer.split import choose_validation, overlap

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
    valid_roots = {Path(p) for p in valid}
    if not files:
        raise StreamchatError(
            "no log files to import: " + "; ".join(problems)
            + ". Give chat log files or folders (e.g. data/sample/ or data/raw/)."
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    cleaner = MessageCleaner(bot_names=bot_names, own_name=bot_name, blocked_words=blocked_words)
    emote_stats = EmoteStats()
    importer = _Importer(out_dir, fmt, cleaner, emote_stats)
    try:
        total_bytes = sum(path.stat().st_size for path, _ in files)
        with tqdm(total=total_bytes, unit="B", unit_scale=True, desc="prepare", disable=not progress,
                  file=sys.stderr, leave=False) as bar:
            for path, root in files:
                report = importer.import_file(path, root, root in valid_roots)
                bar.update(path.stat().st_size)
                bar.set_postfix(messages=importer.messages, refresh=False)
                if report["error"]:
                    logger.warning("%s: %s", path, report["error"])
                for warning in report["warnings"]:
                    logger.warning("%s: %s", path, warning)

        streams = [s for s in importer.streams.values() if len(s.hashes)]
        for s in streams:
            s.info.messages = len(s.hashes)
        plan = choose_validation([s.info for s in streams])
        ordered = sorted(streams, key=lambda s: s.info.order())
        train_parts, valid_parts = [], []
        train_hashes, valid_hashes = [], []
        for s in ordered:
            hashes = np.frombuffer(s.hashes, dtype=np.int64) if len(s.hashes) else np.zeros(0, np.int64)
            if s.info.key == plan.tail_of:
                train_parts.append((s.path, 0, plan.tail_from))
                valid_parts.append((s.path, plan.tail_from, None))
                train_hashes.append(hashes[: plan.tail_from])
                valid_hashes.append(hashes[plan.tail_from:])
            elif s.info.key in plan.valid:
                valid_parts.append((s.path, None, None))
                valid_hashes.append(hashes)
            else:
                train_parts.append((s.path, None, None))
                train_hashes.append(hashes)
        _atomic_concat(train_parts, out_dir / TRAIN_FILE)
        _atomic_concat(valid_parts, out_dir / VALID_FILE)
        train_h = np.concatenate(train_hashes) if train_hashes else np.zeros(0, np.int64)
        valid_h = np.concatenate(valid_hashes) if valid_hashes else np.zeros(0, np.int64)
        split_overlap = overlap(valid_h, train_h)
    finally:
        shutil.rmtree(importer.tmp, ignore_errors=True)

    statistical = emote_stats.statistical()
    emotes = emote_stats.vocabulary(statistical)
    (out_dir / EMOTES_FILE).write_text("".join(e + "\n" for e in emotes), encoding="utf-8")
    elapsed = time.perf_counter() - started
    file_reports = importer.files
    valid_keys = plan.valid
    for report in file_reports:
        if report["stream"] is not None:
            report["split"] = "valid" if report["stream"] in valid_keys and report["stream"] != plan.tail_of else "train"
    totals_dropped: dict[str, int] = dict(sorted(cleaner.drops.items(), key=lambda kv: -kv[1]))
    stats = {
        "stats_version": STATS_VERSION,
        "inputs": [str(p) for p in inputs],
        "valid_inputs": [str(p) for p in valid],
        "out_dir": str(out_dir),
        "format_override": fmt,
        "input_problems": problems,
        "totals": {
            "files": len(file_reports),
            "files_failed": sum(1 for r in file_reports if r["error"] and not r["messages"]),
            "lines": sum(r["lines"] for r in file_reports),
            "blank_lines": sum(r["blank_lines"] for r in file_reports),
            "log_lines": sum(r["log_lines"] for r in file_reports),
            "unparsed_lines": sum(r["unparsed_lines"] for r in file_reports),
            "messages": importer.messages,
            "kept": importer.kept,
            "train_messages": int(len(train_h)),
            "valid_messages": int(len(valid_h)),
            "dropped": totals_dropped,
            "changed": dict(sorted(cleaner.changes.items(), key=lambda kv: -kv[1])),
        },
        "formats": _count_by(file_reports, "format"),
        "split": {
            "method": plan.method,
            "train_streams": sum(1 for s in streams if s.info.key not in plan.valid or s.info.key == plan.tail_of),
            "valid_streams": sorted(plan.valid, key=lambda k: importer.streams[k].info.order()),
            "valid_fraction": round(len(valid_h) / max(1, len(valid_h) + len(train_h)), 4),
            "overlap": split_overlap,
        },
        "emotes": {"total": len(emotes), "marked": len(emote_stats.marked),
                   "statistical": len(statistical)},
        "streams": [
            {"stream": s.info.key, "group": s.info.group, "channel": s.channel, "messages": len(s.hashes),
             "first_ts": s.info.first_ts, "split": "valid" if s.info.key in plan.valid else "train"}
            for s in ordered
        ],
        "files": file_reports,
        "elapsed_s": round(elapsed, 3),
        "messages_per_s": round(importer.messages / elapsed) if elapsed > 0 else None,
    }
    tmp = out_dir / (STATS_FILE + ".tmp")
    tmp.write_text(json.dumps(stats, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out_dir / STATS_FILE)
    if stats["totals"]["kept"] == 0:
        raise StreamchatError(
            f"no message survived the import ({stats['totals']['messages']} parsed); see {out_dir / STATS_FILE} "
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
                        "(tcd, tcd-srt, tcd-ssa, tcd-json, twitchdownloader-json, twitchdownloader-txt, gql, "
                        "chat-downloader, chatterino, justlog, justlog-json, irc, tsv, csv, irc-client, corpus, plain)")
    parser.add_argument("--bots", default="", metavar="NAME,...",
                        help="more bot accounts whose messages are dropped (beside Nightbot, StreamElements, ...)")
    parser.add_argument("--bot-name", default=None, metavar="NAME", help="the bot's own account (its messages are dropped)")
    parser.add_argument("--block-words", type=Path, default=None, metavar="FILE",
                        help="a file of words, one a line: messages containing one are never learned")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args) -> int:
    from trainer.cleaning import read_word_list

    blocked: list[str] = []
    if args.block_words is not None:
        try:
            blocked = read_word_list(args.block_words)
        except OSError as error:
            raise StreamchatError(f"can't read the blocked-words file {args.block_words} ({error.strerror})") from None
    stats = prepare(
        args.inputs, args.out, valid=args.valid, fmt=args.fmt,
        bot_names=[b for b in args.bots.split(",") if b.strip()], blocked_words=blocked,
        progress=not args.no_progress and sys.stderr.isatty(), bot_name=args.bot_name,
    )
    print(summary(stats))
    return 0
