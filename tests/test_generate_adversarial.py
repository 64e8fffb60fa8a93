"""The filter chain against a hostile viewer: generated disguises of banned words and links.

Every case is a banned word or a link written to dodge a filter (look-alike letters from other
scripts, small capitals, full-width and mathematical letters, l33t, separators and emoji between
letters, case, spacing, every top-level domain of the public suffix list); none may be posted,
neither by the chain nor echoed by `Generator.complete`.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainer.engine.safety import FilterChain, default_banned_words
from trainer.text import has_url

CHAIN = FilterChain(banned_words=[*default_banned_words(), "kitten"])
CASES = 400  # per test; the two generated tests together try 800

SMALL_CAPITALS = dict(zip("abcdefghijklmnoprstuvwyz", "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢ"))
LOOK_ALIKES = {"a": "аα", "c": "сϲ", "e": "еε", "i": "іι", "o": "оοø", "p": "рρ", "x": "х", "y": "у", "k": "кκ",
               "s": "ѕ", "j": "ј", "h": "һ"}
LEET = {"a": "4@", "e": "3", "i": "1!|", "o": "0", "s": "5$", "t": "7+", "g": "9"}
SEPARATORS = [" ", ".", "-", "_", "|", "+", "*", "/", "\\", "~", ":", ",", "🙂", "❤", "・", "·", "•", "​ ", "  "]


def _fullwidth(c: str) -> str:
    return chr(ord(c) - 0x61 + 0xFF41) if c.isascii() and c.isalpha() else c


def _math_bold(c: str) -> str:
    return chr(ord(c) - 0x61 + 0x1D41A) if c.isascii() and c.isalpha() else c


@st.composite
def disguised_letter(draw, letter: str) -> str:
    choices = [letter, letter.upper()]
    if letter in SMALL_CAPITALS:
        choices.append(SMALL_CAPITALS[letter])
    choices += list(LOOK_ALIKES.get(letter, "")) + list(LEET.get(letter, ""))
    choices += [_fullwidth(letter), _math_bold(letter)]
    return draw(st.sampled_from(choices)) * draw(st.integers(1, 3))


@st.composite
def disguised_word(draw) -> str:
    word = draw(st.sampled_from(sorted(w for w in CHAIN.banned_words if w.isalpha() or " " in w)))
    letters = [draw(disguised_letter(c)) if c != " " else draw(st.sampled_from([" ", "  ", " . "])) for c in word]
    # A separator that also stands for a letter of the word ("++a+r+d") is unreadable to people too.
    separator = draw(st.sampled_from(["", *(s for s in SEPARATORS if not s.strip() or s.strip() not in "".join(letters))]))
    return separator.join(letters)


@st.composite
def in_a_message(draw, inner) -> str:
    before = draw(st.sampled_from(["", "lol ", "my ", "chat is ", "KEKW "]))
    after = draw(st.sampled_from(["", " lol", " is", " !", " KEKW", " now"]))
    return before + draw(inner) + after


TLDS = ["com", "best", "lol", "pizza", "gay", "dating", "рф", "xyz", "live", "gg", "tv", "ly", "co.uk", "app",
        "shop", "click", "io", "ru", "cn", "bet", "stream", "online", "art", "one", "zip", "mov", "club", "top"]


@st.composite
def link(draw) -> str:
    name = draw(st.sampled_from(["drops", "free-skins", "bit", "x", "claim", "nitro", "twitch-gift", "a1"]))
    tld = draw(st.sampled_from(TLDS))
    if draw(st.booleans()):  # a look-alike letter in the name or the domain
        tld = "".join(draw(st.sampled_from([c, *LOOK_ALIKES.get(c, "")])) for c in tld)
    dot = draw(st.sampled_from([".", "．", "。", " dot ", " (.) ", " [dot] "] if tld.isascii() else [".", "．"]))
    case = draw(st.sampled_from([str.lower, str.upper, str.title]))
    path = draw(st.sampled_from(["", "/free", "/x?y=1"])) if dot in (".", "．") else ""
    return case(name + dot + tld) + path


tried = {"banned": 0, "link": 0}


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(in_a_message(disguised_word()))
def test_no_disguised_banned_word_passes(text):
    tried["banned"] += 1
    assert CHAIN.check(text) is not None, text
    assert CHAIN.content_reason(text) is not None, text


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(in_a_message(link()))
def test_no_link_passes(text):
    tried["link"] += 1
    assert has_url(text), text
    assert CHAIN.check(text) is not None, text


def test_enough_cases_were_tried():
    """Runs after the generated tests (file order): at least 300 cases were tried, and none passed."""
    if tried["banned"] == 0:
        pytest.skip("run with the generated tests")
    assert tried["banned"] + tried["link"] >= 300


@pytest.mark.parametrize("text", [
    "ᴋɪᴛᴛᴇɴ", "my ᴋɪᴛᴛᴇɴ is", "k|i|t|t|e|n", "k+i+t+t+e+n", "k(i)t(t)e(n)", "k🙂i🙂t🙂t🙂e🙂n", "K•I•T•T•E•N",
    "🅺🅸🆃🆃🅴🅽", "ⓚⓘⓣⓣⓔⓝ",
])
def test_small_capitals_and_any_separator(text):
    assert CHAIN.banned_word_in(text) == "kitten", text


@pytest.mark.parametrize("text", ["drops.best", "claim at drops.best now", "x.lol", "x.pizza", "x.gay", "x.dating",
                                  "сайт.рф", "a.co.uk", "drops.bеst"])
def test_links_of_every_public_suffix(text):
    assert has_url(text), text


@pytest.mark.parametrize("text", ["wait...what", "3.5mm", "ok. me too", "e.g. this", "LULW", "u.s.a", "v1.2.3"])
def test_not_links(text):
    assert not has_url(text), text


def test_banned_words_do_not_block_words_that_merely_contain_them():
    for text in ["kittens", "skitten", "Niger", "Konnichiwa", "spicy", "pakistan", "coonhound", "con", "scunthorpe",
                 "480 fps", "LULW", "Pepega", "gooking", "trancy", "abode", "dyken", "not in a boss fight",
                 "ready to chill with some goodies", "quickscope like a BO2 player", "KEKW wet back"]:
        assert CHAIN.banned_word_in(text) in (None, "kitten"), text
    assert CHAIN.banned_word_in("kittens") == "kitten"  # a plural is the word


def test_one_normalisation_for_adding_and_removing():
    chain = FilterChain()
    assert chain.is_shipped("rétard") and chain.is_shipped("RETARD") and chain.is_shipped("r e t a r d")
    chain.add_banned_word("rétard")
    assert chain.remove_banned_word("rétard") is False  # the shipped ban stays
    assert chain.banned_word_in("retard") is not None
    chain.add_banned_word("wörd")
    assert chain.banned_word_in("the word") == "wörd"
    assert chain.remove_banned_word("WORD") is True
    assert chain.banned_word_in("the word") is None


def test_a_long_blocked_word_checks_in_linear_time():
    """A blocked word of 40 alternating letters and a prompt of repeated digits: milliseconds."""
    chain = FilterChain()
    chain.add_banned_word("il" * 20)
    worst = "1 " * 25
    started = time.perf_counter()
    for _ in range(10):
        chain.check(worst)
        chain.check("i" * 490 + "l")
    assert (time.perf_counter() - started) / 20 < 0.005
