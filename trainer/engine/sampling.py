"""A lean batched sampling loop: K candidates for one prefix, one batched forward per step.

Why not `model.generate` or `pipeline("text-generation")`: for a chat model of a few million
parameters the model itself costs less than the machinery around it (logits processors,
stopping criteria, padding and attention masks, re-tokenizing), and every candidate shares the
same prefix. So the prefix (chat context + prompt) runs once, as one row; its KV cache is
copied to the K rows, and each step feeds only the K newest tokens. For GPT-2 (every
streamchat preset) the forward is `LeanGPT2`: the model's own weights and a KV cache allocated
once per call; other models go through their own forward and `DynamicCache`.
benchmarks/generate_speed.py measures each of these choices.

Each row stops at the boundary token; a finished row keeps riding along in the batch (it
costs nothing measurable at this size and keeps the cache rectangular) until all are done.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class Samples:
    """K sampled continuations of one prefix."""

    tokens: list[list[int]]  # new token ids of each row, without the closing boundary
    logprobs: list[float]  # model log-probability of each row's tokens (and its boundary, if reached)
    finished: list[bool]  # whether the row ended with the boundary (else: cut at max_new_tokens)

    def mean_logprob(self, row: int) -> float:
        """Log-probability per token, boundary included: comparable across lengths."""
        steps = len(self.tokens[row]) + int(self.finished[row])
        return self.logprobs[row] / max(steps, 1)


def _cache_keyword(model) -> str:
    """transformers 5 calls the KV cache argument `cache`; 4.x called it `past_key_values`."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


