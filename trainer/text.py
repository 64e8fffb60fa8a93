"""The rules of chat text, each defined once: the import, the filter and the bot's send queue share them.

- length: Twitch's limit on one message (`TWITCH_MESSAGE_CHARS`) and cutting a text at a word;
- invisible characters: `strip_invisible`, `sanitize`;
- commands: what Twitch or another bot would run as a command (`starts_with_command`,
  `strip_command_prefix`), and which logged lines were commands rather than chat;
- look-alike letters and l33t: `unconfuse` and `skeleton`, the one normalisation the filter matches on;
- links and @mentions: what the filter refuses to post (`has_url`, `mentions`) and what the
  import cuts out of the text a model learns from (`LINK_PATTERN`, `MENTION_PATTERN`);
- word lists: `read_word_list`.

Where the filter and the import differ (links, mentions, commands), the filter is the stricter
on purpose: a false alarm costs one candidate message, while the import must not rewrite
ordinary chat ("don't @ me", "...").
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from collections.abc import Iterator
from typing import NamedTuple

from trainer.errors import StreamchatError

TWITCH_MESSAGE_CHARS = 500  # Twitch refuses a chat message longer than this


def cut_at_word(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at the last space when that keeps over half of it."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit + 1)
    return text[: cut if cut > limit // 2 else limit].rstrip()


# ---------------------------------------------------------------------------------------------
# Invisible characters

# Letters and marks that render as nothing or as a blank; spammers use them to dodge filters
# and to post "empty" messages.
_BLANK_LOOKING = frozenset({
    "\u115f", "\u1160", "\u3164", "\uffa0",  # Hangul fillers
    "\u17b4", "\u17b5",  # Khmer inherent vowels
    "\u2800",  # braille blank
    "\ufffd",  # replacement character (a token cut inside a UTF-8 sequence)
    "\u034f",  # combining grapheme joiner
})
_ZWJ = "\u200d"
_MAX_COMBINING = 2  # combining marks kept on one base character (undoes "Zalgo" text)
# ASCII control characters (all of them break a line or a word apart: they become spaces).
_ASCII_CONTROLS = {c: " " for c in (*range(32), 127)}


def _keeps_zwj(prev: str, nxt: str) -> bool:
    """A zero-width joiner inside an emoji sequence (👨‍👩‍👧, 🏳️‍🌈) is part of the emoji."""
    return bool(prev and nxt) and unicodedata.category(nxt) == "So" and (
        unicodedata.category(prev) in ("So", "Sk") or prev == "\ufe0f"
    )


def strip_invisible(text: str) -> str:
    """`text` without invisible characters.

    Control characters (Cc: NUL, tab, newline, DEL, C1) and line or paragraph separators become
    spaces; format characters (Cf: zero-width, bidi controls, BOM, the U+E0000 tags), surrogates,
    private-use and unassigned code points and blank-looking letters are removed; a zero-width
    joiner is kept inside an emoji sequence; at most two combining marks stay on one character.
    Text with nothing to strip comes back as the same object.
    """
    if text.isascii():
        return text if text.isprintable() else text.translate(_ASCII_CONTROLS)
    out: list[str] = []
    combining = 0
    category = unicodedata.category
    for i, char in enumerate(text):
        if " " <= char < "\x7f":
            combining = 0
            out.append(char)
            continue
        if char == _ZWJ and _keeps_zwj(out[-1] if out else "", text[i + 1 : i + 2]):
            out.append(char)
            continue
        kind = category(char)
        if kind == "Cc" or kind == "Zl" or kind == "Zp":
            out.append(" ")
            continue
        if kind[0] == "C" or char in _BLANK_LOOKING:
            continue
        if kind == "Mn" and char != "\ufe0f":
            combining += 1
            if combining > _MAX_COMBINING:
                continue
        else:
            combining = 0
        out.append(char)
    stripped = "".join(out)
    return text if stripped == text else stripped


def sanitize(text: str) -> str:
    """Invisible characters stripped, whitespace collapsed to single spaces, ends trimmed."""
    return " ".join(strip_invisible(text).split())


# ---------------------------------------------------------------------------------------------
# Commands

# `/` and `.` start Twitch chat commands (`/ban`, `.color`), `!` other bots' commands; a
# leading `\` is refused as well (the send queue always stripped it). Nothing the bot posts
# starts with one of these.
COMMAND_PREFIXES = "/.!\\"
# In imported logs only `!` and `/` lines are commands: Twitch runs `.` commands without
# logging them, so a logged `.` or `\` starts ordinary chat ("...", "\o/").
LOGGED_COMMAND_PREFIXES = "!/"


def starts_with_command(text: str) -> bool:
    """Whether `text` starts with a command prefix, full-width forms (`／`, `！`) included."""
    return unicodedata.normalize("NFKC", text[:1])[:1] in COMMAND_PREFIXES if text else False


def strip_command_prefix(text: str) -> str:
    """`text` sanitized, without leading command prefixes (`/ban x` -> `ban x`, `!chat !chat` -> `chat !chat`)."""
    text = sanitize(text)
    start = 0
    while start < len(text) and (text[start] == " " or starts_with_command(text[start])):
        start += 1
    return text[start:]


# ---------------------------------------------------------------------------------------------
# Links and mentions

# Top-level domains that links in chat use: a `word.tld` with one of these is cut out of the
# text the model learns from (`LINK_PATTERN`). The filter refuses every public suffix (`has_url`).
COMMON_TLDS = frozenset("com net org tv gg io ly be me co app link gl xyz to tk ru de uk".split())

# What the import removes: a scheme or www. link to the next space, or a domain of a common TLD.
LINK_PATTERN = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|\b(?:[\w-]+\.)+(?:" + "|".join(sorted(COMMON_TLDS)) + r")(?:/\S*)?\b",
    re.IGNORECASE,
)
# An @mention as Twitch highlights it; the import replaces it with a neutral word.
MENTION_PATTERN = re.compile(r"@(\w+)")

# What the filter refuses (on NFKC-folded text, see `fold`).
_SCHEME = re.compile(r"\b(?:[a-z][a-z0-9+.\-]{1,15}://|(?:https?|ftp|file|mailto|javascript):\S|data:[a-z]+/)")
_WWW = re.compile(r"\bwww\d{0,3}\s*\.")
_IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
# label.label.tld with no spaces (the labels in any script, `.рф` included).
_DOMAIN = re.compile(r"(?<![\w.@])[\w-]+(?:\.[\w-]+)+(?![\w])")
# "example dot com", "example (.) com", "example [dot] com"
_SPELLED_DOT = re.compile(r"\b[\w-]+\s*(?:[(\[{]\s*(?:dot|\.)\s*[)\]}]|\s+dot\s+)\s*([^\W\d_]{2,24})\b")
# "example . com", "example. com": spaced dots are common in plain chat ("ok . so", "gg. me
# too"), so only the top-level domains that rarely start a sentence count here.
_SPACED_DOT = re.compile(r"\b[\w-]+(?:\s+\.\s*|\.\s+)(com|net|org|xyz|ru|io|tk|info|biz|onion)\b")
# Mentions the filter refuses: "@name" and "@ name" (a space dodges Twitch's highlight).
_ANY_MENTION = re.compile(r"@\s*(\w+)")


def fold(text: str) -> str:
    """NFKC and case-folded (full-width `／` is `/`), ideographic full stops as dots: what the checks see."""
    return unicodedata.normalize("NFKC", text).casefold().replace("\u3002", ".")


_SUFFIXES = None


def _public_suffix(name: str) -> str:
    """The public suffix that ends `name` (`com`, `co.uk`, `best`, `рф`), or "" when none does.

    The public suffix list is tldextract's bundled snapshot: the extractor is built never to
    fetch a newer one, so checking a message never touches the network.
    """
    global _SUFFIXES
    if _SUFFIXES is None:
        import tldextract

        _SUFFIXES = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
    return _SUFFIXES(name).suffix


def _is_tld(label: str) -> bool:
    """Whether `label` alone is a top-level domain of the public suffix list (`com`, `best`, `xn--p1ai`)."""
    return bool(label) and _public_suffix("x." + label) == label


def _link_in(folded: str) -> bool:
    if _SCHEME.search(folded) or _WWW.search(folded) or _IP.search(folded):
        return True
    for match in _DOMAIN.finditer(folded):
        labels = match.group().split(".")
        if labels[-2] and _is_tld(labels[-1]):
            return True
    if any(_is_tld(match.group(1)) for match in _SPELLED_DOT.finditer(folded)):
        return True
    return _SPACED_DOT.search(folded) is not None


def has_url(text: str) -> bool:
    """Whether `text` holds anything link-like: a scheme, `www.`, an IP address, a domain of any
    public suffix (`drops.best`, `a.рф`), `x dot com`; look-alike letters read as what they imitate."""
    folded = fold(text)
    if _link_in(folded):
        return True
    plain = unconfuse(text).replace("\u3002", ".")
    return plain != folded and _link_in(plain)


def mentions(text: str) -> list[str]:
    """The names @mentioned in `text` (case-folded), "@ name" included."""
    return [m.group(1) for m in _ANY_MENTION.finditer(fold(text))]


# ---------------------------------------------------------------------------------------------
# Matching: one normalisation for every check that must see through disguises
#
# `unconfuse` writes look-alike letters as the ASCII letter they imitate (Cyrillic `р`, Greek
# `ο`, small capitals `ᴋɪᴛᴛᴇɴ`, enclosed `🅺`); `skeleton` then reads l33t (`k1tt3n`) and drops
# every other character (separators, emoji), keeping where words began and ended. Banned words
# are matched on skeletons, so a ban holds however a word is spelled out.

# Scripts whose letters are words of their own, not disguised Latin ones: kept as they are.
_OWN_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "YI ", "THAI", "ARABIC", "HEBREW", "DEVANAGARI")
_ASCII_OF: dict[str, str] = {}


def _ascii_letter(char: str) -> str:
    """The ASCII letter or digit `char` looks like or is written as (lowercase), else `char`.

    Looked up on the character as typed, then on its NFKC form and its lowercase (normalising
    first would turn Greek `ϲ`, which looks like `c`, into `ς`)."""
    from anyascii import anyascii
    from confusable_homoglyphs.confusables import confusables_data

    name = unicodedata.name(char, "")
    if name.startswith(_OWN_SCRIPTS):
        return char
    normal = unicodedata.normalize("NFKC", char)
    # An upper-case letter by its lower case first: Cyrillic `І` looks like `l` as much as `I`.
    lower = char.lower() if char.isupper() and len(char.lower()) == 1 else char
    for form in dict.fromkeys((lower, char, normal, normal.casefold())):
        if len(form) == 1 and form.isascii():
            return form.lower() if form.isalnum() else char
        for glyph in confusables_data.get(form, ()):
            if len(glyph["c"]) == 1 and glyph["c"].isascii() and glyph["c"].isalnum():
                return glyph["c"].lower()
    if unicodedata.category(char)[0] in "LN" or "LATIN" in name:
        written = anyascii(char).lower()
        if written.isascii() and written.isalnum():
            return written
    return char


def unconfuse(text: str) -> str:
    """`fold(text)` with every look-alike letter written as the ASCII letter it imitates."""
    if text.isascii():
        return fold(text)
    out = []
    for char in text:
        if char < "\x80":
            out.append(char)
            continue
        written = _ASCII_OF.get(char)
        if written is None:
            written = _ASCII_OF[char] = _ascii_letter(char)
        out.append(written)
    return fold("".join(out))


# What each digit and symbol stands for in l33t (and `l` for `I`: `sIut`, `kiII`). Inside a word
# with a letter, or one character repeated alone ("k 1 t", "b 00 b"); a number of its own ("480",
# "1488") stays a number.
_LEET_DIGITS = {"0": "o", "1": "i", "2": "z", "3": "e", "4": "a", "5": "s", "6": "g", "7": "t", "8": "b", "9": "g"}
_LEET_SYMBOLS = {"@": "a", "^": "a", "$": "s", "!": "i", "|": "i", "+": "t", "(": "c", "<": "c", "€": "e",
                 "#": "h", "°": "o"}
_READINGS = {
    # a symbol may be a letter (`n!gg@`) or a separator (`k|i|t`): both readings are matched
    "leet": (str.maketrans({**_LEET_DIGITS, **_LEET_SYMBOLS, "l": "i"}), "abcdefghijklmnopqrstuvwxyz"),
    # ... or both: a symbol recurring between characters separates, others are letters (`+|a|r|d`)
    "spaced": (str.maketrans({**_LEET_DIGITS, **_LEET_SYMBOLS, "l": "i"}), "abcdefghijklmnopqrstuvwxyz"),
    # symbols as separators, and every number read as letters too ("90 die"; a word read from
    # numbers alone, "480" as "abo", is no match)
    "letters": (str.maketrans({**_LEET_DIGITS, "l": "i"}), "abcdefghijklmnopqrstuvwxyz"),
    # numbers as numbers (`1488`, `14/88`)
    "digits": (None, "abcdefghijklmnopqrstuvwxyz0123456789"),
}
READINGS = tuple(_READINGS)


def _drop_separators(token: str, mapped: str) -> str:
    """`mapped` with a symbol read as a separator rather than a letter where it recurs between
    single (repeated) characters: in `+|a|r|d` the `|` separates and the `+` is a t; `$pa$tic`
    keeps both `$`."""
    for symbol in set(token) & _LEET_SYMBOLS.keys():
        chunks = token.split(symbol)[1:-1]
        if chunks and all(chunk and len(set(chunk)) == 1 for chunk in chunks):
            mapped = "".join(" " if typed == symbol else char for typed, char in zip(token, mapped))
    return mapped


class Skeleton(NamedTuple):
    """A text reduced to its letters, runs of one letter collapsed (`kiiitten` -> `kiten`).

    `runs[i]` is how often `letters[i]` was repeated; `starts[i]` / `ends[i]` whether a word may
    start before / end after it (a separator, a space, a symbol or the text's edge is there).
    """

    letters: str
    runs: tuple[int, ...]
    starts: tuple[bool, ...]
    ends: tuple[bool, ...]
    numbers: tuple[bool, ...] = ()  # the letter was read from a number ("480"), in the "letters" reading
    tokens: tuple[int, ...] = ()  # which space-separated token of the text the run starts in ...
    last_tokens: tuple[int, ...] = ()  # ... and ends in ("KEKW wetback" has one run of w)
    lone: tuple[bool, ...] = ()  # whether its first token is one letter ("k i t t e n", "nn ii gg") ...
    lone_last: tuple[bool, ...] = ()  # ... and its last one


def skeleton(text: str, reading: str = "leet") -> Skeleton:
    """The skeleton of `text` in one of the `READINGS`: `unconfuse`d, digits and symbols read
    as letters or not, everything else dropped."""
    return _skeleton(unconfuse(strip_invisible(text)).split(), reading)


def skeletons(text: str) -> Iterator[tuple[str, Skeleton]]:
    """(reading, skeleton) of `text` for every reading that can differ from the "leet" one."""
    tokens = unconfuse(strip_invisible(text)).split()
    yield "leet", _skeleton(tokens, "leet")
    symbols = [c for c in _LEET_SYMBOLS if c in text]
    digits = any(c.isdigit() for c in text)
    if symbols or digits:
        yield "letters", _skeleton(tokens, "letters")
    if any(text.count(c) >= 2 for c in symbols):
        yield "spaced", _skeleton(tokens, "spaced")
    if digits:
        yield "digits", _skeleton(tokens, "digits")


def _skeleton(tokens: list[str], reading: str) -> Skeleton:
    table, keep = _READINGS[reading]
    letters: list[str] = []
    runs: list[int] = []
    starts: list[bool] = []
    ends: list[bool] = []
    numbers: list[bool] = []
    token_of: list[int] = []
    last_token_of: list[int] = []
    lone: list[bool] = []
    lone_last: list[bool] = []
    last = ""
    last_real = False  # the last letter kept was typed as a letter, not a symbol read as one
    for index, token in enumerate(tokens):
        number = reading == "letters" and token.isdigit()
        single = len(set(token)) == 1
        mapped = token
        if table is not None and (reading == "letters" or len(set(token)) == 1 or any(c.isalpha() for c in token)):
            mapped = token.translate(table)
            if reading == "spaced":
                mapped = _drop_separators(token, mapped)
        gap = True
        for typed, char in zip(token, mapped):
            if char not in keep:
                gap = True
                continue
            real = typed.isalnum()
            boundary = gap or not real  # a word may end before this letter ...
            if letters and boundary:
                ends[-1] = True
            may_start = gap or not last_real  # ... and start at it
            # A word may start before (end after) a run when it may before (after) any of its
            # letters: "is spastic" collapses to one run of s, at whose start "spastic" begins.
            if char == last:
                runs[-1] += 1
                starts[-1] = starts[-1] or may_start
                lone_last[-1] = single
                last_token_of[-1] = index
            else:
                letters.append(char)
                runs.append(1)
                starts.append(may_start)
                ends.append(False)
                numbers.append(number)
                token_of.append(index)
                last_token_of.append(index)
                lone.append(single)
                lone_last.append(single)
                last = char
            last_real = real
            gap = False
    if ends:
        ends[-1] = True
    return Skeleton("".join(letters), tuple(runs), tuple(starts), tuple(ends), tuple(numbers),
                    tuple(token_of), tuple(last_token_of), tuple(lone), tuple(lone_last))


class WordKey(NamedTuple):
    """What a banned or blocked word is, however it is spelled (`wörd`, `WORD`, `w o r d`)."""

    letters: str  # the skeleton's letters
    runs: tuple[int, ...]
    digits: bool  # a number ("1488"): matched on the digits reading
    words: tuple[int, ...] = ()  # the word of a phrase each letter belongs to


def word_key(word: str) -> WordKey | None:
    """The key of a word or phrase to ban or block; None when it has no letter or digit."""
    digits = any(c.isdigit() for c in word) and not any(c.isalpha() for c in unconfuse(word))
    shape = skeleton(word, "digits" if digits else "letters")
    if not shape.letters:
        return None
    # A word spelled out ("r e t a r d") is one word; otherwise each token is a word of a phrase.
    spelled_out = digits or all(shape.lone)
    words = (0,) * len(shape.letters) if spelled_out else tuple(t - shape.tokens[0] for t in shape.tokens)
    return WordKey(shape.letters, shape.runs, digits, words)


# ---------------------------------------------------------------------------------------------
# Word lists


def parse_word_list(text: str) -> list[str]:
    """Words or phrases, one a line; blank lines skipped, `#` at a line's start or after a space
    starts a comment (so `c#` stays a word)."""
    words = []
    for line in text.splitlines():
        word = line.strip()
        if word.startswith("#"):
            continue
        comment = re.search(r"\s#", word)
        if comment:
            word = word[: comment.start()].rstrip()
        if word:
            words.append(word)
    return words


def read_word_list(path: str | Path) -> list[str]:
    """The words of a word list file (see `parse_word_list`); StreamchatError when it can't be read."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else f"not UTF-8 text ({error.reason})"
        raise StreamchatError(f"cannot read the word list {path}: {reason}") from error
    return parse_word_list(text)
