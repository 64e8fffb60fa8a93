"""The shared chat text rules (trainer.text), and that the import, the filter and the send queue apply the same ones."""

from __future__ import annotations

import pytest

from bot.sendqueue import twitch_safe_text
from trainer.engine.safety import FilterChain
from trainer.errors import StreamchatError
from trainer.ingest.cleaning import MENTION, clean_message
from trainer.text import (
    TWITCH_MESSAGE_CHARS, cut_at_word, has_url, mentions, read_word_list, sanitize, starts_with_command,
    strip_invisible,
)


def test_word_lists_honour_comments_and_a_bom(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("\ufeff# a comment line\nfoo\n\n   # indented comment\nbar baz   # a phrase\nc#\n  spaced  \n",
                    encoding="utf-8")
    assert read_word_list(path) == ["foo", "bar baz", "c#", "spaced"]


def test_word_list_problems_are_clear(tmp_path):
    with pytest.raises(StreamchatError, match="cannot read the word list .*missing"):
        read_word_list(tmp_path / "missing.txt")
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(StreamchatError, match="not UTF-8"):
        read_word_list(latin)


def test_strip_invisible_one_rule():
    assert strip_invisible("a\x00b\x07c") == "a b c"  # controls separate words
    assert strip_invisible("he\u200bllo\u202e\U000e0000") == "hello"  # format characters vanish
    assert strip_invisible("\u3164\u2800\u034f\u17b4") == ""  # blank-looking letters, printable or not
    assert strip_invisible("👨\u200d👩\u200d👧 a\u200db") == "👨\u200d👩\u200d👧 ab"
    text = "plain ascii, nothing to do"
    assert strip_invisible(text) is text
    assert sanitize(" tab\there\n") == "tab here"


def test_import_filter_and_send_queue_agree_on_invisible_characters():
    # A message of only blank-looking letters is printable, and still nothing: all three drop it.
    blank = "\u3164\u3164 \u2800"
    assert clean_message(blank) is None
    assert FilterChain(banned_words=()).check(blank) == "empty"
    assert twitch_safe_text(blank) is None
    # An emoji joined with ZWJ stays one emoji everywhere.
    family = "nice 👨\u200d👩\u200d👧"
    assert clean_message(family) == family
    assert FilterChain(banned_words=()).check(family) is None
    assert twitch_safe_text(family) == family


def test_command_prefixes():
    for text in ("/ban x", ".color red", "!chat", "\\o/ hi", "／ban x", "…what"):
        assert starts_with_command(text), text
        assert FilterChain(banned_words=()).check(text) == "command"
    assert not starts_with_command("") and not starts_with_command("hi /ban")
    # In logs only ! and / lines were commands: "..." and "\o/" are chat.
    assert clean_message("!uptime") is None and clean_message("/ban x") is None
    assert clean_message("... ok") == "... ok"
    assert clean_message("\\o/ hype") == "\\o/ hype"


def test_links_and_mentions_filter_stricter_than_import():
    # The filter refuses anything link-like; the import only cuts links it is sure of.
    assert has_url("see example.fr") and not has_url("i am fine. ok.")
    assert clean_message("see example.com now") == "see now"
    assert clean_message("ok.so what") == "ok.so what"
    assert has_url("ok.so what")
    # "@ me" is chat to the import, a mention to the filter.
    assert clean_message("dont @ me") == "dont @ me"
    assert clean_message("hi @someone") == f"hi {MENTION}"
    assert mentions("dont @ me") == ["me"]


def test_cut_at_word():
    assert cut_at_word("short", 10) == "short"
    assert cut_at_word("aaaa bbbb cccc", 11) == "aaaa bbbb"
    assert cut_at_word("x" * 20, 8) == "x" * 8  # no space in the second half: a hard cut
    long = "word " * 200
    assert len(cut_at_word(long, TWITCH_MESSAGE_CHARS)) <= TWITCH_MESSAGE_CHARS
