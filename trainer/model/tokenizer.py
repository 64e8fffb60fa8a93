"""The chat tokenizer: byte-level BPE trained on the training split, with emotes kept whole.

Chat is a small language of its own (emotes, `KEKW`, `!commands`, copy-pasta), so we train a
byte-level BPE on the channel's own training messages instead of reusing GPT-2's 50k
vocabulary, and size it to the data (a big vocabulary on a small corpus leaves most token
embeddings untrained and makes the output layer the costliest part of a small model).

Emotes are words with a fixed spelling and case (`LULW` is not `lulw`), so each emote of
`emotes.txt` is always ONE token, both at the start of a message (`LULW`) and after a space
(` LULW`, GPT-2's `ĠLULW`). The mechanism, chosen so that both positions and decoding work:

1. the pre-tokenizer is GPT-2's split pattern with one alternative in front that cuts a whole
   emote, with its leading space, into its own piece (`4Head` stays one piece; GPT-2's
   pattern alone would split it into `4` + `Head`);
2. `EMOTE` and `ĠEMOTE` are ordinary entries of the BPE vocabulary, and the BPE model has
   `ignore_merges=True`, so a piece found in the vocabulary is emitted as one token without
   merging.
Added tokens were the obvious alternative and the wrong one: an added `LULW` leaves the space
before it as an extra token (or swallows it with `lstrip` and loses it on decoding), and
`single_word` matching rejects a space-prefixed form after a word.

The boundary token is GPT-2's `<|endoftext|>` (trainer/model/chatformat.py), saved as eos, bos and
unk, so the result loads with `AutoTokenizer.from_pretrained` and a base GPT-2 shares it.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
from collections.abc import Iterable, Sequence

from trainer.model.chatformat import BOUNDARY

logger = logging.getLogger(__name__)

# GPT-2's pre-tokenizer pattern (what `pre_tokenizers.ByteLevel(use_regex=True)` uses).
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

MIN_VOCAB = 384
MAX_VOCAB = 32768


def vocab_size_for(n_chars: int) -> int:
    """A BPE vocabulary sized to a corpus of `n_chars` characters (before emotes are added).

    Grows with the square root of the corpus: ~2k merges for the 5M characters of a
    week of a big channel's chat, a few hundred for a tiny sample. Rounded to 64.
    Small on purpose: on a CPU the output layer over the vocabulary is a large share of
    each step, and 2k beat 3.7k and 1k in equal-time runs (benchmarks/results/train_presets.md).
    Chat of longer messages does not want more: on irc-client-2016 (4 words a message) 4k
    lost to the 1.6k this gives, at equal CPU time (benchmarks/results/chat_quality.md).
    """
    size = 0.88 * math.sqrt(max(n_chars, 1))
    return int(min(MAX_VOCAB, max(MIN_VOCAB, round(size / 64) * 64)))


def emote_pattern(emotes: Sequence[str]) -> str | None:
    """A regex alternative matching a whole emote with its optional leading space."""
    words = sorted({e for e in emotes if e and not any(c.isspace() for c in e)}, key=lambda e: (-len(e), e))
    if not words:
        return None
    # Longest first so `PepeLaugh` wins over `Pepe`; an emote ends where no letter or digit follows.
    return r"(?:\A| )(?:" + "|".join(re.escape(w) for w in words) + r")(?![\p{L}\p{N}_])"


def _pre_tokenizer(emotes: Sequence[str]):
    from tokenizers import Regex, pre_tokenizers

    pattern = emote_pattern(emotes)
    full = GPT2_PATTERN if pattern is None else pattern + "|" + GPT2_PATTERN
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(full), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


def _byte_level(text: str) -> str:
    """`text` in byte-level alphabet (' ' becomes 'Ġ'), the way vocabulary entries are spelled."""
    from tokenizers import pre_tokenizers

    pieces = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False).pre_tokenize_str(text)
    return "".join(piece for piece, _ in pieces)


def with_emotes(backend, emotes: Sequence[str]):
    """A copy of a byte-level BPE `tokenizers.Tokenizer` in which every emote is one token.

    Works for our own tokenizer and for a base GPT-2's: installs the emote-aware
    pre-tokenizer, appends `EMOTE` and `ĠEMOTE` to the vocabulary when missing (new ids
    at the end, so existing ids and embeddings keep their meaning) and turns on
    `ignore_merges`.
    """
    from tokenizers import Tokenizer

    data = json.loads(backend.to_str())
    model = data["model"]
    if model.get("type") != "BPE":
        raise ValueError(f"expected a BPE tokenizer, got {model.get('type')}")
    vocab = model["vocab"]
    next_id = max(max(vocab.values()), max((t["id"] for t in data.get("added_tokens", [])), default=-1)) + 1
    for emote in emotes:
        for form in (emote, " " + emote):
            token = _byte_level(form)
            if token not in vocab:
                vocab[token] = next_id
                next_id += 1
    model["ignore_merges"] = True
    tokenizer = Tokenizer.from_str(json.dumps(data))
    tokenizer.pre_tokenizer = _pre_tokenizer(emotes)
    return tokenizer


def train_tokenizer(
    texts: Iterable[str],
    emotes: Sequence[str] = (),
    *,
    vocab_size: int | None = None,
    n_chars: int | None = None,
    model_max_length: int = 1024,
    progress: bool = False,
):
    """Train a byte-level BPE on `texts` (the training messages) and wrap it for transformers.

    `vocab_size` defaults to `vocab_size_for(n_chars)`; pass `n_chars` when `texts` is a
    one-shot iterator. Returns a `PreTrainedTokenizerFast` whose eos/bos/unk is `<|endoftext|>`.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    texts = texts if isinstance(texts, Sequence) else list(texts)
    if vocab_size is None:
        if n_chars is None:
            n_chars = sum(len(t) for t in texts)
        vocab_size = vocab_size_for(n_chars)
    emotes = list(dict.fromkeys(emotes))

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = _pre_tokenizer(emotes)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[BOUNDARY],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=progress and sys.stderr.isatty(),  # piped, its bars are only blank lines
    )
    tokenizer.train_from_iterator(texts, trainer=trainer, length=len(texts))
    tokenizer = with_emotes(tokenizer, emotes)
    logger.info("tokenizer: %d BPE tokens + %d emotes -> %d", vocab_size, len(emotes), tokenizer.get_vocab_size())
    return wrap(tokenizer, model_max_length=model_max_length)


def wrap(backend, *, model_max_length: int = 1024):
    """A `tokenizers.Tokenizer` as a transformers tokenizer with the chat boundary as eos."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=BOUNDARY,
        bos_token=BOUNDARY,
        unk_token=BOUNDARY,
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
    )


def add_emotes_to(tokenizer, emotes: Sequence[str]):
    """A base model's transformers tokenizer with the chat boundary and emote tokens added.

    The base GPT-2 already has `<|endoftext|>`; other byte-level BPE tokenizers get it as a
    special token. The caller resizes the model's embeddings to `len(result)`.
    """
    backend = with_emotes(tokenizer.backend_tokenizer, list(dict.fromkeys(emotes)))
    if backend.token_to_id(BOUNDARY) is None:
        backend.add_special_tokens([BOUNDARY])
    return wrap(backend, model_max_length=tokenizer.model_max_length)