class LeanGPT2:
    """GPT-2 inference on a `GPT2LMHeadModel`'s own weights, with a preallocated KV cache.

    The same arithmetic as transformers' GPT-2 forward (checked against it in the tests),
    without the per-call machinery that dominates at this model size: hooks, output
    records, mask building and a growing `DynamicCache` (`torch.cat` on every step). Only
    plain GPT-2 is handled (`supports`); anything else goes through the model's own forward.
    """

    def __init__(self, model, batch: int, length: int):
        transformer = model.transformer
        config = model.config
        self.n_embd = config.n_embd
        self.n_head = config.n_head
        self.head_dim = config.n_embd // config.n_head
        # Plain tensors up front: nn.Module attribute look-ups cost more than the maths here.
        self.wte, self.wpe = transformer.wte.weight, transformer.wpe.weight
        self.lm_head = model.lm_head.weight
        self.ln_f = (transformer.ln_f.weight, transformer.ln_f.bias, transformer.ln_f.eps)
        self.layers = [
            (b.ln_1.weight, b.ln_1.bias, b.ln_1.eps, b.attn.c_attn.weight, b.attn.c_attn.bias, b.attn.scaling,
             b.attn.c_proj.weight, b.attn.c_proj.bias, b.ln_2.weight, b.ln_2.bias, b.ln_2.eps,
             b.mlp.c_fc.weight, b.mlp.c_fc.bias, b.mlp.c_proj.weight, b.mlp.c_proj.bias)
            for b in transformer.h
        ]
        # GPT-2's "gelu_new" is the tanh approximation of GELU, which torch has fused.
        act = config.activation_function
        self.act = (lambda t: F.gelu(t, approximate="tanh")) if act in ("gelu_new", "gelu_pytorch_tanh") \
            else transformer.h[0].mlp.act
        shape = (len(self.layers), batch, self.n_head, length, self.head_dim)
        self.keys = torch.empty(shape, dtype=self.wte.dtype, device=self.wte.device)
        self.values = torch.empty(shape, dtype=self.wte.dtype, device=self.wte.device)
        self.length = 0  # positions filled

    @staticmethod
    def supports(model) -> bool:
        config = model.config
        return (type(model).__name__ == "GPT2LMHeadModel" and config.model_type == "gpt2"
                and not getattr(config, "add_cross_attention", False))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits at the last position of `ids` ([rows, tokens]), appending to the cache."""
        rows, steps = ids.shape
        start, end = self.length, self.length + steps
        if steps > 1 and start > 0:  # sdpa's causal mask is only right for a square block
            raise ValueError("several tokens at once only for the prefix")
        c, h, d = self.n_embd, self.n_head, self.head_dim
        x = (F.embedding(ids, self.wte) + self.wpe[start:end]).view(rows * steps, c)
        for i, (w1, b1, e1, wqkv, bqkv, scale, wo, bo, w2, b2, e2, wfc, bfc, wproj, bproj) in enumerate(self.layers):
            y = F.layer_norm(x, (c,), w1, b1, e1)
            q, k, v = torch.addmm(bqkv, y, wqkv).view(rows, steps, 3, h, d).permute(2, 0, 3, 1, 4)
            keys, values = self.keys[i, :rows], self.values[i, :rows]
            keys[:, :, start:end] = k
            values[:, :, start:end] = v
            y = F.scaled_dot_product_attention(q, keys[:, :, :end], values[:, :, :end], is_causal=steps > 1,
                                               scale=scale)
            x = x + torch.addmm(bo, y.transpose(1, 2).reshape(rows * steps, c), wo)
            y = self.act(torch.addmm(bfc, F.layer_norm(x, (c,), w2, b2, e2), wfc))
            x = x + torch.addmm(bproj, y, wproj)
        self.length = end
        last = x.view(rows, steps, c)[:, -1]
        return F.linear(F.layer_norm(last, (c,), *self.ln_f), self.lm_head)

    def repeat_first_row(self, rows: int) -> None:
        """Give rows 1..rows-1 the cache of row 0 (the shared prefix)."""
        self.keys[:, 1:rows, :, : self.length] = self.keys[:, :1, :, : self.length]
        self.values[:, 1:rows, :, : self.length] = self.values[:, :1, :, : self.length]


def _pick(scores: torch.Tensor, top_k: int, top_p: float, generator: torch.Generator | None) -> torch.Tensor:
    """One token per row from `scores` (temperature already applied), within top-k and top-p.

    Works on the k best tokens only (sorted by `topk`), so no full-vocabulary sort is needed
    when top-k is set, and draws with the exponential-race trick (argmax of p / Exp(1) samples
    from p), which is several times cheaper than `torch.multinomial` for a handful of rows.
    """
    vocab = scores.shape[-1]
    k = top_k if 0 < top_k < vocab else vocab
    if k == vocab and scores.device.type == "cpu" and scores.dtype == torch.float32:
        # The whole vocabulary sorted (top-p alone: a trained chat model's 0.95 nucleus is ~270
        # tokens at the median). On one thread numpy's argsort of a few rows of a few thousand
        # scores is several times faster than torch.sort / topk, which cost a good part of a
        # small model's step.
        order = torch.from_numpy(np.argsort(-scores.numpy(), axis=-1))
        values, indices = scores.gather(1, order), order
    else:
        values, indices = torch.topk(scores, k, dim=-1)  # sorted, best first
    return _race(values.softmax(dim=-1), indices, top_p, generator)


def _race(probs: torch.Tensor, indices: torch.Tensor, top_p: float, generator: torch.Generator | None) -> torch.Tensor:
    """Draw one of `indices` per row from `probs` (sorted, best first) within top-p."""
    if 0.0 < top_p < 1.0:
        # Drop a token once the better ones before it already hold top_p (the best always stays).
        before = probs.cumsum(dim=-1) - probs
        probs = probs.masked_fill(before >= top_p, 0.0)
    race = torch.empty_like(probs).exponential_(generator=generator)
    choice = (probs / race).argmax(dim=-1, keepdim=True)
    return indices.gather(1, choice).squeeze(1)


class _HFStepper:
    """The model's own forward with its own KV cache (`DynamicCache`), for non-GPT-2 models."""

    def __init__(self, model):
        self.model = model
        self.cache = None
        self.keyword = _cache_keyword(model)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if self.cache is None:
            out = self.model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True, logits_to_keep=1)
            self.cache = out.cache if hasattr(out, "cache") else out.past_key_values
        else:
            out = self.model(input_ids=ids, use_cache=True, **{self.keyword: self.cache})
        return out.logits[:, -1, :]

    def repeat_first_row(self, rows: int) -> None:
        self.cache.batch_repeat_interleave(rows)


def _allowed(words, partials: list[str], first: np.ndarray | None, num: int, vocab: int,
             device) -> torch.Tensor | None:
    """The [num, vocab] mask of tokens each row may draw now, or None when all are allowed."""
    if words is None and first is None:
        return None
    masks = np.stack([words.allowed(p) for p in partials]) if words is not None else np.ones((num, vocab), bool)
    if first is not None:
        masks = masks & first
    masks[~masks.any(axis=1)] = True  # nothing allowed: better an odd word than no message
    return torch.from_numpy(masks).to(device)


