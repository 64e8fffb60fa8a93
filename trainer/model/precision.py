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


def choose_precision(device: str, precision: str = "auto") -> tuple[str, dict]:
    """"bf16" or "fp32" for training, with the measurements behind the choice.

    On a GPU bf16 is used when supported. On a CPU it depends on the chip: with AVX512-BF16
    or AMX, bf16 matrix products run about twice as fast as fp32; without them (emulated)
    they are several times slower. So we measure, and use bf16 only when it wins by 20 %.
    """
    import torch

    if precision in ("bf16", "fp32"):
        return precision, {"requested": precision}
    if device == "cuda":
        return ("bf16" if torch.cuda.is_bf16_supported() else "fp32"), {}
    if device != "cpu":
        return "fp32", {}
    fp32 = matmul_flops(torch.float32)
    bf16 = matmul_flops(torch.bfloat16)
    choice = "bf16" if bf16 > 1.2 * fp32 else "fp32"
    measured = {"matmul_fp32_gflops": round(fp32 / 1e9, 1), "matmul_bf16_gflops": round(bf16 / 1e9, 1)}
    logger.info("precision: %s (matrix products fp32 %.0f GFLOP/s, bf16 %.0f GFLOP/s)", choice, fp32 / 1e9, bf16 / 1e9)
    return choice, measured
