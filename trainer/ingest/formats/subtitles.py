"""tcd's subtitle exports: SRT (numbered blocks of a time line and "Name: msg") and SSA (`Dialogue:` lines)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from trainer.ingest.formats.detect import Format, Head, LineShape, Rule
from trainer.ingest.formats.reading import LogInfo, Message, offset_seconds

# tcd srt: numbered blocks, "00:00:05,000 --> 00:00:07,000", "Viewer_One: hello chat Kappa"
_SRT_TIME = re.compile(r"(\d+:\d\d:\d\d[,.]\d+) -->")
_SRT_TEXT = re.compile(r"([^\s:]{1,40}): (.*)")


def parse_srt(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    offset = None
    for line in lines:
        stripped = line.rstrip("\n")
        if not stripped.strip():
            info.blank += 1
            continue
        if stripped.isdigit():
            info.meta_lines += 1
            continue
        timing = _SRT_TIME.match(stripped)
        if timing:
            offset = offset_seconds(timing.group(1))
            info.meta_lines += 1
            continue
        m = _SRT_TEXT.match(stripped)
        if m:
            yield Message(m.group(1), m.group(2), None, offset)
        else:
            info.bad_line(info.lines, line)


# tcd ssa: "Dialogue: Marked=0,0:00:05.43,0:00:07.43,Default,Name,0000,0000,0000,,{\c&H..&}Name {\c&H..&}msg"
_SSA_OVERRIDE = re.compile(r"\{[^}]*\}")


def parse_ssa(lines: Iterable[str], info: LogInfo) -> Iterator[Message]:
    for line in lines:
        if line.startswith("Dialogue:"):
            fields = line[9:].strip().split(",", 9)
            if len(fields) == 10:
                user = fields[4].strip()
                body = fields[9]
                if body.startswith("{"):
                    # "{\c..}Name {\c..}message": the text after the second override block
                    parts = _SSA_OVERRIDE.split(body)
                    body = parts[-1] if len(parts) >= 3 else _SSA_OVERRIDE.sub("", body)
                yield Message(user or None, body.replace("\\N", " "), None, offset_seconds(fields[1]))
                continue
            info.bad_line(info.lines, line)
        elif line.strip():
            info.meta_lines += 1  # [Script Info], Style:, Format:, ...
        else:
            info.blank += 1


# ---------------------------------------------------------------- the formats and how each is recognised


def _srt_blocks(head: Head) -> str | None:
    # Its line shape ("Name: msg", numbers) fits many logs: an SRT file opens with "1" and a time line.
    sample = head.sample
    return "tcd-srt" if sample[0].strip().isdigit() and len(sample) > 1 and "-->" in sample[1] else None


SRT = Format(
    "tcd-srt", "tcd srt subtitles", parse_srt,
    line_shape=LineShape(re.compile(r"\d+$|\d+:\d\d:\d\d[,.]\d+ --> |[^\s:]{1,40}: "), 8, _srt_blocks),
)
SSA = Format(
    "tcd-ssa", "tcd ssa subtitles (Dialogue: lines)", parse_ssa,
    rules=(Rule(32, lambda head: head.first.startswith(("[Script Info]", "Dialogue:"))),),
    line_shape=LineShape(
        re.compile(r"Dialogue: |\[Script Info\]|\[Events\]|\[V4\+? Styles\]|Style: |Format: |Title: |ScriptType: "), 7,
    ),
)
