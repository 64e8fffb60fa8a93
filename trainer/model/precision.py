"""Where training runs and in which precision: the device, and bf16 only where it is faster."""

from __future__ import annotations

import logging
import time

logger = logging.getLogger(__name__)


def pick_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def matmul_flops(dtype, size: int = 1024, seconds: float = 0.3) -> float:
    """Measured FLOP/s of a square matrix product in `dtype` on the CPU."""
    import torch

    a = torch.randn(size, size, dtype=dtype)
    b = torch.randn(size, size, dtype=dtype)
    a @ b  # warm-up
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2 * size**3 * count / (time.perf_counter() - start)


def training_step_seconds(model, batch, bf16: bool, steps: int = 3) -> float:
    """Median seconds of a forward and backward pass of `model` on `batch` (token ids, [batch,
    block]) in fp32 or under bf16 autocast, as the Trainer runs them on a CPU. The gradients
    are cleared afterwards and no optimizer step is taken: the model is left as it was."""
    import contextlib
    import statistics

    import torch

    device = next(model.parameters()).device
    batch = batch.to(device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    was_training = model.training
    model.train()
    times = []
    try:
        for _ in range(steps + 1):  # the first pass warms up (allocations, kernel choice)
            start = time.perf_counter()
            with autocast:
                loss = model(input_ids=batch, labels=batch).loss
            loss.backward()
            times.append(time.perf_counter() - start)
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return statistics.median(times[1:])


def choose_precision(device: str, precision: str = "auto", model=None, batch=None) -> tuple[str, dict]:
    """"bf16" or "fp32" for training, with the measurements behind the choice.

    On a GPU bf16 is used when supported. On a CPU it depends on the chip: with AVX512-BF16
    or AMX, bf16 runs faster than fp32 (12.8k against 10.5k tokens/s for the small preset on
    an AMD EPYC); without them (emulated) several times slower. A matrix product alone
    misjudges it (a narrow chat model spends much of a step outside large products), so a few
    real training steps of `model` on `batch` are timed in each, and bf16 is used only when it
    wins by 10 %. Without a model to time, fp32.
    """
    import torch

    if precision in ("bf16", "fp32"):
        return precision, {"requested": precision}
    if device == "cuda":
        return ("bf16" if torch.cuda.is_bf16_supported() else "fp32"), {}
    if device != "cpu" or model is None or batch is None:
        return "fp32", {}
    fp32 = training_step_seconds(model, batch, bf16=False)
    bf16 = training_step_seconds(model, batch, bf16=True)
    choice = "bf16" if bf16 < fp32 / 1.1 else "fp32"
    measured = {"step_fp32_ms": round(fp32 * 1000, 1), "step_bf16_ms": round(bf16 * 1000, 1),
                "batch": list(batch.shape)}
    logger.info("precision: %s (a training step of %s tokens: fp32 %.0f ms, bf16 %.0f ms)", choice,
                " x ".join(map(str, batch.shape)), fp32 * 1000, bf16 * 1000)
    return choice, measured