@torch.inference_mode()
def sample(
    model,
    prefix: Sequence[int],
    *,
    boundary_id: int,
    num: int = 8,
    max_new_tokens: int = 32,
    temperature: float = 1.0,
    top_p: float = 1.0,
    top_k: int = 0,
    repetition_penalty: float = 1.0,
    penalty_ids: Sequence[int] = (),
    min_new_tokens: int = 1,
    generator: torch.Generator | None = None,
    lean: bool | None = None,
    words=None,
    first_allowed: np.ndarray | None = None,
) -> Samples:
    """Sample `num` continuations of `prefix` (token ids) in one batch.

    temperature <= 0 is greedy. `repetition_penalty` (> 1 discourages) applies to
    `penalty_ids` (e.g. the prompt) and to each row's own tokens, the way CTRL and
    transformers define it: positive logits divided, negative ones multiplied. The boundary
    is forbidden for the first `min_new_tokens` steps, so a row never ends with nothing added.
    `lean=None` uses `LeanGPT2` when the model is a plain GPT-2, else the model's forward.
    `words` (a `WordConstraint`, trainer/engine/words.py) keeps every row to known words;
    `first_allowed` (a bool mask over the vocabulary) limits the first token, e.g. to tokens
    that start a new word after a viewer's prompt. A row with no allowed token at all samples
    unconstrained for that step rather than stall.
    """
    if not prefix:
        raise ValueError("the prefix needs at least one token (the boundary)")
    n_positions = getattr(model.config, "n_positions", None) or model.config.max_position_embeddings
    max_new_tokens = min(max_new_tokens, n_positions - len(prefix))
    if max_new_tokens < 1:
        raise ValueError(f"prefix of {len(prefix)} tokens leaves no room in a {n_positions}-token window")
    if lean is None:
        lean = LeanGPT2.supports(model)
    stepper = LeanGPT2(model, num, len(prefix) + max_new_tokens) if lean else _HFStepper(model)

    # The shared prefix runs once, as one row; its cache is then copied to all rows.
    device = next(model.parameters()).device
    logits = stepper.forward(torch.tensor([list(prefix)], dtype=torch.long, device=device)).float().expand(num, -1)
    stepper.repeat_first_row(num)
    vocab = logits.shape[-1]

    seen = torch.zeros(num, vocab, dtype=torch.bool, device=device)
    if repetition_penalty != 1.0 and penalty_ids:
        seen[:, torch.tensor(sorted(set(penalty_ids)), dtype=torch.long, device=device)] = True
    tokens = torch.full((num, max_new_tokens), boundary_id, dtype=torch.long, device=device)
    logprobs = torch.zeros(num, device=device)
    finished = torch.zeros(num, dtype=torch.bool, device=device)
    length = torch.full((num,), max_new_tokens, dtype=torch.long, device=device)
    rows = torch.arange(num, device=device)
    partials = [""] * num  # each row's word in progress, for `words`
    word_starts = [0] * num  # the step whose token began it

    for step in range(max_new_tokens):
        model_logprobs = logits.log_softmax(dim=-1)
        scores = logits
        allowed = _allowed(words, partials, first_allowed if step == 0 else None, num, vocab, device)
        if allowed is not None:
            scores = scores.masked_fill(~allowed, float("-inf"))
        if repetition_penalty != 1.0:
            penalized = torch.where(scores > 0, scores / repetition_penalty, scores * repetition_penalty)
            scores = torch.where(seen, penalized, scores)
        if step < min_new_tokens:
            scores = scores.clone()
            scores[:, boundary_id] = float("-inf")
        if temperature <= 0:
            next_ids = scores.argmax(dim=-1)
        else:
            next_ids = _pick(scores / temperature, top_k, top_p, generator)
        next_ids = next_ids.masked_fill(finished, boundary_id)
        step_logprob = model_logprobs.gather(1, next_ids[:, None]).squeeze(1)
        logprobs += step_logprob.masked_fill(finished, 0.0)
        tokens[:, step] = next_ids
        ended = (next_ids == boundary_id) & ~finished
        length = torch.where(ended, torch.tensor(step, device=device), length)
        finished |= ended
        if words is not None:
            for row, token in enumerate(next_ids.tolist()):
                if not partials[row] or not words.all_letters[token]:
                    word_starts[row] = step  # this token begins the word now in progress, if any
                partials[row] = words.advance(partials[row], token)
        if bool(finished.all()) or step == max_new_tokens - 1:
            break
        seen[rows, next_ids] = True
        logits = stepper.forward(next_ids[:, None]).float()

    lengths = length.tolist()
    if words is not None:  # a row cut off inside a word drops that word rather than invent one
        lengths = [word_starts[row] if not done and words.unfinished(partials[row]) else n
                   for row, (n, done) in enumerate(zip(lengths, finished.tolist()))]
    return Samples(
        tokens=[row[:n] for row, n in zip(tokens.tolist(), lengths)],
        logprobs=logprobs.tolist(),
        finished=finished.tolist(),
    )
