"""Cleaning chat messages: the rules that turn a raw chat line into something a model may learn.

Every rule is counted, so `stats.json` says exactly what happened to every message:

- dropped (`DROP_*`): messages of bot accounts and of the bot itself, `!commands`, sub/gift/raid
  and other system notices, messages containing a user-blocked word, messages left empty after
  cleaning (only a link, only a mention, only invisible characters), repeats thinned out of a burst;
- changed (`CHANGE_*`): `/me` and CTCP ACTION wrappers unwrapped, URLs removed, `@mentions` and
  usernames replaced by the neutral `MENTION` (the model must never learn a username), invisible
  characters stripped (`trainer.text.strip_invisible`: U+E0000 tags, zero-width, bidi and control
  characters, blank-looking letters, "Zalgo" marks), whitespace collapsed, runs of one word or
  character capped, very long messages cut at a word boundary.

`clean_message(text)` applies the rules that need nothing but the text; the bot uses it on live
chat. `MessageCleaner` adds the rules that need the sender or the stream (bots, usernames of the
log, bursts) and is what `prepare` runs.

The hot path is written for speed (about 1 µs for a typical message): each rule is guarded by a
cheap test (`in`, `isprintable`, `startswith`) before any regular expression runs.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterable

from trainer.ingest.formats.reading import Message
from trainer.text import LINK_PATTERN, LOGGED_COMMAND_PREFIXES, MENTION_PATTERN, cut_at_word, strip_invisible

# Every @mention and every username found in a message becomes this one neutral word.
MENTION = "@user"

# Known bot accounts (lowercase logins). The user adds more with `--bots`.
DEFAULT_BOTS = frozenset(
    {
        "nightbot", "streamelements", "fossabot", "moobot", "streamlabs", "wizebot", "deepbot",
        "phantombot", "coebot", "ankhbot", "botisimo", "soundalerts", "sery_bot", "pretzelrocks",
        "commanderroot", "stay_hydrated_bot", "kofistreambot", "supibot", "own3d", "streamstickers",
        "tangiabot", "blerp", "frostytoolsdotcom", "wzbot", "pokemoncommunitygame",
        "streamcaptainbot", "songlistbot", "restreambot", "vivbot", "twitchnotify", "jtv",
        "twitchprimereminder", "nightbot_", "ohbot", "revlobot", "scorpbot", "hnlbot", "moobot_",
        "streamjar", "lolrankbot", "mikuia", "xanbot", "dixperbro", "buttsbot", "potatbotat",
        "thepositivebot", "lumiastream", "creatisbot", "fyow_bot", "songlist", "stream_elements",
        "electricallongboard", "anotherttvviewer", "lurxx", "drapsnatt",
    }
)

# Twitch allows 500 characters (text.TWITCH_MESSAGE_CHARS); a longer message than this in a log
# is a copypasta wall, cut at a word boundary before the model learns it.
TRAINING_MESSAGE_CHARS = 300
MAX_WORD_REPEAT = 6  # "LUL LUL LUL ..." keeps six in a row
MAX_CHAR_RUN = 12  # "AAAAAAAAAAAAAAAAAAAA" keeps twelve
BURST_WINDOW = 50  # a message repeated among the last 50 kept messages of a stream ...
BURST_MAX = 5  # ... is kept at most 5 times: emote trains stay, 16,000 copies don't

DROP_EMPTY = "empty"
DROP_BOT = "bot_account"
DROP_SELF = "own_bot"
DROP_COMMAND = "command"
DROP_NOTICE = "system_notice"
DROP_BLOCKED = "blocked_word"
DROP_LINK_ONLY = "link_only"
DROP_MENTION_ONLY = "mention_only"
DROP_BURST = "burst_repeat"
DROP_REASONS = (
    DROP_BOT, DROP_SELF, DROP_COMMAND, DROP_NOTICE, DROP_BLOCKED, DROP_EMPTY, DROP_LINK_ONLY,
    DROP_MENTION_ONLY, DROP_BURST,
)

CHANGE_ACTION = "action_unwrapped"
CHANGE_STREAK = "watch_streak_unwrapped"
CHANGE_URL = "url_removed"
CHANGE_MENTION = "mention_replaced"
CHANGE_USERNAME = "username_replaced"
CHANGE_INVISIBLE = "invisible_stripped"
CHANGE_SPACE = "whitespace_normalized"
CHANGE_REPEAT = "repeats_capped"
CHANGE_LONG = "long_capped"

# Sub, resub, gift, raid, ban notices as chat logs print them: at the start of the text, after
# at most one word (the user's name). Specific phrases only, so "i subscribed to him" stays.
# A sub bot's own account may post them ("- Name just re-subscribed for 10 months!"), and an
# anonymous gift names no one ("An anonymous user gifted a Tier 1 sub to ..."): whoever posts a
# notice, it is dropped. Channel game bots' results ("Name won 827 points in roulette and now has
# 1654 points!") name a chatter and are dropped alike.
_NOTICE = re.compile(
    r"(?:[^\w\s]{1,3} )?(?:\S+ |(?i:an? anonymous (?:user|gifter|cheerer)) )?(?:"
    r"subscribed (?:with (?:Twitch )?Prime|at Tier \d|for \d+ months? in a row|to .{1,30} for \d+ months)"
    r"|(?:just )?re-?subscribed (?:for|with|at) "
    r"|(?:won|lost) [\d,.]+ \S+ (?:in|on|at|playing) .{1,40}(?:now ha(?:s|ve)|has now|total) [\d,.]+"
    r"|just subscribed(?: with| to|!|$)"
    r"|(?:is )?gifting (?:a|an|\d+) (?:Tier \d )?[Ss]ub"
    r"|gifted (?:a|an|\d+) (?:Tier \d )?[Ss]ubs?(?: to|!|$)"
    r"|gifted a Tier \d sub to"
    r"|is continuing the Gift Sub"
    r"|is paying forward the Gift"
    r"|converted from a (?:Twitch )?Prime sub"
    r"|is extending their (?:Gift )?Sub"
    r"|raiders from \S+ have joined"
    r"|is raiding with a party"
    r"|(?:has|just) raided the channel"
    r"|has been (?:timed out|banned|permanently banned|unbanned)"
    r"|is now (?:live|hosting)|now hosting \S+"
    r"|(?:cheered|donated) \$?\d"
    r")"
)
_CHAR_RUN = re.compile(r"(.)\1{%d,}" % MAX_CHAR_RUN)
# Words that could be a Twitch login, for the username check.
_LOGIN_WORD = re.compile(r"[a-z0-9_]{4,25}")
_LOGIN_WORD_CASED = re.compile(r"[A-Za-z0-9_]{4,25}")


def _maybe_notice(text: str) -> bool:
    """A cheap test that lets most messages skip the notice pattern: every notice has one of these."""
    return ("ub" in text or "ift" in text or "aid" in text or "been" in text or "now " in text
            or "heer" in text or "onat" in text or "won " in text or "lost " in text)


# Twitch's watch-streak share: the viewer's own message follows the announcement.
_WATCH_STREAK = re.compile(r"(?:\S+ )?watched \d+ consecutive streams(?: this month)? and sparked a watch streak!\s*")


def _bump(counts: dict, key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def clean_text(text: str, drops: dict, changes: dict) -> str | None:
    """The text-only rules; returns the cleaned text or None, counting into `drops`/`changes`."""
    if text.startswith(("/me ", "\x01ACTION ")):
        text = text[4:] if text[0] == "/" else text[8:].rstrip("\x01")
        _bump(changes, CHANGE_ACTION)
    if not (text.isascii() and text.isprintable()):
        stripped = strip_invisible(text)
        if stripped is not text or not text.isprintable():
            if stripped.split() != text.split():  # more than whitespace went
                _bump(changes, CHANGE_INVISIBLE)
            # Tabs, newlines and exotic spaces become single spaces.
            text = " ".join(stripped.split())
    if not text:
        _bump(drops, DROP_EMPTY)
        return None
    if text[0] in LOGGED_COMMAND_PREFIXES:
        _bump(drops, DROP_COMMAND)
        return None
    if _maybe_notice(text) and _NOTICE.match(text):
        _bump(drops, DROP_NOTICE)
        return None
    if "streak" in text:
        streak = _WATCH_STREAK.match(text)
        if streak:
            text = text[streak.end():]
            _bump(changes, CHANGE_STREAK)
            if not text:
                _bump(drops, DROP_NOTICE)
                return None
    if "." in text or "://" in text:
        replaced = LINK_PATTERN.sub("", text)
        if replaced != text:
            _bump(changes, CHANGE_URL)
            text = " ".join(replaced.split())
            if not text:
                _bump(drops, DROP_LINK_ONLY)
                return None
    if "@" in text:
        replaced = MENTION_PATTERN.sub(MENTION, text)
        if replaced != text:
            _bump(changes, CHANGE_MENTION)
            text = replaced
    if "  " in text or text[0] == " " or text[-1] == " ":
        text = " ".join(text.split())
        _bump(changes, CHANGE_SPACE)
        if not text:
            _bump(drops, DROP_EMPTY)
            return None
    if len(text) > 24:
        text = _cap(text, changes)
    return text


def _cap(text: str, changes: dict) -> str:
    """Cap runs of one character, runs of one word, and the length."""
    words = text.split(" ")
    if max(map(len, words)) > MAX_CHAR_RUN and _CHAR_RUN.search(text):
        text = _CHAR_RUN.sub(lambda m: m.group(1) * MAX_CHAR_RUN, text)
        _bump(changes, CHANGE_REPEAT)
        words = text.split(" ")
    if len(words) > MAX_WORD_REPEAT and len(set(words)) < len(words):
        kept = []
        run = 0
        previous = None
        for word in words:
            run = run + 1 if word == previous else 1
            previous = word
            if run <= MAX_WORD_REPEAT:
                kept.append(word)
        if len(kept) != len(words):
            text = " ".join(kept)
            _bump(changes, CHANGE_REPEAT)
    if len(text) > TRAINING_MESSAGE_CHARS:
        text = cut_at_word(text, TRAINING_MESSAGE_CHARS)
        _bump(changes, CHANGE_LONG)
    return text


def clean_message(text: str, *, blocked_words: Iterable[str] = ()) -> str | None:
    """Clean one message with the rules that need only its text; None means drop it.

    The bot runs this on live chat before collecting it, so collected and imported chat follow
    the same rules. Bot accounts and bursts need the sender and the stream: see `MessageCleaner`.
    """
    counts: dict = {}
    cleaned = clean_text(text, counts, counts)
    if cleaned is None or cleaned == MENTION:
        return None
    blocked = blocked_word_pattern(blocked_words)
    if blocked is not None and blocked.search(cleaned):
        return None
    return cleaned


def blocked_word_pattern(words: Iterable[str]) -> re.Pattern | None:
    """One case-insensitive whole-word pattern for the user's blocked words (None when empty)."""
    words = sorted({w.strip() for w in words if w and w.strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:%s)(?!\w)" % "|".join(map(re.escape, words)), re.IGNORECASE)


def could_be_username(name: str) -> bool:
    """Whether a chatter's login is replaced where it appears as a word.

    Every login of five characters or more is; of four only one with a digit or an underscore
    (`hand`, `pogu` are real chatters, and ordinary words far more often than names).
    """
    return len(name) >= 5 or (len(name) >= 4 and not name.isalpha())


# A word that could be a login, as a whole word (no letter, digit or _ on either side).
_WHOLE_LOGIN_WORD = re.compile(r"(?<![\w])@?[A-Za-z0-9_]{4,25}(?![\w])")


class NameScrubber:
    """Replaces every chatter's login in a text by `MENTION`, as a whole word with or without
    `@`, in any case, unless the word is an emote of the channel (exactly as the emote is
    spelled) or a channel's name. `prepare` runs it once the whole import is read, so a name
    is caught in every stream, whoever typed it and wherever its owner chatted."""

    def __init__(self, logins: Iterable[str], *, emotes: Iterable[str] = (), channels: Iterable[str] = ()):
        spared = {c.lower() for c in channels if c}
        self.names = frozenset(n for n in map(str.lower, logins) if could_be_username(n) and n not in spared)
        self.emotes = frozenset(emotes)
        self.replaced = 0

    def has_name(self, text: str) -> bool:
        """A cheap test first: whether a word of `text` is a name (in any case)."""
        return not self.names.isdisjoint(_LOGIN_WORD.findall(text.lower()))

    def scrub(self, text: str) -> str:
        def swap(match: re.Match) -> str:
            word = match.group().lstrip("@")
            if word.lower() in self.names and word not in self.emotes:
                self.replaced += 1
                return MENTION
            return match.group()

        return " ".join(_WHOLE_LOGIN_WORD.sub(swap, text).split())


class MessageCleaner:
    """All cleaning rules for imported logs, with every drop and change counted.

    One cleaner serves a whole import; call `start_stream()` at each new stream (it resets the
    burst window and the names of the stream's chatters).
    """

    def __init__(
        self,
        bot_names: Iterable[str] = (),
        own_name: str | None = None,
        blocked_words: Iterable[str] = (),
    ):
        self.bots = frozenset(DEFAULT_BOTS | {b.strip().lower().lstrip("@") for b in bot_names if b.strip()})
        self.own_name = own_name.strip().lower().lstrip("@") if own_name else None
        self.blocked = blocked_word_pattern(blocked_words)
        self.drops: dict[str, int] = {}
        self.changes: dict[str, int] = {}
        self.start_stream()

    def start_stream(self) -> None:
        self.names: set[str] = set()
        self._seen_users: set = set()
        self._dropped_users: dict[str, str] = {}  # user as logged -> drop reason (bots, own bot)
        self._window: deque[str] = deque()
        self._window_counts: dict[str, int] = {}

    def add_names(self, users: Iterable[str | None]) -> None:
        """Chatters of the current stream: their logins are replaced where they appear as words."""
        seen = self._seen_users
        fresh = set(users) - seen
        if fresh:
            seen |= fresh
            self.names.update(n for n in map(str.lower, filter(None, fresh)) if could_be_username(n))
            self._dropped_users.update(
                {u: (DROP_BOT if u.lower() in self.bots else DROP_SELF)
                 for u in fresh if u and (u.lower() in self.bots or u.lower() == self.own_name)}
            )

    def clean(self, user: str | None, text: str, is_system: bool = False) -> str | None:
        """Clean one parsed message; None means dropped (and counted)."""
        texts, _, _ = self.clean_many((Message(user, text, is_system=is_system),))
        return texts[0] if texts else None

    def clean_many(self, messages) -> tuple[list[str], list, list]:
        """Clean parsed messages (`trainer.ingest.formats.Message` tuples) of the current stream, in order.

        Returns the kept texts with their users and timestamps. This is the import's hot loop:
        a short printable message with nothing to clean skips every rule but the cheap ones.
        """
        self.add_names([m.user for m in messages])  # a no-op for users seen before
        dropped_users = self._dropped_users
        texts: list[str] = []
        users: list = []
        times: list = []
        drops = self.drops
        changes = self.changes
        names = self.names
        blocked = self.blocked
        counts = self._window_counts
        window = self._window
        find_words = _LOGIN_WORD.findall
        full_clean = clean_text
        notice = _NOTICE.match
        plain_start = LOGGED_COMMAND_PREFIXES + " "
        for m in messages:
            user = m.user
            text = m.text
            if m.is_system:
                drops[DROP_NOTICE] = drops.get(DROP_NOTICE, 0) + 1
                continue
            if user in dropped_users:
                reason = dropped_users[user]
                drops[reason] = drops.get(reason, 0) + 1
                continue
            size = len(text)
            if (
                0 < size <= TRAINING_MESSAGE_CHARS and text.isprintable() and text[0] not in plain_start
                and text[-1] != " " and "." not in text and "@" not in text and "  " not in text and "streak" not in text
                and "://" not in text and (text.isascii() or strip_invisible(text) is text)
            ):
                # Nothing to strip, unwrap, link or mention (the common case, inlined for speed):
                # the same rules as clean_text, minus those that can't apply.
                if _maybe_notice(text) and notice(text):
                    drops[DROP_NOTICE] = drops.get(DROP_NOTICE, 0) + 1
                    continue
                if size > 24:
                    words = text.split(" ")
                    if ((len(words) > MAX_WORD_REPEAT and len(set(words)) < len(words))
                            or max(map(len, words)) > MAX_CHAR_RUN):
                        text = _cap(text, changes)
            else:
                text = full_clean(text, drops, changes)
                if text is None:
                    continue
            if names and not names.isdisjoint(find_words(text.lower())):
                text = self._replace_names(text)
                if text == MENTION:
                    drops[DROP_MENTION_ONLY] = drops.get(DROP_MENTION_ONLY, 0) + 1
                    continue
            elif text == MENTION:
                drops[DROP_MENTION_ONLY] = drops.get(DROP_MENTION_ONLY, 0) + 1
                continue
            if blocked is not None and blocked.search(text):
                drops[DROP_BLOCKED] = drops.get(DROP_BLOCKED, 0) + 1
                continue
            # Burst thinning: this text among the last BURST_WINDOW kept messages of the stream.
            seen = counts.get(text, 0)
            if seen >= BURST_MAX:
                drops[DROP_BURST] = drops.get(DROP_BURST, 0) + 1
                continue
            counts[text] = seen + 1
            window.append(text)
            if len(window) > BURST_WINDOW:
                old = window.popleft()
                left = counts[old] - 1
                if left:
                    counts[old] = left
                else:
                    del counts[old]
            texts.append(text)
            users.append(user)
            times.append(m.ts)
        return texts, users, times

    def _replace_names(self, text: str) -> str:
        names = self.names
        replaced = 0

        def swap(match: re.Match) -> str:
            nonlocal replaced
            word = match.group()
            # Only as typed in lower case: a capitalised word may be an emote (`Sadge`, `peepoWeird`),
            # which only the whole import tells apart; `NameScrubber` replaces the rest then.
            if word.islower() and word in names:
                replaced += 1
                return MENTION
            return word

        out = _LOGIN_WORD_CASED.sub(swap, text)
        if replaced:
            self.changes[CHANGE_USERNAME] = self.changes.get(CHANGE_USERNAME, 0) + replaced
            # "@@user" when the name already had an @ is impossible (mentions are replaced first),
            # but "@user @user" from "@a b" is fine.
        return out


class BotLikeAccounts:
    """Finds accounts that post like bots: many near-identical templated lines with numbers
    ("- Name just re-subscribed for 10 months!", "Name won 827 points ..."). A line's template
    is its lower-case words; names, numbers and emotes vary and are left out. `prepare` names
    them in its summary, with the `--bots` line that drops them."""

    MIN_REPEATS = 10  # a template is one used this many times ...
    MIN_LINES = 50  # ... an account posts this many lines of its templates ...
    MIN_SHARE = 0.5  # ... and they are this share of all its messages

    def __init__(self):
        self.messages: Counter[str] = Counter()
        self.templates: Counter[tuple[str, str]] = Counter()

    def add_many(self, messages) -> None:
        self.messages.update(m.user.lower() for m in messages if m.user)
        for m in messages:
            if m.user and any(c.isdigit() for c in m.text):
                template = " ".join(w for w in m.text.split() if w.isalpha() and w.islower())
                if template.count(" ") >= 1:
                    self.templates[m.user.lower(), template] += 1

    def merge(self, other: BotLikeAccounts) -> None:
        self.messages.update(other.messages)
        self.templates.update(other.templates)

    def found(self, known: Iterable[str] = ()) -> list[tuple[str, int, int]]:
        """(account, templated lines, messages) of every bot-like account not in `known`, most first."""
        known = {k.lower() for k in known}
        best: dict[str, int] = {}  # lines of the account's templates used 10 times or more
        for (user, _), count in self.templates.items():
            if count >= self.MIN_REPEATS:
                best[user] = best.get(user, 0) + count
        return sorted(
            ((user, count, self.messages[user]) for user, count in best.items()
             if user not in known and count >= self.MIN_LINES and count >= self.MIN_SHARE * self.messages[user]),
            key=lambda found: -found[1],
        )
