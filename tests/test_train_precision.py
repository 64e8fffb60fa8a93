"""Training precision (trainer/model/precision.py): chosen from real training steps of the model."""

import torch

from trainer.model.precision import choose_precision, training_step_seconds


def tiny_model():
    from trainer.model.presets import PRESETS, build_model

    torch.manual_seed(0)
    return build_model(PRESETS["tiny"], vocab_size=100, eos_token_id=0)


def test_timing_a_step_leaves_the_model_as_it_was():
    model = tiny_model().eval()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    batch = torch.randint(0, 100, (4, 32))
    for bf16 in (False, True):
        assert training_step_seconds(model, batch, bf16=bf16, steps=2) > 0
    assert all(torch.equal(before[name], p) for name, p in model.named_parameters())
    assert all(p.grad is None for p in model.parameters())  # no gradient left to leak into step 1
    assert not model.training  # its mode restored


def test_auto_on_cpu_times_both_and_says_why():
    choice, measured = choose_precision("cpu", "auto", model=tiny_model(), batch=torch.randint(0, 100, (4, 32)))
    assert choice in ("fp32", "bf16")
    assert measured["step_fp32_ms"] > 0 and measured["step_bf16_ms"] > 0 and measured["batch"] == [4, 32]
    if choice == "bf16":  # only when its step is faster (by 10 %, before the figures' rounding)
        assert measured["step_bf16_ms"] < measured["step_fp32_ms"]


def test_requested_precision_and_no_model_are_not_timed():
    assert choose_precision("cpu", "bf16") == ("bf16", {"requested": "bf16"})
    assert choose_precision("cpu", "fp32", model=tiny_model(), batch=torch.zeros(1, 4, dtype=torch.long))[0] == "fp32"
    assert choose_precision("cpu", "auto") == ("fp32", {})  # nothing to time
    assert choose_precision("mps", "auto") == ("fp32", {})
