"""Chat log formats: detect a file's format and parse it into `Message`s.

`open_log(path)` reads a file (gzip transparently, any of the encodings people's logs come in),
detects its format from its first lines unless one is given, and returns a `LogSource`: what was
found about the file (`LogInfo`) and an iterator of messages. Parsers count every line they
don't turn into a message (`LogInfo.meta_lines` for the logger's own lines, `LogInfo.unparsed`
for lines of an unknown shape, with examples), so nothing disappears uncounted. A file that
can't be read at all raises `LogProblem` with a message naming what was wrong; `prepare`
reports it and goes on with the other files. Every parser is driven by `reading.isolated`: a line
(or JSON item) it fails on is skipped and counted with its number and the reason, and the rest of
the file is still read; lines longer than `reading.MAX_LINE` are skipped before any parser sees them.

`FORMATS` is the registry: every format with its names, parser and detection rules
(`detect.Format`). The package: `reading` (bytes, encodings, gzip, shared value conversions),
`detect` (how the rules are applied), and the formats by family: `lines`, `tables`,
`subtitles`, `json_formats`.
"""

from __future__ import annotations

from pathlib import Path

from trainer.ingest.formats import detect
from trainer.ingest.formats.detect import Format
from trainer.ingest.formats.json_formats import CHAT_DOWNLOADER, CORPUS, GQL, JUSTLOG_JSON, TCD_JSON, TWITCHDOWNLOADER_JSON
from trainer.ingest.formats.lines import CHATTERINO, IRC, IRC_CLIENT, JUSTLOG, TCD, TWITCHDOWNLOADER_TXT
from trainer.ingest.formats.reading import (
    LogInfo, LogProblem, LogSource, Message, choose_encoding, describe, isolated, iter_items, iter_lines, load_json,
    open_text, read_head,
)
from trainer.ingest.formats.subtitles import SRT, SSA
from trainer.ingest.formats.tables import CSV, PLAIN, TSV

__all__ = ["FORMATS", "Format", "LogInfo", "LogProblem", "LogSource", "Message", "describe", "detect_format",
           "open_log", "resolve_format"]

FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        TCD, SRT, SSA, TCD_JSON, TWITCHDOWNLOADER_JSON, TWITCHDOWNLOADER_TXT, GQL, CHAT_DOWNLOADER, CHATTERINO,
        JUSTLOG, JUSTLOG_JSON, IRC, TSV, CSV, IRC_CLIENT, CORPUS, PLAIN,
    )
}


def resolve_format(name: str) -> str:
    """The format named `name` (or one of its aliases); ValueError naming the known ones."""
    return detect.resolve(name, FORMATS.values())


def detect_format(head: str, path: Path | None = None) -> str:
    """The format of a file from its first characters (and its name, for Chatterino's dated files)."""
    return detect.detect(head, path, FORMATS.values())


def open_log(path: str | Path, fmt: str | None = None) -> LogSource:
    """Open one log file: read its head, choose the encoding, detect (or take) the format."""
    path = Path(path)
    info = LogInfo(path)
    try:
        if path.stat().st_size == 0:
            raise LogProblem("empty file (0 bytes); nothing to import")
        head_bytes, gzipped = read_head(path)
    except OSError as error:
        raise LogProblem(f"can't read it ({error.strerror or error})") from None
    if not head_bytes:
        raise LogProblem("empty file (no data inside the gzip); nothing to import")
    info.encoding = choose_encoding(head_bytes, info)
    head = head_bytes.decode(info.encoding.replace("-sig", ""), errors="replace")
    info.format = resolve_format(fmt) if fmt else detect_format(head, path)
    spec = FORMATS[info.format]
    stream = open_text(path, gzipped, info.encoding)
    if not spec.is_json:
        return LogSource(info, isolated(spec.parse, iter_lines(stream, info), info))
    data = load_json(stream, path)
    try:
        items = spec.items(data, info)
    except LogProblem:
        raise
    except Exception as error:  # a document of an unexpected shape
        raise LogProblem(f"not the {info.format} shape we know ({describe(error)})") from None
    return LogSource(info, isolated(spec.parse, iter_items(items, info), info))
