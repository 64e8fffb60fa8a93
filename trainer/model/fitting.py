"""Fitting the model with transformers' `Trainer`: its arguments, what streamchat plugs into it
(a wall-clock budget and a metrics log as callbacks; the optimizer and a schedule that follows
the budget in `ChatTrainer`), running it (running out of memory says what to do), the final
validation figures, reading a saved run back for `--resume`, and the loss plot.

The classes are made by functions, so importing this module stays light (no transformers).
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from pathlib import Path

from trainer.errors import StreamchatError

MIN_LR_RATIO = 0.1  # cosine decay ends at 10 % of the peak learning rate
WARMUP_FRACTION = 0.05  # at most this share of the budget is spent warming up
FINAL_EVAL_TOKENS = 65_536  # validation tokens scored for the card's metrics (seconds, not minutes)
EVALUATIONS_PER_BUDGET = 15  # with --max-time, evaluations are spread over the budget
SMALL_BUDGET_EPOCHS = 0.25  # a budget reaching less of one pass over the data gets a warning

logger = logging.getLogger(__name__)


def callback_classes():
    """The Trainer callbacks, defined lazily so importing this module stays light."""
    from transformers import TrainerCallback
    from transformers.trainer_callback import ExportableState

    class TimeBudget(TrainerCallback, ExportableState):
        """Stops training after `max_time` seconds of training (summed over resumed runs),
        with a last evaluation and save so the best-model choice sees the final weights."""

        def __init__(self, max_time: float | None = None, elapsed_before: float = 0.0):
            self.max_time = max_time
            self.elapsed_before = elapsed_before
            self.started: float | None = None
            self.stopped_by_time = False
            self.last_evaluation = elapsed_before

        def elapsed(self) -> float:
            running = time.monotonic() - self.started if self.started is not None else 0.0
            return self.elapsed_before + running

        def fraction(self) -> float:
            return self.elapsed() / self.max_time if self.max_time else 0.0

        def on_train_begin(self, args, state, control, **kwargs):
            self.started = time.monotonic()

        def on_step_end(self, args, state, control, **kwargs):
            last_step = state.max_steps and state.global_step >= state.max_steps
            out_of_time = self.max_time is not None and self.elapsed() >= self.max_time
            if self.max_time is not None and control.should_evaluate:
                # a fast model reaches the preset's evaluation steps every second or so: within a
                # time budget, evaluate (and save) at most about EVALUATIONS_PER_BUDGET times
                if self.elapsed() - self.last_evaluation < self.max_time / EVALUATIONS_PER_BUDGET:
                    control.should_evaluate = control.should_save = False
                else:
                    self.last_evaluation = self.elapsed()
            if out_of_time:
                self.stopped_by_time = True
                control.should_training_stop = True
            if out_of_time or last_step:
                control.should_evaluate = True
                control.should_save = True
                control.should_log = True  # the curve's last training point, even in a short run
            return control

        def state(self) -> dict:
            return {"args": {"max_time": self.max_time}, "attributes": {"elapsed_before": self.elapsed()}}

    class MetricsLog(TrainerCallback):
        """Appends every log entry (loss, learning rate, eval loss, ...) to metrics.jsonl, with
        the losses also in bits per character (`units` converts them)."""

        def __init__(self, path: Path, budget: TimeBudget, block_tokens: int, units: BitsPerChar):
            self.path = path
            self.budget = budget
            self.block_tokens = block_tokens
            self.units = units

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            entry = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4),
                     "time_s": round(self.budget.elapsed(), 2),
                     "tokens": state.global_step * self.block_tokens, **logs}
            entry.update(self.units.of_log(logs))
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")

    return TimeBudget, MetricsLog


def progress_class():
    """The Trainer callback that shows a run's progress, defined lazily like callback_classes."""
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        """One progress bar over the run's real budget (seconds with --max-time, else steps) with
        the latest training and validation bits per char; one line per evaluation; a warning
        when the budget covers only a small part of the training data."""

        def __init__(self, budget, units: BitsPerChar, steps_per_epoch: int, *, max_steps: int | None,
                     show_bar: bool):
            self.budget = budget
            self.units = units
            self.steps_per_epoch = max(1, steps_per_epoch)
            self.max_steps = max_steps
            self.show_bar = show_bar
            self.bar = None
            self.postfix: dict[str, str] = {}
            self.best: float | None = None
            self.warned = False
            self.start_step = 0

        def _by_time(self) -> bool:
            return self.budget.max_time is not None and not self.max_steps

        def on_train_begin(self, args, state, control, **kwargs):
            self.start_step = state.global_step
            # piped into a file, a bar is only noise: the evaluation lines say how it goes
            if not state.is_world_process_zero or not self.show_bar or not sys.stderr.isatty():
                self._warn_if_small(state)
                return
            from tqdm.auto import tqdm

            if self._by_time():
                self.bar = tqdm(total=round(self.budget.max_time), initial=round(self.budget.elapsed_before),
                                unit="s", desc="training", bar_format="{desc} {percentage:3.0f}%|{bar}| "
                                "{n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]")
            else:
                self.bar = tqdm(total=state.max_steps, initial=state.global_step, unit="step", desc="training")
            self._warn_if_small(state)

        def on_step_end(self, args, state, control, **kwargs):
            if not state.is_world_process_zero:
                return
            if self.bar is not None:
                done = min(self.budget.elapsed(), self.budget.max_time) if self._by_time() else state.global_step
                self.bar.update(done - self.bar.n)
            self._warn_if_small(state)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            figures = self.units.of_log(logs)
            if "train_bits_per_char" in figures:
                self.postfix["loss"] = f"{figures['train_bits_per_char']:.3f} bits/char"
            if "valid_bits_per_char" in figures:
                value = figures["valid_bits_per_char"]
                best = self.best is None or value < self.best
                self.best = value if best else self.best
                self.postfix["validation"] = f"{value:.3f}"
                self.say(f"step {state.global_step} ({self.budget.elapsed():.0f} s): validation "
                         f"{value:.3f} bits/char" + (" (best so far)" if best else ""))
            if self.bar is not None and self.postfix:
                self.bar.set_postfix(self.postfix, refresh=False)

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.close()
                self.bar = None

        def say(self, line: str, *, warning: bool = False) -> None:
            if self.bar is not None:
                self.bar.write(f"warning: {line}" if warning else line, file=sys.stderr)
            else:
                logger.log(logging.WARNING if warning else logging.INFO, "%s", line)

        def _warn_if_small(self, state) -> None:
            """Warn once when the budget reaches less than SMALL_BUDGET_EPOCHS of one epoch."""
            if self.warned:
                return
            if self.max_steps:
                epochs, needed = self.max_steps / self.steps_per_epoch, f"--max-steps {self.steps_per_epoch}"
            elif self.budget.max_time is not None:
                elapsed = self.budget.elapsed() - self.budget.elapsed_before
                steps = state.global_step - self.start_step
                if elapsed < min(5.0, 0.1 * self.budget.max_time) or steps < 3:
                    return  # measure the speed a little first
                per_step = elapsed / steps
                epochs = self.budget.max_time / per_step / self.steps_per_epoch
                needed = f"--max-time {math.ceil(per_step * self.steps_per_epoch):.0f}"
            else:
                return
            self.warned = True
            if epochs < SMALL_BUDGET_EPOCHS:
                self.say(f"this budget covers about {epochs:.2f} of one pass over the training data; "
                         f"the model will have seen little of it. {needed} would reach one pass (one epoch).", warning=True)

    return Progress


