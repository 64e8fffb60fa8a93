"""`python -m trainer train`: tokenizer + GPT-2 trained on a prepared corpus, saved as a checkpoint.

The steps, in order:
1. read the corpus `prepare` wrote (train.jsonl, valid.jsonl, emotes.txt, stats.json);
2. the tokenizer: trained on the training messages (trainer/model/tokenizer.py), or taken from the
   base GPT-2 (`--base-model`, emotes added) or the checkpoint being continued (`init_from`);
3. both splits in chat format, packed into fixed-length blocks (trainer/model/packing.py);
4. a GPT-2 from a preset (trainer/model/presets.py), trained with transformers' `Trainer`: Muon for
   the blocks' matrices and AdamW for the rest (trainer/model/optim.py), warm-up then cosine decay,
   gradient clipping, evaluation on validation blocks every N steps with the best model kept,
   a wall-clock budget (`--max-time`) that the learning-rate schedule follows, bf16 autocast
   when it is measurably faster, `--resume`;
5. the best model saved atomically with its card (trainer/model/checkpoint.py), `metrics.jsonl`
   and `loss.png`.

The run's resumable state lives in `MODEL_DIR/training/` until the checkpoint is written.
Runs unchanged under `accelerate launch` / `torchrun` (the Trainer handles the processes;
the tokenizer is trained once, by the main process).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path

from trainer.errors import StreamchatError

logger = logging.getLogger(__name__)

RUN_DIR = "training"  # inside MODEL_DIR: Trainer checkpoints for --resume, deleted on success
METRICS_FILE = "metrics.jsonl"
LOSS_PLOT = "loss.png"
MIN_TRAIN_MESSAGES = 200
MIN_LR_RATIO = 0.1  # cosine decay ends at 10 % of the peak learning rate
WARMUP_FRACTION = 0.05  # at most this share of the budget is spent warming up
FINETUNE_LR_SCALE = 0.25  # a pretrained model (base GPT-2, init_from) is tuned at a quarter of the rate
FINAL_EVAL_TOKENS = 65_536  # validation tokens scored for the card's metrics (seconds, not minutes)


# ---------------------------------------------------------------- corpus


def load_corpus(data_dir: Path):
    """(train records, valid records, emotes, stats) of a folder `prepare` wrote, or a clear error."""
    from trainer.corpus.prepared import load_prepared

    corpus = load_prepared(data_dir, min_train=MIN_TRAIN_MESSAGES)
    return corpus.train, corpus.valid, corpus.emotes, corpus.stats


# ---------------------------------------------------------------- device and precision


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


# ---------------------------------------------------------------- callbacks


def _callback_classes():
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
            if out_of_time:
                self.stopped_by_time = True
                control.should_training_stop = True
            if out_of_time or last_step:
                control.should_evaluate = True
                control.should_save = True
            return control

        def state(self) -> dict:
            return {"args": {"max_time": self.max_time}, "attributes": {"elapsed_before": self.elapsed()}}

    class MetricsLog(TrainerCallback):
        """Appends every log entry (loss, learning rate, eval loss, ...) to metrics.jsonl."""

        def __init__(self, path: Path, budget: TimeBudget, block_tokens: int):
            self.path = path
            self.budget = budget
            self.block_tokens = block_tokens

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            entry = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4),
                     "time_s": round(self.budget.elapsed(), 2),
                     "tokens": state.global_step * self.block_tokens, **logs}
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")

    return TimeBudget, MetricsLog


def _trainer_class():
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


# ---------------------------------------------------------------- helpers


def _complete_checkpoints(run_dir: Path) -> list[Path]:
    """Trainer checkpoints in `run_dir` whose save finished (trainer_state.json is written last)."""
    if not run_dir.is_dir():
        return []
    found = [p for p in run_dir.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    found = [p for p in found if (p / "trainer_state.json").exists()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


def _elapsed_in(checkpoint: Path) -> float:
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    saved = state.get("stateful_callbacks", {}).get("TimeBudget", {})
    if isinstance(saved, list):
        saved = saved[0] if saved else {}
    return float(saved.get("attributes", {}).get("elapsed_before", 0.0))


def _load_base_model(name: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModelForCausalLM.from_pretrained(name)
    except (OSError, ValueError, EnvironmentError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise StreamchatError(
            f"could not load the base model {name!r} ({first}). With internet, use a hub name such as "
            "`gpt2` or `distilgpt2`; offline, download it elsewhere (`huggingface-cli download gpt2 "
            "--local-dir gpt2`), copy the folder here and pass --base-model PATH/TO/gpt2"
        ) from None
    if model.config.model_type != "gpt2":
        raise StreamchatError(f"base model {name!r} is a {model.config.model_type}, not a GPT-2; use a GPT-2 model")
    if getattr(tokenizer, "backend_tokenizer", None) is None:
        raise StreamchatError(f"base model {name!r} has no tokenizer.json (fast tokenizer); re-save it with transformers")
    return model, tokenizer


def _plot_losses(metrics_path: Path, out_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, valid = [], []
    for line in metrics_path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if "loss" in entry:
            train.append((entry["time_s"], entry["loss"]))
        if "eval_loss" in entry:
            valid.append((entry["time_s"], entry["eval_loss"]))
    figure, axis = plt.subplots(figsize=(7, 4))
    if train:
        axis.plot(*zip(*train), label="training loss")
    if valid:
        axis.plot(*zip(*valid), marker="o", label="validation loss")
    axis.set_xlabel("training time (s)")
    axis.set_ylabel("cross-entropy (nats/token)")
    axis.set_title("streamchat training")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(out_path, dpi=100)
    plt.close(figure)


def _evenly_spaced(blocks, count: int):
    import numpy as np

    if len(blocks) <= count:
        return blocks
    return blocks[np.linspace(0, len(blocks) - 1, count).astype(int)]


def _is_out_of_memory(error: BaseException) -> bool:
    import torch

    if isinstance(error, (MemoryError, torch.OutOfMemoryError)):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def _out_of_memory(preset: str, device: str) -> StreamchatError:
    from trainer.model.presets import smaller_preset

    smaller = smaller_preset(preset)
    advice = f"use --preset {smaller}" if smaller else "close other programs or use a machine with more memory"
    return StreamchatError(f"the {preset} preset ran out of memory on {device}; {advice}")


# ---------------------------------------------------------------- train


def train(
    data_dir: Path,
    out_dir: Path,
    *,
    preset: str = "auto",
    max_time: float | None = None,
    max_steps: int | None = None,
    base_model: str | None = None,
    resume: bool = False,
    init_from: Path | None = None,
    progress: bool = True,
    precision: str = "auto",
    overrides: dict | None = None,
    vocab_size: int | None = None,
    seed: int = 0,
) -> Path:
    """Train on the prepared corpus in `data_dir` and write the checkpoint to `out_dir`.

    `max_time` (seconds of training, summed over resumed runs) and `max_steps` bound the
    run; without either, the preset's number of epochs. `preset` is tiny/small/base/auto.
    `base_model` fine-tunes a GPT-2 (hub name or folder); `init_from` continues a streamchat
    checkpoint with its tokenizer. `precision` is auto/bf16/fp32; `overrides` replaces
    preset fields (experiments, benchmarks); `vocab_size` fixes the BPE size.
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if base_model and init_from:
        raise StreamchatError("use either --base-model or init_from, not both")
    if max_time is not None and max_time <= 0:
        raise StreamchatError("--max-time must be a positive number of seconds")
    if max_steps is not None and max_steps <= 0:
        raise StreamchatError("--max-steps must be a positive number of steps")
    wall_start = time.monotonic()
    train_records, valid_records, emotes, stats = load_corpus(data_dir)  # before the heavy imports: fail fast

    from transformers import TrainingArguments, set_seed

    from trainer.model.checkpoint import load_checkpoint, save_checkpoint
    from trainer.corpus.fingerprints import FingerprintSet
    from trainer.model.presets import build_model, count_parameters, get_preset
    from trainer.model.packing import BlockDataset, pack_blocks, token_stream
    from trainer.model.tokenizer import add_emotes_to, train_tokenizer

    set_seed(seed)
    device = pick_device()
    run_dir = out_dir / RUN_DIR
    resume_from = None
    if resume:
        done = _complete_checkpoints(run_dir)
        if done:
            resume_from = done[-1]
            logger.info("resuming from %s", resume_from)
        else:
            logger.warning("nothing to resume in %s; starting a new run", run_dir)
    # Under torchrun / accelerate launch every process runs this function: the main process
    # sets up the run folder (and trains the tokenizer, below) first, the others then read it.
    setup = TrainingArguments(output_dir=str(run_dir), report_to="none", use_cpu=device == "cpu")
    is_main = setup.process_index == 0
    run_file = run_dir / "run.json"
    with setup.main_process_first(desc="run folder"):
        if is_main and resume_from is None:
            if run_dir.exists():
                shutil.rmtree(run_dir)
            run_dir.mkdir(parents=True)
            run_file.write_text(json.dumps({
                "preset": preset, "base_model": base_model, "overrides": overrides, "vocab_size": vocab_size,
                "precision": precision, "init_from": str(init_from) if init_from else None}, indent=2))
    if resume_from is not None and run_file.exists():
        # A resumed run repeats the original's choices, whatever this call says.
        saved = json.loads(run_file.read_text())
        preset, base_model, overrides, vocab_size, precision = (
            saved["preset"], saved["base_model"], saved["overrides"], saved["vocab_size"], saved["precision"])
        init_from = Path(saved["init_from"]) if saved["init_from"] else None

    # ---- tokenizer and model
    train_texts = [r.text for r in train_records]
    n_train_chars = sum(len(t) for t in train_texts)
    tokenizer_dir = run_dir / "tokenizer"
    model = None
    pretrained_from = None
    if init_from is not None:
        model, tokenizer, old_card = load_checkpoint(init_from)
        emotes = list(old_card.get("emotes") or [])  # the kept tokenizer knows these emotes, not new ones
        pretrained_from = str(init_from)
        preset = old_card.get("preset") or preset
        overrides = {**(old_card.get("training", {}).get("overrides") or {}), **(overrides or {}),
                     "block_size": int(old_card["block_size"])}
    elif base_model is not None:
        model, base_tokenizer = _load_base_model(base_model)
        pretrained_from = base_model
        tokenizer = add_emotes_to(base_tokenizer, emotes)
        model.resize_token_embeddings(len(tokenizer))
        model.config.eos_token_id = model.config.bos_token_id = model.config.pad_token_id = tokenizer.eos_token_id
    else:
        from transformers import AutoTokenizer

        with setup.main_process_first(desc="tokenizer"):
            if (tokenizer_dir / "tokenizer.json").exists():
                tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
            else:
                tokenizer = train_tokenizer(train_texts, emotes, vocab_size=vocab_size, n_chars=n_train_chars,
                                            progress=progress and is_main)
                if is_main:
                    tokenizer.save_pretrained(tokenizer_dir)

    train_ids = token_stream(tokenizer, train_records)
    chosen = get_preset(preset, len(train_ids), device)
    if overrides:
        chosen = replace(chosen, **overrides)
    if model is not None and chosen.block_size > model.config.n_positions:
        chosen = replace(chosen, block_size=model.config.n_positions)
    if base_model is not None:
        chosen = replace(chosen, muon_lr=None)  # AdamW-pretrained weights tune no better with Muon (Moonshot AI, 2025)
    if pretrained_from is not None:
        chosen = replace(chosen, learning_rate=chosen.learning_rate * FINETUNE_LR_SCALE,
                         muon_lr=chosen.muon_lr and chosen.muon_lr * FINETUNE_LR_SCALE)
    block_size = chosen.block_size
    train_blocks = pack_blocks(train_ids, block_size)
    if valid_records:
        valid_ids = token_stream(tokenizer, valid_records)
        valid_blocks = pack_blocks(valid_ids, block_size)
        if len(valid_blocks) == 0 and len(valid_ids) > 1:
            valid_blocks = valid_ids[None, :]  # a short validation split: one shorter block
        split_note = "by stream (prepare's split)"
    else:
        # One stream only: hold out the most recent 5 % of the training blocks (a time split).
        held = max(1, len(train_blocks) // 20)
        valid_blocks, train_blocks = train_blocks[-held:], train_blocks[:-held]
        valid_ids = valid_blocks.reshape(-1)
        split_note = "no validation messages: the last 5 % of training blocks held out"
        logger.warning("%s has no validation messages; holding out the last 5 %% of training", data_dir)
    if len(train_blocks) < 2 * chosen.batch_size or len(valid_blocks) == 0:
        raise StreamchatError(
            f"the corpus is too small for the {chosen.name} preset: {len(train_ids)} training tokens make "
            f"{len(train_blocks)} blocks of {block_size} (at least {2 * chosen.batch_size} needed) and "
            f"{len(valid_blocks)} validation blocks; add more chat or use --preset tiny"
        )
    if model is None:
        try:
            model = build_model(chosen, len(tokenizer), tokenizer.eos_token_id)
        except Exception as error:
            if _is_out_of_memory(error):
                raise _out_of_memory(chosen.name, device) from None
            raise
    n_params = count_parameters(model)
    eval_blocks = _evenly_spaced(valid_blocks, chosen.eval_blocks)
    logger.info(
        "%s preset: %d parameters, vocabulary %d, %d training tokens in %d blocks of %d, %d validation blocks",
        chosen.name, n_params, len(tokenizer), len(train_ids), len(train_blocks), block_size, len(valid_blocks))

    # ---- trainer
    precision_used, precision_measured = choose_precision(device, precision)
    TimeBudget, MetricsLog = _callback_classes()
    budget = TimeBudget(max_time=max_time, elapsed_before=_elapsed_in(resume_from) if resume_from else 0.0)
    metrics_path = run_dir / METRICS_FILE
    steps_per_epoch = max(1, len(train_blocks) // chosen.batch_size)
    eval_steps = chosen.eval_steps
    if max_steps:
        eval_steps = max(1, min(eval_steps, max_steps // 2))
    args = TrainingArguments(
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
        bf16=precision_used == "bf16",
        use_cpu=device == "cpu",
        dataloader_drop_last=True,
        disable_tqdm=not progress,
        report_to="none",
        seed=seed,
    )
    ChatTrainer = _trainer_class()
    trainer = ChatTrainer(
        model=model,
        args=args,
        train_dataset=BlockDataset(train_blocks),
        eval_dataset=BlockDataset(eval_blocks),
        callbacks=[budget, MetricsLog(metrics_path, budget, chosen.batch_size * block_size)],
        budget=budget,
        warmup_steps=chosen.warmup_steps,
        muon_lr=chosen.muon_lr,
    )
    if not progress:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # it prints every log dict; metrics.jsonl has them
    train_start = time.monotonic()
    try:
        result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    except Exception as error:
        if _is_out_of_memory(error):
            raise _out_of_memory(chosen.name, device) from None
        raise
    train_seconds = time.monotonic() - train_start

    # ---- final metrics on (up to FINAL_EVAL_TOKENS of) the validation blocks, with the best model
    final_blocks = _evenly_spaced(valid_blocks, max(1, FINAL_EVAL_TOKENS // block_size))
    valid_loss = float(trainer.evaluate(BlockDataset(final_blocks))["eval_loss"])
    boundary = tokenizer.eos_token_id
    # characters those blocks stand for: message text + 1 per boundary (the bits/char convention)
    chars = sum(len(tokenizer.decode([int(t) for t in row if t != boundary])) for row in final_blocks)
    chars += int((final_blocks == boundary).sum())
    predicted = final_blocks.shape[0] * (block_size - 1)
    bits_per_char = valid_loss / math.log(2) * predicted / max(1, chars)

    state = trainer.state
    tokens_seen = state.global_step * chosen.batch_size * block_size * args.world_size
    card = {
        "block_size": block_size,
        "emotes": emotes,
        "preset": chosen.name,
        "parameters": n_params,
        "vocab_size": len(tokenizer),
        "data": {
            "dir": str(data_dir.resolve()),
            "channels": sorted({r.channel for r in train_records if r.channel}),
            "train_messages": len(train_records),
            "valid_messages": len(valid_records),
            "train_chars": n_train_chars,
            "train_tokens": int(len(train_ids)),
            "valid_tokens": int(len(valid_ids)),
            "sources": stats.get("files") or stats.get("inputs") or stats.get("sources"),
        },
        "split": {
            "method": split_note,
            "train_streams": sorted({r.stream for r in train_records}),
            "valid_streams": sorted({r.stream for r in valid_records}),
        },
        "training": {
            "device": device,
            "precision": precision_used,
            "precision_measured": precision_measured,
            "world_size": args.world_size,
            "base_model": base_model,
            "init_from": str(init_from) if init_from else None,
            "preset_settings": chosen.as_dict(),
            "overrides": overrides or {},
            "optimizer": f"Muon (lr {chosen.muon_lr:g}) for the blocks' matrices, AdamW (lr {chosen.learning_rate:g}) for the rest"
                         if chosen.muon_lr else f"AdamW (lr {chosen.learning_rate:g})",
            "schedule": f"warm-up {chosen.warmup_steps} steps or {WARMUP_FRACTION:.0%} of the budget, cosine to {MIN_LR_RATIO:g} x peak",
            "steps": state.global_step,
            "epochs": round(state.epoch or 0.0, 3),
            "tokens_seen": tokens_seen,
            "train_seconds": round(train_seconds, 1),
            "total_seconds": round(time.monotonic() - wall_start, 1),
            "tokens_per_second": round(tokens_seen / max(train_seconds, 1e-9), 1) if not resume_from else None,
            "max_time": max_time,
            "max_steps": max_steps,
            "stopped_by": "max_time" if budget.stopped_by_time else ("max_steps" if max_steps else "epochs"),
            "resumed_from_step": int(resume_from.name.split("-")[-1]) if resume_from else None,
            "best_step": int(Path(state.best_model_checkpoint).name.split("-")[-1]) if state.best_model_checkpoint else None,
            "train_loss": round(float(result.training_loss), 4),
        },
        "metrics": {
            "valid_loss": round(valid_loss, 4),
            "valid_bits_per_token": round(valid_loss / math.log(2), 4),
            "valid_bits_per_char_packed": round(bits_per_char, 4),
            "note": "packed validation blocks (context restarts at each block); "
                    "`python -m trainer evaluate` gives the exact per-message figure",
        },
    }
    if trainer.is_world_process_zero():
        _plot_losses(metrics_path, run_dir / LOSS_PLOT)
        save_checkpoint(
            trainer.model, tokenizer, card, out_dir, FingerprintSet.from_texts(train_texts),
            extra_files={METRICS_FILE: metrics_path, LOSS_PLOT: run_dir / LOSS_PLOT},
        )
    trainer.accelerator.wait_for_everyone()  # other processes return once the checkpoint exists
    logger.info("trained %s in %.0f s: validation loss %.3f, ~%.3f bits/char -> %s",
                chosen.name, train_seconds, valid_loss, bits_per_char, out_dir)
    return out_dir


# ---------------------------------------------------------------- command line


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a tokenizer and GPT-2 on a prepared corpus",
        description="Train a chat model on a folder written by `prepare`; writes a checkpoint folder "
        "that transformers loads (AutoModelForCausalLM / AutoTokenizer).",
    )
    parser.add_argument("--data", required=True, type=Path, help="prepared corpus folder (prepare's --out)")
    parser.add_argument("--out", required=True, type=Path, help="checkpoint folder to write (MODEL_DIR)")
    parser.add_argument("--preset", default="auto", choices=["tiny", "small", "base", "auto"],
                        help="model size (default auto: from the corpus size and the device)")
    parser.add_argument("--max-time", type=float, metavar="SECONDS",
                        help="wall-clock training budget; the learning-rate schedule fits into it")
    parser.add_argument("--max-steps", type=int, metavar="N", help="stop after N optimizer steps")
    parser.add_argument("--base-model", metavar="NAME_OR_DIR",
                        help="fine-tune this GPT-2 (hub name, or a local folder offline) instead of training from scratch")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    parser.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"],
                        help="default auto: bf16 autocast only where measured faster")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args) -> int:
    out = train(
        args.data, args.out, preset=args.preset, max_time=args.max_time, max_steps=args.max_steps,
        base_model=args.base_model, resume=args.resume, precision=args.precision, progress=not args.no_progress,
    )
    from trainer.model.checkpoint import load_card

    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under torchrun, one summary line (from the main process) is enough
    card = load_card(out)
    print(f"model: {out} ({card['preset']}, {card['parameters']:,} parameters, "
          f"{card['training']['train_seconds']:.0f} s, validation ~{card['metrics']['valid_bits_per_char_packed']:.3f} bits/char)")
    return 0
