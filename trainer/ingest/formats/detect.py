"""What a log format is (`Format`) and how a file's format is told from its first characters.

Every format carries its own detection: `rules` (tests on the head of the file, each with an
`order`) and, for line-based formats, a `line_shape` (a pattern most of its lines fit).
Detection runs in three steps over all formats of the registry:

1. rules with an order below `LINE_SHAPES` (what the first characters settle: a JSON document,
   a corpus record, a header line), lowest order first; the first that holds names the format;
2. line shapes: every shape is counted over a sample of lines, and the shape that most lines
   fit wins if at least 60 % do (a tie goes to the lower `rank`); its `confirm` may name a
   sibling format or decline;
3. the remaining rules, lowest order first (a CSV header, "Name: msg" lines, plain text).

A head that looks like JSON but that no rule recognises is a `LogProblem`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from trainer.ingest.formats.reading import HEAD_BYTES, LogProblem

LINE_SHAPES = 50  # the point among the rules' orders at which line shapes are counted
SHAPE_SHARE = 0.6  # a line shape wins when at least this share of the sample lines fit it
SAMPLE_LINES = 200


@dataclass
class Head:
    """The start of a file, as the detection rules look at it."""

    text: str  # from the first visible character (BOM and blank lines dropped)
    lines: list[str]  # its first non-blank lines (a last line cut by the head's end dropped)
    path: Path | None = None
    sample: list[str] = field(init=False)  # the lines that aren't `#` comments, at most SAMPLE_LINES

    def __post_init__(self) -> None:
        self.sample = [line for line in self.lines if not line.startswith("#")][:SAMPLE_LINES] or self.lines

    @property
    def first(self) -> str:
        return self.lines[0]

    @property
    def start(self) -> str:
        """The first 4,000 characters, where JSON formats show their keys."""
        return self.text[:4000]

    @property
    def is_object(self) -> bool:
        return self.text[0] == "{"

    @property
    def is_array(self) -> bool:
        return self.text[0] == "["

    def fitting(self, pattern: re.Pattern) -> int:
        """How many sample lines start with `pattern`."""
        return sum(1 for line in self.sample if pattern.match(line))


@dataclass(frozen=True)
class Rule:
    """`test(head)` says the file is in this format; rules of all formats are tried by `order`."""

    order: int
    test: Callable[[Head], bool]


@dataclass(frozen=True)
class LineShape:
    """A pattern that most lines of a format start with; `rank` breaks ties between shapes.

    `confirm(head)`, when given, runs after the shape won: it returns the format's name, a
    sibling's whose lines look the same, or None to leave the file to the later rules.
    """

    pattern: re.Pattern
    rank: int
    confirm: Callable[[Head], str | None] | None = None


@dataclass(frozen=True)
class Format:
    name: str
    description: str
    parse: Callable  # parse(lines or items, info) -> messages; info.lines numbers the current one
    is_json: bool = False  # items(document, info) gives the items parse() takes instead of lines
    items: Callable | None = None
    aliases: tuple[str, ...] = ()  # other names `--format` accepts
    rules: tuple[Rule, ...] = ()
    line_shape: LineShape | None = None


def head_of(text: str, path: Path | None = None) -> Head:
    """The `Head` of a file that starts with `text`; LogProblem when there is nothing in it."""
    text = text.lstrip("\ufeff \t\r\n")
    if not text:
        raise LogProblem("empty file (no text); nothing to import")
    lines = [line for line in text.splitlines()[:400] if line.strip()]
    if len(text) >= HEAD_BYTES // 2 and len(lines) > 1:
        lines = lines[:-1]  # the last line of a cut head may be partial
    return Head(text, lines, path)


def detect(text: str, path: Path | None, formats: Iterable[Format]) -> str:
    """The name of the format of a file that starts with `text` (its name helps for dated logs)."""
    formats = list(formats)
    head = head_of(text, path)
    rules = sorted(((rule.order, rule.test, f.name) for f in formats for rule in f.rules), key=lambda r: r[0])
    for order, test, name in rules:
        if order < LINE_SHAPES and test(head):
            return name
    shaped = sorted((f for f in formats if f.line_shape), key=lambda f: f.line_shape.rank)
    if shaped:
        counts = [(head.fitting(f.line_shape.pattern), f) for f in shaped]
        fitting, best = max(counts, key=lambda pair: pair[0])  # the first of equal counts: the lower rank
        if fitting >= SHAPE_SHARE * len(head.sample):
            confirm = best.line_shape.confirm
            name = confirm(head) if confirm else best.name
            if name is not None:
                return name
    for order, test, name in rules:
        if order >= LINE_SHAPES and test(head):
            return name
    raise LogProblem("looks like JSON but has none of the chat shapes we know "
                     "(tcd/TwitchDownloader `comments`, GQL VideoComment, chat-downloader, justlog `messages`)")


def resolve(name: str, formats: Iterable[Format]) -> str:
    """The format's own name for `name` (a name or an alias); ValueError naming the known ones."""
    formats = list(formats)
    key = name.strip().lower()
    aliases = {alias: f.name for f in formats for alias in f.aliases}
    names = {f.name for f in formats}
    key = aliases.get(key, key)
    if key not in names:
        raise ValueError(f"unknown format {name!r}; known: {', '.join(sorted(names) + sorted(aliases))}")
    return key