class BitsPerChar:
    """Converts the Trainer's losses (nats per token) into bits per character, the unit of every
    other figure: a split's tokens per character (messages plus one boundary each) fixes the
    factor, one for the training data and one for the validation blocks evaluated."""

    def __init__(self, train_tokens_per_char: float, valid_tokens_per_char: float):
        self.train = train_tokens_per_char / math.log(2)
        self.valid = valid_tokens_per_char / math.log(2)

    def of_log(self, logs: dict) -> dict:
        figures = {}
        if isinstance(logs.get("loss"), (int, float)):
            figures["train_bits_per_char"] = round(logs["loss"] * self.train, 4)
        if isinstance(logs.get("eval_loss"), (int, float)):
            figures["valid_bits_per_char"] = round(logs["eval_loss"] * self.valid, 4)
        return figures


def tokens_per_char(tokenizer, blocks) -> float:
    """Predicted tokens per character of packed blocks, characters counted as `evaluate` counts
    them (the message text, plus one per boundary)."""
    boundary = tokenizer.eos_token_id
    chars = sum(len(tokenizer.decode([int(t) for t in row if t != boundary])) for row in blocks)
    chars += int((blocks == boundary).sum())
    return blocks.shape[0] * (blocks.shape[1] - 1) / max(1, chars)


