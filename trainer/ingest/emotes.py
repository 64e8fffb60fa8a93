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
from itertools import compress, repeat
from operator import itemgetter, not_

MIN_USES = 10  # a statistical emote must be used this many times ...
MIN_WHOLE_SHARE = 0.15  # ... this share of them as the whole message ...
MIN_CASE_SHARE = 0.94  # ... in exactly this case this share of the time ...
MIN_USERS = 3  # ... by at least this many different chatters (as whole messages)
MAX_TRACKED = 2_000_000  # prune the rarest words beyond this many (memory stays bounded)


class EmoteStats:
    def __init__(self):
        self.words: Counter[str] = Counter()
        self.whole: Counter[str] = Counter()
        # Distinct chatters who posted the text as a whole message, counted per batch of
        # messages (a chatter posting it in several batches counts again: an upper bound that
        # is exact within a batch, cheap to keep, and good enough for "many different people").
        self.whole_users: Counter[str] = Counter()
        self.marked: Counter[str] = Counter()

    def add(self, text: str, user: str | None) -> None:
        """Count one kept message (its cleaned text)."""
        self.add_many([text], [user])

    def add_many(self, texts: list[str], users: list) -> None:
        """Count kept messages in bulk: only C-level loops (map, compress, Counter.update)."""
        spaced = list(map(str.__contains__, texts, repeat(" ")))
        single = list(map(not_, spaced))
        whole = list(compress(texts, single))
        self.words.update(whole)
        self.whole.update(whole)
        if len(whole) < len(texts):
            self.words.update(" ".join(compress(texts, spaced)).split(" "))
        self.whole_users.update(map(itemgetter(0), set(zip(whole, compress(users, single)))))
        if len(self.words) > MAX_TRACKED:
            self._prune()

    def merge(self, other: EmoteStats) -> None:
        """Add the counts of another EmoteStats (from a file imported by a worker process)."""
        self.words.update(other.words)
        self.whole.update(other.whole)
        self.whole_users.update(other.whole_users)
        self.marked.update(other.marked)
        if len(self.words) > MAX_TRACKED:
            self._prune()

    def add_marked(self, names) -> None:
        self.marked.update(names)

    def _prune(self) -> None:
        for counter in (self.words, self.whole, self.whole_users):
            for word in [w for w, n in counter.items() if n < 3]:
                del counter[word]

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
            if self.whole_users.get(word, 0) < MIN_USERS:
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
