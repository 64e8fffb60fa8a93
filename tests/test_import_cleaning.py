"""Each cleaning rule, and that every drop and change is counted."""

from __future__ import annotations

import pytest

from trainer.ingest import cleaning
from trainer.ingest.cleaning import DEFAULT_BOTS, MENTION, MessageCleaner, clean_message


def run(cleaner: MessageCleaner, user, text, is_system=False):
    return cleaner.clean(user, text, is_system)


def test_plain_message_passes_unchanged():
    assert clean_message("hello chat Kappa") == "hello chat Kappa"
    assert clean_message("LULW") == "LULW"


@pytest.mark.parametrize("text", ["!uptime", "!so someone", "/ban someone"])
def test_commands_dropped(text):
    cleaner = MessageCleaner()
    assert run(cleaner, "viewer", text) is None
    assert cleaner.drops == {cleaning.DROP_COMMAND: 1}


@pytest.mark.parametrize("text", [
    "B4sedlink subscribed with Twitch Prime. They've subscribed for 3 months!",
    "viewer subscribed at Tier 1. They've subscribed for 4 months, currently on a 4 month streak!",
    "viewer subscribed with Prime.",
    "someone gifted a Tier 1 sub to other_one!",
    "someone is gifting 5 Tier 1 Subs to sodapoppin's community! They've gifted a total of 7 in the channel!",
    "someone is continuing the Gift Sub they got from other!",
    "someone is paying forward the Gift they got from other to the community!",
    "someone converted from a Twitch Prime sub to a Tier 1 sub!",
    "15 raiders from otherchannel have joined!",
    "viewer_two just subscribed!",
    "Jedibrothers subscribed for 8 months in a row! [LUL]",
])
def test_system_notices_dropped(text):
    cleaner = MessageCleaner()
    assert run(cleaner, "someone", text) is None
    assert cleaner.drops == {cleaning.DROP_NOTICE: 1}


@pytest.mark.parametrize("text", ["i subscribed to him last year", "gifted subs are nice", "raid when"])
def test_chat_about_subs_is_kept(text):
    assert clean_message(text) == text


def test_marked_system_messages_dropped():
    cleaner = MessageCleaner()
    assert run(cleaner, None, "anything at all", is_system=True) is None
    assert cleaner.drops == {cleaning.DROP_NOTICE: 1}


def test_default_and_user_bots_and_own_bot_dropped():
    assert {"nightbot", "streamelements", "fossabot", "moobot", "streamlabs"} <= DEFAULT_BOTS
    cleaner = MessageCleaner(bot_names=["Techno", " @MyModBot "], own_name="StreamChatBot")
    assert run(cleaner, "Nightbot", "Follow on twitter") is None
    assert run(cleaner, "techno", "a bot line") is None
    assert run(cleaner, "mymodbot", "another") is None
    assert run(cleaner, "streamchatbot", "my own words") is None
    assert run(cleaner, "viewer", "a person") == "a person"
    assert cleaner.drops == {cleaning.DROP_BOT: 3, cleaning.DROP_SELF: 1}


def test_me_and_ctcp_action_unwrapped():
    counts: dict = {}
    assert cleaning.clean_text("/me waves at chat", counts, counts) == "waves at chat"
    assert cleaning.clean_text("\x01ACTION LOTSA EFFS monkaW\x01", counts, counts) == "LOTSA EFFS monkaW"
    assert counts[cleaning.CHANGE_ACTION] == 2


def test_urls_removed_and_link_only_dropped():
    cleaner = MessageCleaner()
    assert run(cleaner, "a", "look https://clips.twitch.tv/abc?x=1 LUL") == "look LUL"
    assert run(cleaner, "a", "www.example.com/guide") is None
    assert run(cleaner, "a", "join discord.gg/xyz now") == "join now"
    assert run(cleaner, "a", "i am fine. ok.") == "i am fine. ok."
    assert cleaner.changes[cleaning.CHANGE_URL] == 3
    assert cleaner.drops == {cleaning.DROP_LINK_ONLY: 1}


def test_mentions_never_keep_a_name():
    cleaner = MessageCleaner()
    assert run(cleaner, "a", "@Some_Viewer123 you are right") == f"{MENTION} you are right"
    assert run(cleaner, "a", "hi @名前 and @x") == f"hi {MENTION} and {MENTION}"
    assert run(cleaner, "a", "@lonely") is None
    assert cleaner.drops == {cleaning.DROP_MENTION_ONLY: 1}
    assert clean_message("@someone") is None


