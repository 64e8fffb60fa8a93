"""The chat format: how a stream of chat messages becomes one sequence of tokens.

Chat is a stream, not a bag of lines. Consecutive messages of a stream are concatenated in
time order with one boundary token between them, so the model learns the flow of chat
(emote trains, answers to questions) and where a message ends:

    EOS m1 EOS m2 EOS ... mk EOS

The boundary is the tokenizer's `eos_token` (GPT-2's own `<|endoftext|>`, so a base GPT-2
fine-tunes onto the same format). Each message is tokenized on its own, so no token ever
spans a boundary. Training, evaluation and generation all go through this module.
"""

from __future__ import annotations

from collections.abc import Sequence

BOUNDARY = "<|endoftext|>"


def boundary_id(tokenizer) -> int:
    return tokenizer.eos_token_id


def encode_messages(tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each message (no boundaries), tokenized in one batched call."""
    if not texts:
        return []
    return tokenizer(list(texts), add_special_tokens=False)["input_ids"]


def encode_stream(tokenizer, texts: Sequence[str]) -> list[int]:
    """`EOS m1 EOS m2 EOS ... mk EOS` as token ids."""
    eos = boundary_id(tokenizer)
    ids = [eos]
    for message_ids in encode_messages(tokenizer, texts):
        ids.extend(message_ids)
        ids.append(eos)
    return ids


def context_ids(tokenizer, context: Sequence[str], max_tokens: int) -> list[int]:
    """The most recent messages of `context` that fit in `max_tokens`, ending with a boundary.

    Always starts at a boundary (a message is never cut in half); with no room or no
    context it is just `[EOS]`, the start of a fresh window.
    """
    eos = boundary_id(tokenizer)
    ids: list[int] = [eos]
    pieces: list[list[int]] = []
    used = 1
    for message_ids in reversed(encode_messages(tokenizer, context)):
        if used + len(message_ids) + 1 > max_tokens:
            break
        pieces.append(message_ids + [eos])
        used += len(message_ids) + 1
    for piece in reversed(pieces):
        ids.extend(piece)
    return ids
