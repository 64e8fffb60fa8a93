"""A lean batched sampling loop: K candidates for one prefix, one batched forward per step.

Why not `model.generate` or `pipeline("text-generation")`: for a chat model of a few million
parameters the model itself costs less than the machinery around it (logits processors,
stopping criteria, padding and attention masks, re-tokenizing), and every candidate shares the
same prefix. So the prefix (chat context + prompt) runs once, its KV cache (the model's own
`DynamicCache`) is repeated K times, and each step feeds only the K newest tokens.
benchmarks/generate_speed.py measures the difference.

Each row stops at the boundary token; a finished row keeps riding along in the batch (it
costs nothing measurable at this size and keeps the cache rectangular) until all are done.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass

import torch


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


def _pick(scores: torch.Tensor, top_k: int, top_p: float, generator: torch.Generator | None) -> torch.Tensor:
    """One token per row from `scores` (temperature already applied), within top-k and top-p.

    Works on the k best tokens only (sorted by `topk`), so no full-vocabulary sort is needed,
    and draws with the exponential-race trick (argmax of p / Exp(1) samples from p), which
    is several times cheaper than `torch.multinomial` for a handful of rows.
    """
    k = top_k if 0 < top_k < scores.shape[-1] else scores.shape[-1]
    values, indices = torch.topk(scores, k, dim=-1)  # sorted, best first
    probs = values.softmax(dim=-1)
    if 0.0 < top_p < 1.0:
        # Drop a token once the better ones before it already hold top_p (the best always stays).
        before = probs.cumsum(dim=-1) - probs
        probs = probs.masked_fill(before >= top_p, 0.0)
    race = torch.empty_like(probs).exponential_(generator=generator)
    choice = (probs / race).argmax(dim=-1, keepdim=True)
    return indices.gather(1, choice).squeeze(1)


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
) -> Samples:
    """Sample `num` continuations of `prefix` (token ids) in one batch.

    temperature <= 0 is greedy. `repetition_penalty` (> 1 discourages) applies to
    `penalty_ids` (e.g. the prompt) and to each row's own tokens, the way CTRL and
    transformers define it: positive logits divided, negative ones multiplied. The boundary
    is forbidden for the first `min_new_tokens` steps, so a row never ends with nothing added.
    """
    if not prefix:
        raise ValueError("the prefix needs at least one token (the boundary)")
    n_positions = getattr(model.config, "n_positions", None) or model.config.max_position_embeddings
    max_new_tokens = min(max_new_tokens, n_positions - len(prefix))
    if max_new_tokens < 1:
        raise ValueError(f"prefix of {len(prefix)} tokens leaves no room in a {n_positions}-token window")

    cache_keyword = _cache_keyword(model)
    input_ids = torch.tensor([list(prefix)], dtype=torch.long)
    out = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), use_cache=True, logits_to_keep=1)
    cache = out.cache if hasattr(out, "cache") else out.past_key_values
    cache.batch_repeat_interleave(num)  # one prefix pass, K rows of cache
    logits = out.logits[:, -1, :].float().expand(num, -1)
    vocab = logits.shape[-1]

    seen = torch.zeros(num, vocab, dtype=torch.bool)
    if repetition_penalty != 1.0 and penalty_ids:
        seen[:, torch.tensor(sorted(set(penalty_ids)), dtype=torch.long)] = True
    tokens = torch.full((num, max_new_tokens), boundary_id, dtype=torch.long)
    logprobs = torch.zeros(num)
    finished = torch.zeros(num, dtype=torch.bool)
    length = torch.full((num,), max_new_tokens, dtype=torch.long)

    for step in range(max_new_tokens):
        model_logprobs = logits.log_softmax(dim=-1)
        scores = logits
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
        length = torch.where(ended, torch.tensor(step), length)
        finished |= ended
        if bool(finished.all()) or step == max_new_tokens - 1:
            break
        seen[torch.arange(num), next_ids] = True
        out = model(input_ids=next_ids[:, None], use_cache=True, **{cache_keyword: cache})
        logits = out.logits[:, -1, :].float()

    rows = tokens.tolist()
    lengths = length.tolist()
    return Samples(
        tokens=[row[:n] for row, n in zip(rows, lengths)],
        logprobs=logprobs.tolist(),
        finished=finished.tolist(),
    )