def test_usernames_of_the_stream_replaced_as_words():
    cleaner = MessageCleaner()
    cleaner.add_names(["lacari", "smgski3", "hand", "VulpesHD", "peepoweird"])
    assert run(cleaner, "x", "lacari is here") == f"{MENTION} is here"
    assert run(cleaner, "x", "smgski3, isnt it brutal") == f"{MENTION}, isnt it brutal"
    # four-letter all-letter logins are ordinary words far more often
    assert run(cleaner, "x", "hand up") == "hand up"
    assert run(cleaner, "x", "vulpeshd lol") == f"{MENTION} lol"
    # camel-case words are emotes, not typed names
    assert run(cleaner, "x", "peepoWeird") == "peepoWeird"
    assert cleaner.changes[cleaning.CHANGE_USERNAME] == 3
    cleaner.start_stream()
    assert run(cleaner, "x", "lacari is here") == "lacari is here"


def test_invisible_characters_stripped_and_whitespace_normalized():
    counts: dict = {}
    assert cleaning.clean_text("hello \U000e0000", counts, counts) == "hello"
    assert cleaning.clean_text("he\u200bllo\u202e chat", counts, counts) == "hello chat"
    assert cleaning.clean_text("tab\there   and  there ", counts, counts) == "tab here and there"
    assert cleaning.clean_text("\u200b\u200d", counts, counts) is None
    assert counts[cleaning.CHANGE_INVISIBLE] == 3
    assert counts[cleaning.DROP_EMPTY] == 1


def test_long_messages_and_walls_capped():
    counts: dict = {}
    wall = " ".join(["LUL"] * 40)
    assert cleaning.clean_text(wall, counts, counts) == " ".join(["LUL"] * cleaning.MAX_WORD_REPEAT)
    long = ("word " * 200).strip()
    capped = cleaning.clean_text(long.replace("word word", "word other"), counts, counts)
    assert len(capped) <= cleaning.TRAINING_MESSAGE_CHARS and not capped.endswith(" ")
    assert cleaning.clean_text("A" * 50, counts, counts) == "A" * cleaning.MAX_CHAR_RUN
    assert counts[cleaning.CHANGE_REPEAT] == 2 and counts[cleaning.CHANGE_LONG] == 1


def test_bursts_thinned_but_emote_trains_kept():
    cleaner = MessageCleaner()
    kept = [run(cleaner, f"user{i}", "Pog") for i in range(200)]
    assert kept.count("Pog") == cleaning.BURST_MAX
    assert cleaner.drops == {cleaning.DROP_BURST: 200 - cleaning.BURST_MAX}
    # after enough other chat the line may come back
    for i in range(cleaning.BURST_WINDOW):
        run(cleaner, "u", f"message number {i}")
    assert run(cleaner, "u", "Pog") == "Pog"


def test_blocked_words_drop_the_message():
    cleaner = MessageCleaner(blocked_words=["badword", "two words"])
    assert run(cleaner, "a", "this has BadWord in it") is None
    assert run(cleaner, "a", "say two words now") is None
    assert run(cleaner, "a", "badwords is another word") == "badwords is another word"
    assert cleaner.drops == {cleaning.DROP_BLOCKED: 2}
    assert clean_message("badword here", blocked_words=["badword"]) is None


def test_every_drop_and_change_is_counted():
    cleaner = MessageCleaner()
    texts = ["hello", "!cmd", "@x", "https://a.com", "hi @x", "/me waves", "\u200b", "x" * 400]
    results = [run(cleaner, "viewer", t) for t in texts]
    dropped = sum(1 for r in results if r is None)
    assert sum(cleaner.drops.values()) == dropped


@pytest.mark.parametrize("text", [
    "- ItsCydo just re-subscribed for 10 months! fl0mPog",
    "An anonymous user gifted a Tier 1 sub to @user!",
    "An anonymous user gifted a Tier 1 sub to SomeViewer!",
    "Someone won 827 points in roulette and now has 1654 points!",
    "Someone lost 1,000 points in roulette and now has 0 points! LUL",
    "Viewer99 resubscribed for 3 months!",
])
def test_notices_dropped_whoever_posts_them(text):
    cleaner = MessageCleaner()
    assert cleaner.clean("some_sub_bot", text) is None
    assert cleaner.drops == {cleaning.DROP_NOTICE: 1}
    assert clean_message(text) is None


def test_watch_streak_keeps_only_the_viewers_message():
    cleaner = MessageCleaner()
    share = "SomeViewer watched 45 consecutive streams and sparked a watch streak! "
    assert cleaner.clean("someviewer", share + "love this stream KEKW") == "love this stream KEKW"
    assert cleaner.clean("someviewer", share.strip()) is None
    assert clean_message(share + "hi chat") == "hi chat"
    for text in ["i won 5 games in a row", "we lost 2 rounds in overtime", "my watch streak is long"]:
        assert clean_message(text) == text
