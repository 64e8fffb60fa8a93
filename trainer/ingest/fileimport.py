"""Importing one log file: parse it, clean its messages, and append each stream's kept records
to a part file, counting everything for the stats.

`prepare` makes a `FileTask` per file (`file_tasks`) and runs them in this process or in
worker processes (`run_tasks`); each gives back a `FileResult`: the file's report, its `Part`s
(one per stream it holds) and its counts. Messages are parsed a chunk ahead, so the usernames
of a chunk are known before it is cleaned.
"""

from __future__ import annotations

import errno
import os
import zlib
from array import array
from dataclasses import dataclass, field
from itertools import chain, groupby, islice
from operator import attrgetter
from pathlib import Path
from typing import NamedTuple

from trainer.corpus.records import stream_lines

CHUNK = 20_000  # messages parsed ahead, so usernames of the chunk are known before cleaning it


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


class CleanerSettings(NamedTuple):
    """What the cleaner of every file of an import needs (see `cleaning.MessageCleaner`)."""

    bots: tuple = ()
    own_name: str | None = None
    blocked: tuple = ()


@dataclass
class FileTask:
    """One file to import, with everything a worker process needs."""

    index: int
    path: Path
    group: str  # the stream group when the log doesn't name its channel: the folder it came from
    key: str  # the stream id when the log doesn't name one (unique among the files)
    forced_valid: bool
    fmt: str | None
    tmp: Path
    cleaner: CleanerSettings
    stable_hashes: bool = False  # True when worker processes import files side by side


@dataclass
class Part:
    """The kept records of one stream from one file: a temporary file and their text hashes."""

    key: str
    channel: str | None
    group: str
    forced_valid: bool
    path: Path
    hashes: array = field(default_factory=lambda: array("q"))  # hash of each text, case-folded
    first_ts: str | None = None


@dataclass
class FileResult:
    report: dict
    parts: list[Part]
    emotes: object  # EmoteStats
    drops: dict
    changes: dict
    users: set = field(default_factory=set)  # every chatter of the file, kept or not (for names)
    bots: object = None  # cleaning.BotLikeAccounts: templated lines per account


_cleaners: dict = {}


def _cleaner_for(task: FileTask):
    """One MessageCleaner per settings and process (the blocked-word pattern compiles once)."""
    from trainer.ingest.cleaning import MessageCleaner

    cleaner = _cleaners.get(task.cleaner)
    if cleaner is None:
        cleaner = _cleaners[task.cleaner] = MessageCleaner(*task.cleaner)
    cleaner.drops = {}
    cleaner.changes = {}
    cleaner.start_stream()
    return cleaner


class _FileStreams:
    """The parts of one file: one per stream (and channel) its messages belong to."""

    def __init__(self, task: FileTask):
        self.task = task
        self.parts: dict[str, Part] = {}

    def part(self, key: str, channel: str | None) -> Part:
        part = self.parts.get(key)
        if part is not None and part.channel != channel:
            key = f"{channel}/{key}"  # one stream per channel (a raw IRC capture of several)
            part = self.parts.get(key)
        if part is None:
            task = self.task
            part = self.parts[key] = Part(key, channel, channel or task.group, task.forced_valid,
                                          task.tmp / f"{task.index}-{len(self.parts)}.jsonl")
        return part


def _new_report(path: Path) -> dict:
    return {"path": str(path), "format": None, "encoding": None, "stream": None,
            "channel": None, "lines": 0, "messages": 0, "kept": 0, "dropped": {},
            "blank_lines": 0, "log_lines": 0, "unparsed_lines": 0, "failed_lines": 0, "too_long_lines": 0,
            "undecodable_bytes": 0, "warnings": [], "error": None}


