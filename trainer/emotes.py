"""The emote vocabulary: emotes the logs mark, plus emotes found statistically in plain text.

Only Twitch's own emotes carry markers (IRC `emotes=` tags, JSON fragments); 7TV, BTTV and FFZ
emotes are plain words. On plain text an emote stands out (see ../shared/notes/formats.md):

- a large share of its uses is the whole message (`Sadge`, `LULW`), where a word's share is ~0;
- its case never varies (`Kappa`, never `kappa`): ordinary words are typed every which way;
- it has an uppercase letter (camel case, all caps, a channel prefix like `sodaH`, `iron95Pls`);
- many different people post it.

`EmoteStats` counts as messages stream past (cheap: one `Counter.update` per message) and
`vocabulary()` applies those tests at the end. Names keep their case.
"""

from __future__ import annotations

from collections import Counter

MIN_USES = 10  # a statistical emote must be used this many times ...
MIN_WHOLE_SHARE = 0.15  # ... this share of them as the whole message ...
MIN_CASE_SHARE = 0.94  # ... in exactly this case this share of the time ...
MIN_USERS = 3  # ... by at least this many different chatters (as whole messages)
MAX_TRACKED = 2_000_000  # prune the rarest words beyond this many (memory stays bounded)


class EmoteStats:
    def __init__(self):
        self.words: Counter[str] = Counter()
        self.whole: Counter[str] = Counter()
        self.whole_users: dict[str, set] = {}
        self.marked: Counter[str] = Counter()

    def add(self, text: str, user: str | None) -> None:
        """Count one kept message (its cleaned text)."""
        if " " in text:
            self.words.update(text.split(" "))
            return
        self.words[text] += 1
        self.whole[text] += 1
        users = self.whole_users.get(text)
        if users is None:
            self.whole_users[text] = {user}
        elif len(users) < MIN_USERS:
            users.add(user)
        if len(self.words) > MAX_TRACKED:
            self._prune()

    def add_many(self, texts: list[str], users: list) -> None:
        """Count kept messages in bulk (C-speed `Counter.update`s; the import's hot path)."""
        whole = [t for t in texts if " " not in t]
        self.words.update(whole)
        if len(whole) < len(texts):
            self.words.update(" ".join([t for t in texts if " " in t]).split(" "))
        self.whole.update(whole)
        # Distinct chatters per one-word message: (text, user) pairs seen, capped at MIN_USERS.
        whole_users = self.whole_users
        for text, user in set(zip(whole, [u for t, u in zip(texts, users) if " " not in t])):
            seen = whole_users.get(text)
            if seen is None:
                whole_users[text] = {user}
            elif len(seen) < MIN_USERS:
                seen.add(user)
        if len(self.words) > MAX_TRACKED:
            self._prune()

    def merge(self, other: EmoteStats) -> None:
        """Add the counts of another EmoteStats (from a file imported by a worker process)."""
        self.words.update(other.words)
        self.whole.update(other.whole)
        self.marked.update(other.marked)
        mine = self.whole_users
        for text, users in other.whole_users.items():
            seen = mine.get(text)
            if seen is None:
                mine[text] = set(users)
            elif len(seen) < MIN_USERS:
                seen.update(users)
        if len(self.words) > MAX_TRACKED:
            self._prune()

    def add_marked(self, names) -> None:
        self.marked.update(names)

    def _prune(self) -> None:
        for counter in (self.words, self.whole):
            for word in [w for w, n in counter.items() if n < 3]:
                del counter[word]
        self.whole_users = {w: u for w, u in self.whole_users.items() if w in self.whole}

    def statistical(self) -> dict[str, int]:
        """Words that pass every emote test, with their use counts."""
        frequent = [(w, n) for w, n in self.words.items() if n >= MIN_USES // 2]
        by_case: Counter[str] = Counter()
        for word, count in frequent:
            by_case[word.lower()] += count
        found = {}
        for word, count in frequent:
            if count < MIN_USES or len(word) < 2 or word.islower() or not any(c.isupper() for c in word):
                continue
            if not any(c.isalpha() for c in word) or not word.isprintable() or word.startswith("@"):
                continue
            if self.whole[word] < MIN_WHOLE_SHARE * count:
                continue
            if count < MIN_CASE_SHARE * by_case[word.lower()]:
                continue
            if len(self.whole_users.get(word, ())) < MIN_USERS:
                continue
            # A capitalised ordinary word ("Yes", "What") fails the case test; an all-caps
            # shout ("LOL", "NO") too, because people also type "lol" and "no".
            found[word] = count
        return found

    def vocabulary(self, statistical: dict[str, int] | None = None) -> list[str]:
        """Marked and statistical emotes, most used first (case kept)."""
        counts = Counter(self.statistical() if statistical is None else statistical)
        for name, marked in self.marked.items():
            if " " not in name and name.isprintable():
                counts[name] = max(counts[name], self.words.get(name, 0), marked)
        return [name for name, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
