"""A small synthetic chat corpus in the records schema, for the training tests.

Written here (not read from ../shared/data) so the training tests run anywhere: a few
streams of chat-like messages with emotes, emote trains and repeated lines, deterministic.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from trainer.corpus.records import EMOTES_FILE, STATS_FILE, TRAIN_FILE, VALID_FILE, ChatRecord, write_records

EMOTES = ["LULW", "KEKW", "OMEGALUL", "PogChamp", "monkaS", "4Head", "Sadge", "D:", "peepoHappy"]
WORDS = (
    "the chat is so good today i think he will win this one no way that was close what is happening "
    "lets go boys hello again nice play gg wp why would you do that true lmao bro just one more"
).split()


def chat_messages(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    messages: list[str] = []
    while len(messages) < count:
        kind = rng.random()
        if kind < 0.25:  # an emote train: the same emote a few times in a row
            emote = rng.choice(EMOTES)
            messages.extend([emote] * rng.randint(2, 5))
        elif kind < 0.4 and messages:  # someone repeats a recent message
            messages.append(rng.choice(messages[-20:]))
        else:
            words = [rng.choice(WORDS) for _ in range(rng.randint(1, 8))]
            if rng.random() < 0.5:
                words.insert(rng.randint(0, len(words)), rng.choice(EMOTES))
            messages.append(" ".join(words))
    return messages[:count]


def write_corpus(out: Path, *, train_streams: int = 3, per_stream: int = 600, valid_messages: int = 300) -> Path:
    """A prepared-corpus folder as `prepare` writes it; returns `out`."""
    out.mkdir(parents=True, exist_ok=True)
    train = [
        ChatRecord(text=text, channel="testchannel", stream=f"s{s}")
        for s in range(train_streams)
        for text in chat_messages(per_stream, seed=s)
    ]
    valid = [ChatRecord(text=t, channel="testchannel", stream="v0") for t in chat_messages(valid_messages, seed=99)]
    write_records(out / TRAIN_FILE, train)
    write_records(out / VALID_FILE, valid)
    (out / EMOTES_FILE).write_text("\n".join(EMOTES) + "\n", encoding="utf-8")
    (out / STATS_FILE).write_text(json.dumps({"files": [{"path": "synthetic", "messages": len(train)}]}))
    return out