def trainer_class():
    from torch.optim.lr_scheduler import LambdaLR
    from transformers import Trainer

    class ChatTrainer(Trainer):
        """`Trainer` with a warm-up + cosine schedule that follows the wall-clock budget.

        With `--max-time`, the number of steps is unknown in advance, so the schedule's
        progress is the larger of the step fraction and the time fraction: the learning
        rate reaches its floor just as the budget runs out, whatever the machine's speed.
        """

        def __init__(self, *args, budget=None, warmup_steps: int = 0, muon_lr: float | None = None, **kwargs):
            super().__init__(*args, **kwargs)
            self.budget = budget
            self.warmup = warmup_steps
            self.muon_lr = muon_lr

        def get_eval_dataloader(self, eval_dataset=None):
            # Every validation block counts, also when there are fewer than one batch of them
            # (a small corpus): training drops a last partial batch, evaluation must not.
            drop_last, self.args.dataloader_drop_last = self.args.dataloader_drop_last, False
            try:
                return super().get_eval_dataloader(eval_dataset)
            finally:
                self.args.dataloader_drop_last = drop_last

        def create_optimizer(self, model=None):
            """Muon for the blocks' matrices and AdamW for the rest (trainer/model/optim.py), unless
            the preset says AdamW only (`muon_lr` None)."""
            if self.optimizer is None and self.muon_lr:
                from trainer.model.optim import MuonAdamW, gpt2_param_groups

                groups = gpt2_param_groups(model or self.model, lr=self.args.learning_rate, muon_lr=self.muon_lr,
                                           weight_decay=self.args.weight_decay)
                for group in groups:
                    group.update(betas=(self.args.adam_beta1, self.args.adam_beta2), eps=self.args.adam_epsilon)
                self.optimizer = MuonAdamW(groups)
            return super().create_optimizer(model)

        def create_scheduler(self, num_training_steps: int, optimizer=None):
            if self.lr_scheduler is None:
                budget, warmup = self.budget, self.warmup

                def factor(step: int) -> float:
                    progress = min(1.0, max(step / max(1, num_training_steps), budget.fraction() if budget else 0.0))
                    # warm-up ends after `warmup` steps or WARMUP_FRACTION of the budget, whichever
                    # comes first: on a slow (or busy) machine a short budget has few steps
                    warm = min(1.0, max((step + 1) / max(1, warmup), progress / WARMUP_FRACTION))
                    decay = max(0.0, progress - WARMUP_FRACTION) / (1 - WARMUP_FRACTION)
                    return warm * (MIN_LR_RATIO + (1 - MIN_LR_RATIO) * 0.5 * (1 + math.cos(math.pi * decay)))

                self.lr_scheduler = LambdaLR(optimizer or self.optimizer, factor)
                self._created_lr_scheduler = True
            return self.lr_scheduler

    return ChatTrainer


# ---------------------------------------------------------------- the run


