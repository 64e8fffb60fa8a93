"""Packed training blocks: the chat format's token stream cut into fixed-length blocks.

Every stream is encoded with trainer/model/chatformat.py (`EOS m1 EOS m2 ... EOS`), streams are
joined in order (one boundary between the last message of a stream and the first of the
next), and the whole sequence is cut into blocks of `block_size` tokens. No padding and no
compute spent on pad tokens: a block may start or end in the middle of a message, and the
model learns across message boundaries exactly as it will see chat at generation time.
Only the last, incomplete block is dropped (fewer than `block_size` tokens in all).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from trainer.model.chatformat import encode_stream
from trainer.corpus.records import ChatRecord


def group_streams(records: Iterable[ChatRecord]) -> Iterator[tuple[str, list[str]]]:
    """(stream, texts) for each run of consecutive records of one stream, in file order (a stream
    split by another comes out as two runs, unlike `baselines.texts_by_stream`).

    Records of one stream are written in time order (trainer/corpus/records.py), so keeping the
    file order keeps time order.
    """
    stream: str | None = None
    texts: list[str] = []
    for record in records:
        if record.stream != stream and texts:
            yield stream or "", texts
            texts = []
        stream = record.stream
        texts.append(record.text)
    if texts:
        yield stream or "", texts


def _encode_stream_fast(tokenizer, texts: list[str]) -> list[int]:
    """`chatformat.encode_stream`, with the Rust tokenizer's batch call that skips offsets
    (about twice as fast on a big corpus; the ids are the same)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or not hasattr(backend, "encode_batch_fast"):
        return encode_stream(tokenizer, texts)
    eos = tokenizer.eos_token_id
    ids = [eos]
    for encoding in backend.encode_batch_fast(texts, add_special_tokens=False):
        ids.extend(encoding.ids)
        ids.append(eos)
    return ids


def token_stream(tokenizer, records: Iterable[ChatRecord], chunk: int = 20_000) -> np.ndarray:
    """All records as one token sequence, stream by stream, in chat format (int32)."""
    parts: list[np.ndarray] = []
    for _, texts in group_streams(records):
        for start in range(0, len(texts), chunk):
            ids = _encode_stream_fast(tokenizer, texts[start : start + chunk])
            if parts:
                ids = ids[1:]  # the previous part already ends with the boundary
            parts.append(np.asarray(ids, dtype=np.int32))
    if not parts:
        return np.zeros(0, dtype=np.int32)
    return np.concatenate(parts)


def pack_blocks(ids: np.ndarray, block_size: int) -> np.ndarray:
    """`ids` cut into a [n_blocks, block_size] array; the incomplete tail is dropped."""
    n_blocks = len(ids) // block_size
    return ids[: n_blocks * block_size].reshape(n_blocks, block_size)


class BlockDataset:
    """A torch-style dataset of packed blocks for transformers' `Trainer` (labels = inputs;
    the model shifts them itself)."""

    def __init__(self, blocks: np.ndarray):
        self.blocks = blocks

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, index: int) -> dict:
        import torch

        ids = torch.from_numpy(self.blocks[index].astype(np.int64))
        return {"input_ids": ids, "labels": ids}
