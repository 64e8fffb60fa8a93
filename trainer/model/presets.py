"""Model sizes: GPT-2 presets for chat, and `auto`, which picks one from the data and the device.

Chat models are small by necessity (a channel's week of chat is a few million tokens, and
the default trainer is a 2-core CPU). What wins in a fixed time budget on a CPU is
throughput: a narrow model that sees many tokens beats a wide one that sees few (equal-time
runs in benchmarks/results/train_presets.md and train_optimizer.md). The context still spans
the last ~80 messages, because chat repeats itself within minutes and the model can copy
from them.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preset:
    name: str
    n_layer: int
    n_embd: int
    n_head: int
    block_size: int  # tokens per training block = the context the model is trained for
    batch_size: int  # blocks per optimizer step
    learning_rate: float  # AdamW's: embeddings, norms, biases (and everything when muon_lr is None)
    muon_lr: float | None  # Muon's, for the transformer blocks' matrices (trainer/model/optim.py); None: AdamW only
    warmup_steps: int
    eval_steps: int  # evaluate on the validation split (and keep the best) every N steps
    eval_blocks: int  # validation blocks used for those evaluations
    epochs: float  # used when neither --max-time nor --max-steps is given
    description: str
    activation: str = "gelu_pytorch_tanh"  # GPT-2's gelu as one fused kernel: faster on CPU

    def as_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        "tiny", n_layer=2, n_embd=64, n_head=2, block_size=64, batch_size=8, learning_rate=3e-3, muon_lr=0.02,
        warmup_steps=5, eval_steps=20, eval_blocks=16, epochs=1.0,
        description="~0.1M parameters; trains in seconds, for tests and smoke runs",
    ),
    "small": Preset(
        # 4 x 160 rather than 4 x 128: in a 15-minute CPU budget, about the same bits/char but free
        # messages harder to tell from real chat (benchmarks/results/budget_sweep.md). Narrower
        # still wins budgets of a few minutes.
        "small", n_layer=4, n_embd=160, n_head=5, block_size=256, batch_size=8, learning_rate=5e-3, muon_lr=0.02,
        warmup_steps=100, eval_steps=300, eval_blocks=48, epochs=3.0,
        description="~1.7M parameters; the CPU preset (narrow and fast: a 2-core budget buys many tokens)",
    ),
    "base": Preset(
        "base", n_layer=8, n_embd=512, n_head=8, block_size=1024, batch_size=16, learning_rate=6e-4, muon_lr=0.02,
        warmup_steps=300, eval_steps=500, eval_blocks=128, epochs=5.0,
        description="~30M parameters; for a GPU or a long CPU run on a big corpus",
    ),
}

PRESET_CHOICES = (*PRESETS, "auto")  # what a --preset option accepts

# `auto` picks `base` only on an accelerator and with enough tokens to feed it.
BASE_MIN_TOKENS = 5_000_000
SMALL_MIN_TOKENS = 100_000


def auto_preset(train_tokens: int, device: str) -> Preset:
    """The preset for `train_tokens` training tokens on `device` ("cpu", "cuda", "mps", ...)."""
    if train_tokens < SMALL_MIN_TOKENS:
        name = "tiny"
    elif device != "cpu" and train_tokens >= BASE_MIN_TOKENS:
        name = "base"
    else:
        name = "small"
    logger.info("auto preset: %s (%d training tokens, device %s)", name, train_tokens, device)
    return PRESETS[name]


def get_preset(name: str, train_tokens: int, device: str) -> Preset:
    if name == "auto":
        return auto_preset(train_tokens, device)
    if name not in PRESETS:
        from trainer.errors import StreamchatError

        raise StreamchatError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)} or auto")
    return PRESETS[name]


def smaller_preset(name: str) -> str | None:
    order = list(PRESETS)
    index = order.index(name) if name in order else 0
    return order[index - 1] if index > 0 else None


def build_model(preset: Preset, vocab_size: int, eos_token_id: int):
    """A freshly initialised `GPT2LMHeadModel` for `preset` (no dropout: training is short)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=preset.block_size,
        n_embd=preset.n_embd,
        n_layer=preset.n_layer,
        n_head=preset.n_head,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        activation_function=preset.activation,
        bos_token_id=eos_token_id,
        eos_token_id=eos_token_id,
        pad_token_id=eos_token_id,
        tie_word_embeddings=True,
    )
    return GPT2LMHeadModel(config)


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