def training_arguments(chosen, run_dir: Path, *, max_steps, max_time, bf16: bool, device: str, progress: bool,
                        seed: int):
    from transformers import TrainingArguments

    eval_steps = chosen.eval_steps
    if max_steps:
        eval_steps = max(1, min(eval_steps, max_steps // 2))
    return TrainingArguments(
        output_dir=str(run_dir),
        per_device_train_batch_size=chosen.batch_size,
        per_device_eval_batch_size=chosen.batch_size,
        learning_rate=chosen.learning_rate,
        weight_decay=0.1,
        adam_beta1=0.9,
        adam_beta2=0.95,
        max_grad_norm=1.0,
        max_steps=max_steps or -1,
        num_train_epochs=chosen.epochs if not (max_steps or max_time) else 10_000,
        eval_strategy="steps",
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_steps=max(1, min(50, eval_steps // 4)),
        logging_first_step=True,
        bf16=bf16,
        use_cpu=device == "cpu",
        dataloader_drop_last=True,
        disable_tqdm=True,  # the Progress callback's bar follows the real budget instead
        report_to="none",
        seed=seed,
    )


def make_trainer(model, chosen, train_blocks, valid_blocks, args, budget, callbacks: list, progress: bool):
    """A `ChatTrainer` on the blocks (evaluating on `chosen.eval_blocks` of the validation blocks)."""
    from trainer.model.packing import BlockDataset

    trainer = trainer_class()(
        model=model,
        args=args,
        train_dataset=BlockDataset(train_blocks),
        eval_dataset=BlockDataset(evenly_spaced(valid_blocks, chosen.eval_blocks)),
        callbacks=callbacks,
        budget=budget,
        warmup_steps=chosen.warmup_steps,
        muon_lr=chosen.muon_lr,
    )
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # it prints every log dict; metrics.jsonl has them
    return trainer


def fit(trainer, resume_from: Path | None, preset: str, device: str):
    """(the Trainer's result, seconds spent training); running out of memory says what to do."""
    train_start = time.monotonic()
    try:
        result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    except Exception as error:
        if is_out_of_memory(error):
            raise out_of_memory(preset, device) from None
        raise
    return result, time.monotonic() - train_start


def final_metrics(trainer, tokenizer, valid_blocks, block_size: int) -> tuple[float, float]:
    """(validation loss, bits per char) of the best model on up to FINAL_EVAL_TOKENS of the
    validation blocks."""
    from trainer.model.packing import BlockDataset

    final_blocks = evenly_spaced(valid_blocks, max(1, FINAL_EVAL_TOKENS // block_size))
    # its own metric prefix: this figure is on more blocks than the evaluations during training,
    # and must not read as one more point of their curve
    valid_loss = float(trainer.evaluate(BlockDataset(final_blocks), metric_key_prefix="final")["final_loss"])
    return valid_loss, valid_loss / math.log(2) * tokens_per_char(tokenizer, final_blocks)


def evenly_spaced(blocks, count: int):
    import numpy as np

    if len(blocks) <= count:
        return blocks
    return blocks[np.linspace(0, len(blocks) - 1, count).astype(int)]


def is_out_of_memory(error: BaseException) -> bool:
    import torch

    if isinstance(error, (MemoryError, torch.OutOfMemoryError)):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def out_of_memory(preset: str, device: str) -> StreamchatError:
    from trainer.model.presets import smaller_preset

    smaller = smaller_preset(preset)
    advice = f"use --preset {smaller}" if smaller else "close other programs or use a machine with more memory"
    return StreamchatError(f"the {preset} preset ran out of memory on {device}; {advice}")


# ---------------------------------------------------------------- a saved run


def complete_checkpoints(run_dir: Path) -> list[Path]:
    """Trainer checkpoints in `run_dir` whose save finished (trainer_state.json is written last)."""
    if not run_dir.is_dir():
        return []
    found = [p for p in run_dir.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    found = [p for p in found if (p / "trainer_state.json").exists()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


def checkpoint_damage(checkpoint: Path) -> str | None:
    """What is wrong with a Trainer checkpoint that looks complete, or None when it loads.

    A run killed or out of disk space while saving can leave files cut short; resuming from
    one fails deep inside the Trainer, so the files a resume reads are read here first.
    """
    import torch
    from safetensors.torch import load_file

    try:
        json.loads((checkpoint / "trainer_state.json").read_text())
        load_file(checkpoint / "model.safetensors")
        for name in ("optimizer.pt", "scheduler.pt"):
            if (checkpoint / name).exists():
                torch.load(checkpoint / name, map_location="cpu", weights_only=True)
    except Exception as error:  # any failure to read is damage
        return f"{type(error).__name__}: {str(error)[:120]}"
    return None


def elapsed_in(checkpoint: Path) -> float:
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    saved = state.get("stateful_callbacks", {}).get("TimeBudget", {})
    if isinstance(saved, list):
        saved = saved[0] if saved else {}
    return float(saved.get("attributes", {}).get("elapsed_before", 0.0))


# ---------------------------------------------------------------- the loss plot


def plot_losses(metrics_path: Path, out_path: Path, best_step: int | None = None) -> None:
    """Training and validation curves in bits per character against training time, the
    evaluation whose weights were kept marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, valid, best = [], [], None
    for line in metrics_path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if "train_bits_per_char" in entry:
            train.append((entry["time_s"], entry["train_bits_per_char"]))
        if "valid_bits_per_char" in entry:
            valid.append((entry["time_s"], entry["valid_bits_per_char"]))
            if entry["step"] == best_step:
                best = valid[-1]
    figure, axis = plt.subplots(figsize=(7, 4))
    if train:
        axis.plot(*zip(*train), marker="." if len(train) < 20 else None, label="training")
    if valid:
        axis.plot(*zip(*valid), marker="o", label="validation")
    if best is not None:
        axis.plot(*best, marker="*", markersize=16, color="crimson", linestyle="none",
                  label=f"kept: {best[1]:.3f} bits/char")
    axis.set_xlabel("training time (s)")
    axis.set_ylabel("bits per character")
    axis.set_title("streamchat training")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(out_path, dpi=100)
    plt.close(figure)
