"""Muon for the transformer's weight matrices, AdamW for everything else, as one optimizer.

Muon (Keller Jordan, 2024; https://kellerjordan.github.io/posts/muon/) replaces each 2-D
weight's momentum update by its nearest semi-orthogonal matrix (a few Newton-Schulz
iterations), so every direction of the matrix learns at the same rate. It is what the
nanoGPT speed-runs train with; here, in equal-step runs on chat, it reached AdamW's
validation loss in about half the steps (benchmarks/results/train_optimizer.md).

Written here rather than taken from `torch.optim.Muon` because that one runs its
Newton-Schulz iterations in bfloat16, which CPUs without native bf16 emulate (slower per
training step: benchmarks/results/train_optimizer.md); and the embeddings, norms and biases need
AdamW anyway, which a single optimizer object keeps simple for `Trainer`, its learning-rate
schedule, gradient clipping and checkpoint/resume (plain `state_dict`).
"""

from __future__ import annotations

import torch

# Quintic Newton-Schulz coefficients from the Muon reference implementation.
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def orthogonalize(matrix: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """Approximately U V^T of `matrix` = U S V^T (singular values pushed towards 1)."""
    a, b, c = NS_COEFFICIENTS
    dtype = torch.bfloat16 if matrix.is_cuda else torch.float32
    x = matrix.to(dtype)
    tall = x.size(0) > x.size(1)
    if tall:
        x = x.T
    x = x / (x.norm() + 1e-7)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return (x.T if tall else x).to(matrix.dtype)


class MuonAdamW(torch.optim.Optimizer):
    """One optimizer, two update rules: groups with `use_muon=True` get Muon, the rest AdamW.

    Muon groups: lr, momentum, weight_decay, fan_out_dim (the axis of the weight's outputs:
    0 for nn.Linear, 1 for GPT-2's Conv1D) — the update is scaled by sqrt(max(1, out/in)).
    AdamW groups: lr, betas, eps, weight_decay.
    """

    def __init__(self, param_groups: list[dict]):
        defaults = dict(lr=0.02, momentum=0.95, weight_decay=0.0, fan_out_dim=0, betas=(0.9, 0.95), eps=1e-8,
                        use_muon=False)
        super().__init__(param_groups, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            if group["use_muon"]:
                self._muon_step(group)
            else:
                self._adamw_step(group)
        return loss

    def _muon_step(self, group: dict) -> None:
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if not state:
                state["momentum_buffer"] = torch.zeros_like(p)
            momentum = state["momentum_buffer"]
            momentum.lerp_(p.grad, 1 - group["momentum"])
            update = p.grad.lerp(momentum, group["momentum"])  # Nesterov
            update = orthogonalize(update)
            fan_out = p.size(group["fan_out_dim"])
            fan_in = p.size(1 - group["fan_out_dim"])
            p.mul_(1 - group["lr"] * group["weight_decay"])
            p.add_(update, alpha=-group["lr"] * max(1.0, fan_out / fan_in) ** 0.5)

    def _adamw_step(self, group: dict) -> None:
        beta1, beta2 = group["betas"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if not state:
                state["step"] = torch.tensor(0.0)
                state["exp_avg"] = torch.zeros_like(p)
                state["exp_avg_sq"] = torch.zeros_like(p)
            state["step"] += 1
            step = state["step"].item()
            state["exp_avg"].lerp_(p.grad, 1 - beta1)
            state["exp_avg_sq"].mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
            denominator = (state["exp_avg_sq"] / (1 - beta2**step)).sqrt_().add_(group["eps"])
            p.mul_(1 - group["lr"] * group["weight_decay"])
            p.addcdiv_(state["exp_avg"], denominator, value=-group["lr"] / (1 - beta1**step))


def gpt2_param_groups(model, *, lr: float, muon_lr: float, weight_decay: float) -> list[dict]:
    """MuonAdamW groups for a GPT-2: Muon for the blocks' matrices, AdamW for embeddings
    (tied with the output layer), positions, layer norms and biases."""
    matrices, embeddings, vectors = [], [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim == 2 and ".h." in name:
            matrices.append(p)
        elif p.ndim == 2:
            embeddings.append(p)
        else:
            vectors.append(p)
    groups = [
        {"params": matrices, "use_muon": True, "lr": muon_lr, "weight_decay": weight_decay, "fan_out_dim": 1},
        {"params": embeddings, "use_muon": False, "lr": lr, "weight_decay": weight_decay},
        {"params": vectors, "use_muon": False, "lr": lr, "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]
