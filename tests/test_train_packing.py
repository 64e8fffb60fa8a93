"""Packed blocks: the chat format's token stream, cut into full blocks, no padding."""

from __future__ import annotations

import numpy as np
import pytest
from train_corpus import EMOTES, chat_messages

from trainer.model.chatformat import encode_stream
from trainer.model.packing import BlockDataset, group_streams, pack_blocks, token_stream
from trainer.corpus.records import ChatRecord
from trainer.model.tokenizer import train_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(chat_messages(1000, seed=5), EMOTES)


def records(stream: str, texts: list[str]) -> list[ChatRecord]:
    return [ChatRecord(text=t, stream=stream) for t in texts]


def test_streams_are_joined_in_order_with_one_boundary_between(tokenizer):
    a, b = ["hello chat", "KEKW"], ["gg wp", "LULW LULW", "no way"]
    ids = token_stream(tokenizer, records("a", a) + records("b", b)).tolist()
    eos = tokenizer.eos_token_id
    assert ids == encode_stream(tokenizer, a) + encode_stream(tokenizer, b)[1:]
    assert ids[0] == eos and ids[-1] == eos
    assert ids.count(eos) == len(a) + len(b) + 1  # EOS m1 EOS m2 ... EOS, one boundary each
    assert tokenizer.decode(ids) == "<|endoftext|>" + "<|endoftext|>".join(a + b) + "<|endoftext|>"


def test_group_streams_keeps_file_order():
    recs = records("x", ["1", "2"]) + records("y", ["3"]) + records("x", ["4"])
    assert list(group_streams(recs)) == [("x", ["1", "2"]), ("y", ["3"]), ("x", ["4"])]


def test_blocks_are_full_cover_the_stream_and_cross_message_boundaries(tokenizer):
    texts = chat_messages(400, seed=6)
    ids = token_stream(tokenizer, records("s", texts), chunk=37)  # chunking must not change the stream
    assert ids.tolist() == encode_stream(tokenizer, texts)
    blocks = pack_blocks(ids, 32)
    assert blocks.shape == (len(ids) // 32, 32)
    assert np.array_equal(blocks.reshape(-1), ids[: blocks.size])  # nothing reordered, nothing skipped
    assert len(ids) - blocks.size < 32  # only the incomplete tail is dropped
    eos = tokenizer.eos_token_id
    # blocks start and end anywhere: mid-message is normal, so most blocks don't start at a boundary
    assert sum(block[0] != eos for block in blocks) > len(blocks) // 2
    # no padding: every block is real chat, boundaries only where messages end
    assert sum((block == eos).sum() for block in blocks) <= len(texts) + 1


def test_dataset_items_are_inputs_and_labels(tokenizer):
    blocks = pack_blocks(token_stream(tokenizer, records("s", chat_messages(200, seed=7))), 16)
    item = BlockDataset(blocks)[3]
    assert item["input_ids"].tolist() == blocks[3].tolist() == item["labels"].tolist()
    assert "attention_mask" not in item  # nothing to mask: there are no pads