def import_file(task: FileTask, emotes=None) -> FileResult:
    """Parse, clean and write one file (in a worker process, or in this one counting into `emotes`)."""
    from trainer.ingest.cleaning import BotLikeAccounts
    from trainer.ingest.emotes import EmoteStats
    from trainer.ingest.formats import LogProblem, describe, open_log

    report = _new_report(task.path)
    cleaner = _cleaner_for(task)
    result = FileResult(report, [], None if emotes else EmoteStats(), cleaner.drops, cleaner.changes,
                        bots=BotLikeAccounts())
    emotes = emotes or result.emotes
    try:
        source = open_log(task.path, task.fmt)
    except LogProblem as error:
        report["error"] = str(error)
        return result
    except Exception as error:  # whatever else a file holds costs that file only
        report["error"] = f"can't be read ({describe(error)})"
        return result
    info = source.info
    report.update(format=info.format, encoding=info.encoding)
    streams = _FileStreams(task)
    default = None  # the file's own stream, known after the first chunk
    n_messages = n_kept = 0
    try:
        while chunk := list(islice(source.messages, CHUNK)):
            n_messages += len(chunk)
            if default is None:  # after the first chunk: JSON and headers have named stream/channel
                default = streams.part(info.stream or task.key, info.channel)
            result.users.update(m.user for m in chunk if m.user)
            result.bots.add_many(chunk)
            marked = [m.emotes for m in chunk if m.emotes]
            if marked:
                emotes.add_marked(chain.from_iterable(marked))
            for part, run in _runs_by_stream(chunk, default, streams, info):
                n_kept += _write_run(cleaner, emotes, run, part, task.stable_hashes)
    except LogProblem as error:
        report["error"] = str(error)
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):  # writing, not reading: the whole import must stop
            raise
        report["error"] = f"read failed after {info.lines} lines ({error}); the messages before it were imported"
    except Exception as error:  # not a parser's (those are counted per line): the rest of this file is lost
        report["error"] = (f"import failed after {info.lines} lines ({describe(error)}); "
                           "the messages before it were imported")
    result.parts = [part for part in streams.parts.values() if len(part.hashes)]
    report.update(
        stream=default.key if default else None, channel=info.channel, lines=info.lines,
        messages=n_messages, kept=n_kept, blank_lines=info.blank, log_lines=info.meta_lines,
        unparsed_lines=info.unparsed, failed_lines=info.failed, too_long_lines=info.too_long,
        undecodable_bytes=info.undecodable, dropped=dict(cleaner.drops),
    )
    if info.unparsed:
        odd = [f"{info.failed} the reader failed on"] if info.failed else []
        info.warnings.append(
            f"{info.unparsed} lines of an unknown shape for format {info.format} were skipped "
            f"{'(' + odd[0] + ') ' if odd else ''}(e.g. {'; '.join(info.unparsed_examples)})"
        )
    report["warnings"] = info.warnings
    return result


def _runs_by_stream(chunk: list, default: Part, streams: _FileStreams, info):
    """(part, messages) runs of a chunk: all of it for the file's own stream, unless the format
    names a stream or channel per message (corpus records, raw IRC of several channels)."""
    if info.format not in ("corpus", "irc"):
        yield default, chunk
        return
    for (channel, key), run in groupby(chunk, key=attrgetter("channel", "stream")):
        part = default
        if key is not None or channel is not None:
            part = streams.part(key if key is not None else default.key,
                                channel if channel is not None else info.channel)
        yield part, list(run)


def _write_run(cleaner, emotes, messages, part: Part, stable_hashes: bool) -> int:
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


def file_tasks(files: list[tuple[Path, Path]], valid_roots: set[Path], fmt: str | None, tmp: Path,
               cleaner: CleanerSettings, *, stable_hashes: bool = False) -> list[FileTask]:
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
        tasks.append(FileTask(index, path, group, key, root in valid_roots, fmt, tmp, cleaner, stable_hashes))
    return tasks


def run_tasks(tasks: list[FileTask], workers: int, emotes):
    """Results of the tasks in their order; files are independent, so worker processes share them."""
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield import_file(task, emotes)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the caller may have threads (the bot) or torch loaded. Biggest files
    # first, so no worker is left with a big one at the end; results come back in that order.
    biggest_first = sorted(tasks, key=lambda task: -task.path.stat().st_size)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from pool.map(import_file, biggest_first)


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
