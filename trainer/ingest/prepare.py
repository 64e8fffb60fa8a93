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

import errno
import logging
import os
import shutil
import stat
import sys
import time
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import NamedTuple

from trainer.errors import StreamchatError
from trainer.corpus.records import EMOTES_FILE, STATS_FILE, TRAIN_FILE, VALID_FILE
from trainer.fsutil import atomic_write, write_json_atomic, write_text_atomic

logger = logging.getLogger(__name__)

# Extensions looked at inside folders (a file named on the command line is always read).
LOG_SUFFIXES = {".txt", ".log", ".json", ".jsonl", ".csv", ".tsv", ".srt", ".ssa", ".ass", ".gz", ".irc"}
STATS_VERSION = 1


def find_log_files(inputs: Iterable[Path]) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(file, the input it came from) for every log file; and problems with the inputs.

    Whatever can't be read is named with the reason: an unreadable folder, a FIFO or device, a
    link that leads nowhere or to itself. A missing INPUT is refused earlier (`check_inputs`).
    """
    found: list[tuple[Path, Path]] = []
    problems: list[str] = []
    seen: set[Path] = set()

    def add(path: Path, root: Path) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            found.append((path, root))

    for root in inputs:
        root = Path(root)
        if root.is_dir():
            files = _folder_log_files(root, problems)
            if not files:
                problems.append(
                    f"{root}: folder with no log files (looked for {', '.join(sorted(LOG_SUFFIXES))}, "
                    "in subfolders too); point prepare at the files or the folder that holds them"
                )
            for path in files:
                add(path, root)
        elif root.is_file():
            add(root, root)
        else:
            problems.append(f"{root}: {_not_a_file(root)}")
    return found, problems


def _folder_log_files(root: Path, problems: list[str]) -> list[Path]:
    """The log files under folder `root` (hidden ones and READMEs left out); what can't be read goes to `problems`."""
    files = []

    def unreadable(error: OSError) -> None:
        problems.append(f"{error.filename}: can't read this folder ({error.strerror}); its files were skipped")

    for folder, subfolders, names in os.walk(root, onerror=unreadable):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(names):
            path = Path(folder) / name
            if name.startswith(".") or path.suffix.lower() not in LOG_SUFFIXES or name.lower().startswith("readme"):
                continue
            if path.is_file():
                files.append(path)
            else:
                problems.append(f"{path}: {_not_a_file(path)}; skipped")
    return files


def _not_a_file(path: Path) -> str:
    """Why `path`, which is no regular file or folder, can't be imported."""
    try:
        mode = path.lstat().st_mode
    except OSError as error:
        return f"can't be read ({error.strerror})" if error.errno != errno.ENOENT else "no such file or folder"
    if stat.S_ISLNK(mode):
        try:
            path.resolve(strict=True)
        except RuntimeError:
            return "a symbolic link that leads back to itself"
        except OSError:
            return f"a symbolic link to {os.readlink(path)}, which doesn't exist"
        return "a symbolic link to something that is no file or folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not a log file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a log file"
    return "a device or other special file, not a log file"


def check_inputs(inputs: list[Path], valid: list[Path], out_dir: Path) -> None:
    """Refuse, before any work, inputs that don't exist and an --out that would overwrite an input."""
    missing = [p for p in valid + inputs if not os.path.lexists(p)]
    if missing:
        raise StreamchatError(f"no such file or folder: {', '.join(map(str, missing))}; check the name")
    out = out_dir.resolve()
    for path in valid + inputs:
        named = Path(os.path.realpath(path))  # (a link loop is named later, not raised here)
        if named == out or out in named.parents:
            raise StreamchatError(
                f"--out {out_dir} holds the input {path}: prepare replaces what is in --out, so it would overwrite "
                "the logs it reads; choose a new folder for the corpus"
            )


class _Stream:
    """Everything known about one stream after the import: its parts, hashes, first time."""

    def __init__(self, info, channel: str | None):
        self.info = info  # split.StreamInfo
        self.channel = channel
        self.parts: list[Path] = []
        self.hashes: list[array] = []

    def add(self, part, source: str) -> None:
        """Add a `fileimport.Part` of this stream, read from `source`."""
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


class _Lines(NamedTuple):
    """Lines [start, stop) of a part file; stop None: to its end."""

    path: Path
    start: int
    stop: int | None


def _atomic_concat(pieces: list[_Lines], target: Path) -> None:
    """Concatenate line ranges of part files into `target`, atomically."""
    with atomic_write(target, "wb") as out:
        for path, start, stop in pieces:
            with open(path, "rb") as handle:
                if start == 0 and stop is None:
                    shutil.copyfileobj(handle, out, 1 << 20)
                else:
                    out.writelines(islice(handle, start, stop))


def _stream_pieces(stream: _Stream, start: int, stop: int | None) -> list[_Lines]:
    """Line ranges of a stream's part files covering its messages [start, stop)."""
    pieces = []
    offset = 0
    for path, hashes in zip(stream.parts, stream.hashes):
        size = len(hashes)
        lo = max(start, offset)
        hi = offset + size if stop is None else min(stop, offset + size)
        if lo < hi:
            pieces.append(_Lines(path, lo - offset, None if hi == offset + size else hi - offset))
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
    from trainer.ingest.fileimport import CleanerSettings, auto_workers, file_tasks

    started = time.perf_counter()
    out_dir = Path(out_dir)
    fmt = _known_format(fmt)
    inputs = [Path(p) for p in inputs]
    valid = [Path(p) for p in valid or ()]
    check_inputs(inputs, valid, out_dir)
    files, problems = _files_to_import(inputs, valid, out_dir)
    tmp = _workspace(out_dir)
    files = _apply_policies(files, tmp)
    workers = auto_workers(files) if workers is None else max(1, workers)
    settings = CleanerSettings(tuple(b for b in bot_names if b and b.strip()), bot_name,
                               tuple(w for w in blocked_words if w and w.strip()))
    tasks = file_tasks(files, set(valid), fmt, tmp, settings, stable_hashes=workers > 1)
    try:
        imported = _import_files(tasks, workers, progress)
        statistical = imported.emotes.statistical()
        emotes = imported.emotes.vocabulary(statistical)
        _scrub_names(imported, emotes, stable_hashes=workers > 1)
        split = _write_split(imported.streams, out_dir)
        write_text_atomic(out_dir / EMOTES_FILE, "".join(e + "\n" for e in emotes))
        stats = _stats(
            inputs=inputs, valid=valid, out_dir=out_dir, fmt=fmt, problems=problems, imported=imported, split=split,
            emotes={"total": len(emotes), "marked": len(imported.emotes.marked), "statistical": len(statistical)},
            workers=workers, elapsed=time.perf_counter() - started,
        )
        from trainer.ingest.cleaning import DEFAULT_BOTS

        stats["bot_like_accounts"] = [
            {"account": user, "templated_lines": count, "messages": total}
            for user, count, total in imported.bots.found([*DEFAULT_BOTS, *bot_names, *([bot_name] if bot_name else [])])
        ]
        write_json_atomic(out_dir / STATS_FILE, stats)
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise StreamchatError(
            f"the disk of {out_dir} is full ({error.strerror}); each file there is whole (old or new), but they may "
            "not belong together — free some space or choose another --out, and run prepare again"
        ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if stats["totals"]["kept"] == 0:
        raise StreamchatError(
            f"no message survived the import ({stats['totals']['messages']} parsed); see {out_dir / STATS_FILE} "
            "for what each file held and why messages were dropped"
        )
    return stats


def _known_format(fmt: str | None) -> str | None:
    """The `--format` override by its own name (aliases resolved); StreamchatError for an unknown one."""
    if not fmt:
        return fmt
    from trainer.ingest.formats import resolve_format

    try:
        return resolve_format(fmt)
    except ValueError as error:
        raise StreamchatError(str(error)) from None


def _files_to_import(inputs: list[Path], valid: list[Path], out_dir: Path) -> tuple[list[tuple[Path, Path]], list[str]]:
    """The log files of the inputs, `--valid` ones first (a file named there and also inside an
    INPUT folder is validation only), never an earlier output of this import; and the problems."""
    files, problems = find_log_files(valid + inputs)
    out_resolved = out_dir.resolve()
    files = [(path, root) for path, root in files if out_resolved not in path.resolve().parents]
    if not files:
        raise StreamchatError(
            "no log files to import: " + "; ".join(problems)
            + ". Give chat log files or folders (e.g. data/sample/ or data/raw/)."
        )
    return files, problems


def _apply_policies(files: list[tuple[Path, Path]], tmp: Path) -> list[tuple[Path, Path]]:
    """The files, with the bot's collected ones (a folder holding a privacy policy) replaced by
    copies in `tmp` of only the records their channel's policy lets a model learn: opt-outs,
    forgotten users, deletions, ban clears and blocked words hold however the collected chat is
    imported (`prepare <collect folder>`, `retrain --also`), and an unreadable policy lets
    nothing through."""
    from trainer.corpus.privacy import POLICY_FILE, PolicyStore
    from trainer.corpus.records import read_records, write_records
    from trainer.ingest.cleaning import blocked_word_pattern

    out = []
    policies: dict[Path, object] = {}
    for index, (path, root) in enumerate(files):
        folder = path.parent
        if not (folder / POLICY_FILE).exists():
            out.append((path, root))
            continue
        if folder not in policies:
            policies[folder] = PolicyStore(folder).load()
            if policies[folder].problem:
                logger.warning("%s: learning nothing from this folder: %s", folder, policies[folder].problem)
        policy = policies[folder]
        blocked = blocked_word_pattern(policy.blocked_words)
        copy = tmp / "policy" / str(index) / folder.name / path.name
        write_records(copy, [r for r in read_records(path) if policy.may_learn(r)
                             and (blocked is None or not blocked.search(r.text))])
        out.append((copy, copy.parent if root == folder else root))
    return out


def _workspace(out_dir: Path) -> Path:
    """An empty `.prepare-tmp` folder in `out_dir` for the stream part files."""
    tmp = out_dir / ".prepare-tmp"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    except OSError as error:
        raise StreamchatError(f"can't write to {out_dir} ({error.strerror}); choose another --out DIR") from None
    return tmp


@dataclass
class _Imported:
    """Everything the files gave: their reports (in input order), streams and summed counts."""

    reports: list[dict]
    streams: dict[str, _Stream]
    drops: dict[str, int]
    changes: dict[str, int]
    emotes: object  # emotes.EmoteStats
    users: set = field(default_factory=set)  # every chatter of every file
    bots: object = None  # cleaning.BotLikeAccounts


def _import_files(tasks: list, workers: int, progress: bool) -> _Imported:
    """Run every file's import (side by side with workers), merging the results as they come."""
    from tqdm import tqdm

    from trainer.ingest.cleaning import BotLikeAccounts
    from trainer.ingest.emotes import EmoteStats
    from trainer.ingest.fileimport import run_tasks
    from trainer.ingest.split import StreamInfo

    imported = _Imported([], {}, {}, {}, EmoteStats(), bots=BotLikeAccounts())
    index_of = {str(task.path): task.index for task in tasks}
    total_bytes = sum(task.path.stat().st_size for task in tasks)
    with tqdm(total=total_bytes, unit="B", unit_scale=True, desc="prepare", disable=not progress,
              file=sys.stderr, leave=False) as bar:
        for result in run_tasks(tasks, workers, imported.emotes):
            report = result.report
            imported.reports.append(report)
            _add_counts(imported.drops, result.drops)
            _add_counts(imported.changes, result.changes)
            imported.users |= result.users
            imported.bots.merge(result.bots)
            if result.emotes is not None:  # counted in a worker process
                imported.emotes.merge(result.emotes)
            for part in result.parts:
                stream = imported.streams.get(part.key)
                if stream is None:
                    stream = imported.streams[part.key] = _Stream(StreamInfo(part.key, part.group), part.channel)
                stream.add(part, report["path"])
            bar.update(Path(report["path"]).stat().st_size)
            bar.set_postfix(messages=sum(r["messages"] for r in imported.reports), refresh=False)
            if report["error"]:
                logger.warning("%s: %s", report["path"], report["error"])
            for warning in report["warnings"]:
                logger.warning("%s: %s", report["path"], warning)
    imported.reports.sort(key=lambda r: index_of[r["path"]])  # worker results come biggest first
    return imported


def _scrub_names(imported: _Imported, emotes: list[str], stable_hashes: bool) -> None:
    """Replace every chatter's login in the kept messages, now that every chatter and emote of
    the import is known (see `cleaning.NameScrubber`); a message left as only `@user` goes.

    The cleaner already replaced the names of each stream's own chatters; this catches the rest
    (a name typed in another stream, a name written like an emote). Part files holding a name
    are rewritten with their hashes, and the counts follow.
    """
    import json

    from trainer.ingest.cleaning import CHANGE_USERNAME, DROP_MENTION_ONLY, MENTION, NameScrubber
    from trainer.ingest.fileimport import text_hashes

    channels = {s.channel for s in imported.streams.values()} | {r["channel"] for r in imported.reports}
    scrubber = NameScrubber(imported.users, emotes=emotes, channels=filter(None, channels))
    if not scrubber.names:
        return
    for stream in imported.streams.values():
        for i, path in enumerate(stream.parts):
            with open(path, encoding="utf-8") as handle:
                lines = handle.readlines()
            if not any(scrubber.has_name(line) for line in lines):
                continue
            kept, texts = [], []
            for line in lines:
                record = json.loads(line)
                if scrubber.has_name(record["text"]):
                    record["text"] = scrubber.scrub(record["text"])
                    if record["text"] == MENTION:
                        _add_counts(imported.drops, {DROP_MENTION_ONLY: 1})
                        report = imported.reports[_part_order(path)[0]]
                        report["kept"] -= 1
                        _add_counts(report["dropped"], {DROP_MENTION_ONLY: 1})
                        continue
                    line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
                kept.append(line)
                texts.append(record["text"])
            with atomic_write(path, "w", encoding="utf-8") as out:
                out.writelines(kept)
            stream.info.messages -= len(stream.hashes[i]) - len(kept)
            # hashed as the import hashed them (see fileimport._write_run)
            stream.hashes[i] = (array("q", text_hashes(texts).tobytes()) if stable_hashes
                                else array("q", map(hash, map(str.casefold, texts))))
    if scrubber.replaced:
        _add_counts(imported.changes, {CHANGE_USERNAME: scrubber.replaced})


def _add_counts(total: dict[str, int], counts: dict[str, int]) -> None:
    for key, value in counts.items():
        total[key] = total.get(key, 0) + value


@dataclass
class _Split:
    plan: object  # split.ValidationPlan
    ordered: list[_Stream]  # oldest stream first
    train_messages: int
    valid_messages: int
    overlap: dict  # split.overlap: validation messages also in training


def _write_split(streams: dict[str, _Stream], out_dir: Path) -> _Split:
    """Choose the validation streams and write train.jsonl and valid.jsonl from the part files."""
    import numpy as np

    from trainer.ingest.split import choose_validation, overlap

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
    return _Split(plan, ordered, int(len(train_h)), int(len(valid_h)), overlap(valid_h, train_h))


def _stats(*, inputs, valid, out_dir, fmt, problems, imported: _Imported, split: _Split, emotes: dict,
           workers: int, elapsed: float) -> dict:
    """What `stats.json` says about the import: totals, formats, the split, every file and stream."""
    reports, plan, ordered = imported.reports, split.plan, split.ordered
    for report in reports:
        if report["stream"] is not None:
            held = report["stream"] in plan.valid and report["stream"] != plan.tail_of
            report["split"] = "valid" if held else "train"
    messages = sum(r["messages"] for r in reports)
    return {
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
            "kept": sum(r["kept"] for r in reports),
            "train_messages": split.train_messages,
            "valid_messages": split.valid_messages,
            "dropped": dict(sorted(imported.drops.items(), key=lambda kv: -kv[1])),
            "changed": dict(sorted(imported.changes.items(), key=lambda kv: -kv[1])),
        },
        "formats": _count_by(reports, "format"),
        "split": {
            "method": plan.method,
            "train_streams": sum(1 for s in ordered if s.info.key not in plan.valid or s.info.key == plan.tail_of),
            "valid_streams": [s.info.key for s in ordered if s.info.key in plan.valid],
            "valid_fraction": round(split.valid_messages / max(1, split.valid_messages + split.train_messages), 4),
            "overlap": split.overlap,
        },
        "emotes": emotes,
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
    bots = stats.get("bot_like_accounts") or []
    if bots:
        lines.append("accounts that look like bots (many near-identical templated lines): " + ", ".join(
            f"{b['account']} ({b['templated_lines']:,} of {b['messages']:,})" for b in bots))
        lines.append(f"  to drop their messages, prepare again with --bots {','.join(b['account'] for b in bots)}")
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
