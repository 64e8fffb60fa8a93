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
   when it is measurably faster, `--resume` (trainer/model/fitting.py, precision.py);
5. the best model saved atomically with its card (trainer/model/checkpoint.py), `metrics.jsonl`
   and `loss.png`.

The run's resumable state lives in `MODEL_DIR/training/` until the checkpoint is written.
Runs unchanged under `accelerate launch` / `torchrun` (the Trainer handles the processes;
the tokenizer is trained once, by the main process).
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from trainer.errors import StreamchatError
from trainer.model.presets import PRESET_CHOICES

logger = logging.getLogger(__name__)

RUN_DIR = "training"  # inside MODEL_DIR: Trainer checkpoints for --resume, deleted on success
RUN_FILE = "run.json"  # inside RUN_DIR: what the run was asked for (a resumed run repeats it)
METRICS_FILE = "metrics.jsonl"
LOSS_PLOT = "loss.png"
MIN_TRAIN_MESSAGES = 200
SAMPLE_BLOCKS = 256  # training blocks decoded to measure the training data's tokens per character
FINETUNE_LR_SCALE = 0.25  # a pretrained model (base GPT-2, init_from) is tuned at a quarter of the rate


# ---------------------------------------------------------------- corpus


def load_corpus(data_dir: Path):
    """(train records, valid records, emotes, stats) of a folder `prepare` wrote, or a clear error."""
    from trainer.corpus.prepared import load_prepared

    corpus = load_prepared(data_dir, min_train=MIN_TRAIN_MESSAGES)
    return corpus.train, corpus.valid, corpus.emotes, corpus.stats


# ---------------------------------------------------------------- the steps of a run


@dataclass
class RunChoices:
    """What a run was asked for, kept in RUN_DIR/run.json: a resumed run repeats these choices,
    whatever the resuming call says."""

    preset: str
    base_model: str | None
    overrides: dict | None
    vocab_size: int | None
    precision: str
    init_from: Path | None

    def save(self, path: Path) -> None:
        saved = {**asdict(self), "init_from": str(self.init_from) if self.init_from else None}
        path.write_text(json.dumps(saved, indent=2))

    @classmethod
    def load(cls, path: Path) -> RunChoices:
        saved = json.loads(path.read_text())
        return cls(saved["preset"], saved["base_model"], saved["overrides"], saved["vocab_size"], saved["precision"],
                   Path(saved["init_from"]) if saved["init_from"] else None)


@dataclass
class Start:
    """What training starts from: a tokenizer, and pretrained weights (None: a new model)."""

    tokenizer: object
    model: object | None
    emotes: list[str]  # the emotes the tokenizer keeps whole
    pretrained_from: str | None
    preset: str  # the preset and overrides the run uses (a continued checkpoint keeps its own)
    overrides: dict | None


@dataclass
class Blocks:
    """Both splits in chat format, packed into blocks of the preset's length."""

    train_ids: object  # numpy arrays of token ids
    train_blocks: object
    valid_ids: object
    valid_blocks: object
    split_note: str


def _check_arguments(base_model, init_from, max_time, max_steps) -> None:
    if base_model and init_from:
        raise StreamchatError("use either --base-model or init_from, not both")
    if max_time is not None and max_time <= 0:
        raise StreamchatError("--max-time must be a positive number of seconds")
    if max_steps is not None and max_steps <= 0:
        raise StreamchatError("--max-steps must be a positive number of steps")


def _check_out(out_dir: Path, data_dir: Path) -> None:
    """Refuse an --out whose contents a run would replace but that isn't a checkpoint: the save
    puts a new folder in its place, so only an empty folder, a checkpoint (retrained) or an
    interrupted run (resumed or restarted) may be there."""
    from trainer.model.checkpoint import is_checkpoint, is_home

    if is_home(out_dir) or (out_dir.parent.name == "versions" and is_home(out_dir.parent.parent)):
        raise StreamchatError(
            f"--out {out_dir} is a model home (or one of its versions): training there would replace its versions; "
            "train to a new folder and adopt it with `python -m trainer home HOME --adopt MODEL_DIR`, or retrain "
            "the home with `python -m trainer retrain --home HOME`"
        )
    if out_dir.exists() and out_dir.resolve() == data_dir.resolve():
        raise StreamchatError(f"--out {out_dir} is the corpus (--data): training would replace it; choose a new folder")
    if not out_dir.is_dir() or is_checkpoint(out_dir):
        if out_dir.exists() and not out_dir.is_dir():
            raise StreamchatError(f"--out {out_dir} is a file; choose a folder for the model")
        return
    others = sorted(entry.name for entry in out_dir.iterdir() if entry.name != RUN_DIR)
    if others:
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        what = "a prepared corpus" if "train.jsonl" in others else "not a streamchat checkpoint"
        raise StreamchatError(
            f"--out {out_dir} holds {shown}, and it is {what}: training replaces the whole folder, so these would "
            "be lost; choose an empty or new folder (or an existing checkpoint to replace)"
        )


def _start_run(run_dir: Path, setup, choices: RunChoices, resume: bool) -> tuple[Path | None, RunChoices]:
    """(the Trainer checkpoint to resume from or None, the run's choices): a new run gets a fresh
    run folder holding its choices; a resumed one reads its choices back."""
    from trainer.model.fitting import checkpoint_damage, complete_checkpoints

    resume_from = None
    if resume:
        done = complete_checkpoints(run_dir)
        for candidate in reversed(done):  # the latest one that loads; a damaged one is passed over
            damage = checkpoint_damage(candidate)
            if damage is None:
                resume_from = candidate
                break
            logger.warning("the resume checkpoint %s is damaged (%s); trying the one before", candidate, damage)
        if resume_from is not None:
            logger.info("resuming from %s", resume_from)
        else:
            logger.warning("nothing to resume in %s; starting a new run", run_dir)
    run_file = run_dir / RUN_FILE
    with setup.main_process_first(desc="run folder"):
        if setup.process_index == 0 and resume_from is None:
            if run_dir.exists():
                shutil.rmtree(run_dir)
            run_dir.mkdir(parents=True)
            choices.save(run_file)
    if resume_from is not None and run_file.exists():
        choices = RunChoices.load(run_file)
    return resume_from, choices


def _starting_point(choices: RunChoices, train_texts: list[str], emotes: list[str], run_dir: Path, setup,
                    progress: bool) -> Start:
    """The tokenizer and weights to start from: the checkpoint continued (`init_from`), the base
    GPT-2 with the emotes added, or a tokenizer trained on `train_texts` (once, by the main process)."""
    from trainer.model.checkpoint import load_checkpoint
    from trainer.model.tokenizer import add_emotes_to, train_tokenizer

    if choices.init_from is not None:
        model, tokenizer, old_card = load_checkpoint(choices.init_from)
        overrides = {**(old_card.get("training", {}).get("overrides") or {}), **(choices.overrides or {}),
                     "block_size": int(old_card["block_size"])}
        # the kept tokenizer knows the checkpoint's emotes, not the corpus's new ones
        return Start(tokenizer, model, list(old_card.get("emotes") or []), str(choices.init_from),
                     old_card.get("preset") or choices.preset, overrides)
    if choices.base_model is not None:
        model, base_tokenizer = _load_base_model(choices.base_model)
        tokenizer = add_emotes_to(base_tokenizer, emotes)
        model.resize_token_embeddings(len(tokenizer))
        model.config.eos_token_id = model.config.bos_token_id = model.config.pad_token_id = tokenizer.eos_token_id
        return Start(tokenizer, model, emotes, choices.base_model, choices.preset, choices.overrides)

    from transformers import AutoTokenizer

    tokenizer_dir = run_dir / "tokenizer"
    with setup.main_process_first(desc="tokenizer"):
        if (tokenizer_dir / "tokenizer.json").exists():
            tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        else:
            tokenizer = train_tokenizer(train_texts, emotes, vocab_size=choices.vocab_size,
                                        n_chars=sum(len(t) for t in train_texts),
                                        progress=progress and setup.process_index == 0)
            if setup.process_index == 0:
                tokenizer.save_pretrained(tokenizer_dir)
    return Start(tokenizer, None, emotes, None, choices.preset, choices.overrides)


def _final_preset(start: Start, base_model: str | None, train_tokens: int, device: str):
    """The preset, with the run's overrides and what pretrained weights imply."""
    from trainer.model.presets import get_preset

    chosen = get_preset(start.preset, train_tokens, device)
    if start.overrides:
        chosen = replace(chosen, **start.overrides)
    if start.model is not None and chosen.block_size > start.model.config.n_positions:
        chosen = replace(chosen, block_size=start.model.config.n_positions)
    if base_model is not None:
        chosen = replace(chosen, muon_lr=None)  # AdamW-pretrained weights tune no better with Muon (Moonshot AI, 2025)
    if start.pretrained_from is not None:
        chosen = replace(chosen, learning_rate=chosen.learning_rate * FINETUNE_LR_SCALE,
                         muon_lr=chosen.muon_lr and chosen.muon_lr * FINETUNE_LR_SCALE)
    return chosen


def _pack(tokenizer, train_ids, valid_records, chosen, data_dir: Path) -> Blocks:
    """Blocks of both splits; without validation messages, the latest training blocks held out."""
    from trainer.model.packing import pack_blocks, token_stream

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
    return Blocks(train_ids, train_blocks, valid_ids, valid_blocks, split_note)


def _timing_batch(train_blocks, batch_size: int):
    """One batch of real training blocks, of the size the Trainer uses: what precision is timed on."""
    import torch

    return torch.from_numpy(train_blocks[:batch_size].astype("int64"))


def _new_model(chosen, tokenizer, device: str):
    from trainer.model.fitting import is_out_of_memory, out_of_memory
    from trainer.model.presets import build_model

    try:
        return build_model(chosen, len(tokenizer), tokenizer.eos_token_id)
    except Exception as error:
        if is_out_of_memory(error):
            raise out_of_memory(chosen.name, device) from None
        raise


def _card(*, data_dir: Path, stats: dict, train_records, valid_records, start: Start, chosen, blocks: Blocks,
          choices: RunChoices, n_params: int, vocab_size: int, device: str, precision: tuple[str, dict], trainer,
          result, budget, train_seconds: float, wall_start: float, resume_from: Path | None, max_time, max_steps,
          valid_loss: float, bits_per_char: float) -> dict:
    """The checkpoint's card (trainer/model/checkpoint.py): data, split, training run, metrics."""
    from trainer.model.fitting import MIN_LR_RATIO, WARMUP_FRACTION

    state = trainer.state
    block_size = chosen.block_size
    tokens_seen = state.global_step * chosen.batch_size * block_size * trainer.args.world_size
    return {
        "block_size": block_size,
        "emotes": start.emotes,
        "preset": chosen.name,
        "parameters": n_params,
        "vocab_size": vocab_size,
        "data": {
            "dir": str(data_dir.resolve()),
            "channels": sorted({r.channel for r in train_records if r.channel}),
            "train_messages": len(train_records),
            "valid_messages": len(valid_records),
            "train_chars": sum(len(r.text) for r in train_records),
            "train_tokens": int(len(blocks.train_ids)),
            "valid_tokens": int(len(blocks.valid_ids)),
            "sources": stats.get("files") or stats.get("inputs") or stats.get("sources"),
        },
        "split": {
            "method": blocks.split_note,
            "train_streams": sorted({r.stream for r in train_records}),
            "valid_streams": sorted({r.stream for r in valid_records}),
        },
        "training": {
            "device": device,
            "precision": precision[0],
            "precision_measured": precision[1],
            "world_size": trainer.args.world_size,
            "base_model": choices.base_model,
            "init_from": str(choices.init_from) if choices.init_from else None,
            "preset_settings": chosen.as_dict(),
            "overrides": start.overrides or {},
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
    _check_arguments(base_model, init_from, max_time, max_steps)
    _check_out(out_dir, data_dir)
    wall_start = time.monotonic()
    train_records, valid_records, emotes, stats = load_corpus(data_dir)  # before the heavy imports: fail fast
    run_dir = out_dir / RUN_DIR
    try:
        return _train(data_dir, out_dir, run_dir, preset=preset, max_time=max_time, max_steps=max_steps,
                      base_model=base_model, resume=resume, init_from=init_from, progress=progress,
                      precision=precision, overrides=overrides, vocab_size=vocab_size, seed=seed,
                      corpus=(train_records, valid_records, emotes, stats), wall_start=wall_start)
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        # What a full disk left of the run can't be trusted to resume from; the old checkpoint
        # in out_dir is untouched (the new one replaces it only when completely written).
        shutil.rmtree(run_dir, ignore_errors=True)
        if out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()
        raise StreamchatError(
            f"the disk of {out_dir} is full ({error.strerror}); the run was abandoned and "
            f"{'the previous checkpoint there is unchanged' if out_dir.exists() else 'nothing was written'} "
            "— free some space (a run needs a few times the model's size) and train again"
        ) from None


def _train(data_dir: Path, out_dir: Path, run_dir: Path, *, preset, max_time, max_steps, base_model, resume,
           init_from, progress, precision, overrides, vocab_size, seed, corpus, wall_start) -> Path:
    """`train` after its checks: the run itself (see the module's steps)."""
    train_records, valid_records, emotes, stats = corpus

    from transformers import TrainingArguments, set_seed

    from trainer.corpus.fingerprints import FingerprintSet
    from trainer.model.checkpoint import save_checkpoint
    from trainer.model.packing import token_stream
    from trainer.model.precision import choose_precision, pick_device
    from trainer.model.presets import count_parameters
    from trainer.model.fitting import (
        BitsPerChar, callback_classes, elapsed_in, evenly_spaced, final_metrics, fit, make_trainer, plot_losses,
        progress_class, tokens_per_char, training_arguments,
    )

    set_seed(seed)
    device = pick_device()
    # Under torchrun / accelerate launch every process runs this function: the main process
    # sets up the run folder (and trains the tokenizer) first, the others then read it.
    setup = TrainingArguments(output_dir=str(run_dir), report_to="none", use_cpu=device == "cpu")
    choices = RunChoices(preset, base_model, overrides, vocab_size, precision, init_from)
    resume_from, choices = _start_run(run_dir, setup, choices, resume)

    # ---- tokenizer, blocks and model
    train_texts = [r.text for r in train_records]
    start = _starting_point(choices, train_texts, emotes, run_dir, setup, progress)
    tokenizer = start.tokenizer
    train_ids = token_stream(tokenizer, train_records)
    chosen = _final_preset(start, choices.base_model, len(train_ids), device)
    blocks = _pack(tokenizer, train_ids, valid_records, chosen, data_dir)
    model = start.model if start.model is not None else _new_model(chosen, tokenizer, device)
    _quiet_tied_model(model)
    n_params = count_parameters(model)
    logger.info(
        "%s preset: %d parameters, vocabulary %d, %d training tokens in %d blocks of %d, %d validation blocks",
        chosen.name, n_params, len(tokenizer), len(train_ids), len(blocks.train_blocks), chosen.block_size,
        len(blocks.valid_blocks))

    # ---- the run
    precision_used = choose_precision(device, choices.precision, model=model,
                                      batch=_timing_batch(blocks.train_blocks, chosen.batch_size))
    TimeBudget, MetricsLog = callback_classes()
    budget = TimeBudget(max_time=max_time, elapsed_before=elapsed_in(resume_from) if resume_from else 0.0)
    metrics_path = run_dir / METRICS_FILE
    args = training_arguments(chosen, run_dir, max_steps=max_steps, max_time=max_time,
                               bf16=precision_used[0] == "bf16", device=device, progress=progress, seed=seed)
    units = BitsPerChar(tokens_per_char(tokenizer, evenly_spaced(blocks.train_blocks, SAMPLE_BLOCKS)),
                        tokens_per_char(tokenizer, evenly_spaced(blocks.valid_blocks, chosen.eval_blocks)))
    steps_per_epoch = len(blocks.train_blocks) // (chosen.batch_size * args.world_size)
    callbacks = [budget, MetricsLog(metrics_path, budget, chosen.batch_size * chosen.block_size, units),
                 progress_class()(budget, units, steps_per_epoch, max_steps=max_steps, show_bar=progress)]
    trainer = make_trainer(model, chosen, blocks.train_blocks, blocks.valid_blocks, args, budget, callbacks, progress)
    from tqdm.contrib.logging import logging_redirect_tqdm

    with logging_redirect_tqdm():  # log lines above the progress bar, not through it
        result, train_seconds = fit(trainer, resume_from, chosen.name, device)

    # ---- metrics, card, checkpoint
    valid_loss, bits_per_char = final_metrics(trainer, tokenizer, blocks.valid_blocks, chosen.block_size)
    card = _card(
        data_dir=data_dir, stats=stats, train_records=train_records, valid_records=valid_records, start=start,
        chosen=chosen, blocks=blocks, choices=choices, n_params=n_params, vocab_size=len(tokenizer), device=device,
        precision=precision_used, trainer=trainer, result=result, budget=budget, train_seconds=train_seconds,
        wall_start=wall_start, resume_from=resume_from, max_time=max_time, max_steps=max_steps,
        valid_loss=valid_loss, bits_per_char=bits_per_char,
    )
    if trainer.is_world_process_zero():
        plot_losses(metrics_path, run_dir / LOSS_PLOT, card["training"]["best_step"])
        save_checkpoint(
            trainer.model, tokenizer, card, out_dir, FingerprintSet.from_texts(train_texts),
            lexicon=_training_lexicon(train_texts, choices.init_from),
            extra_files={METRICS_FILE: metrics_path, LOSS_PLOT: run_dir / LOSS_PLOT},
        )
    trainer.accelerator.wait_for_everyone()  # other processes return once the checkpoint exists
    if trainer.is_world_process_zero():
        logger.info("%s", summary(card, out_dir))
    return out_dir


def summary(card: dict, out_dir: Path) -> str:
    """A few lines for people: what was trained, how well, where it went."""
    training, data = card["training"], card["data"]
    best = f", kept the weights of step {training['best_step']}" if training.get("best_step") else ""
    return "\n".join([
        f"trained the {card['preset']} model ({card['parameters']:,} parameters) for {training['train_seconds']:.0f} s: "
        f"{training['steps']:,} steps, {training['epochs']:.2f} passes over {data['train_messages']:,} messages{best}",
        f"validation: {card['metrics']['valid_bits_per_char_packed']:.3f} bits/char "
        "(`python -m trainer evaluate` compares it with the baselines)",
        f"saved to {out_dir} (loss curve: {Path(out_dir) / LOSS_PLOT})",
    ])


def _quiet_tied_model(model) -> None:
    """Say what transformers can't infer about a GPT-2 with tied embeddings, so it neither warns
    nor guesses: its loss is the causal-LM loss (the class name doesn't say so), and the output
    layer is the input embeddings (a saved checkpoint leaves `lm_head.weight` out; loading the
    best one re-ties it instead of reporting it missing). Its advice to pass an attention mask
    doesn't apply: packed blocks have no padding (the boundary token only doubles as the pad
    id); it is silenced with the other library notices unless -v."""
    model.loss_type = "ForCausalLM"
    if model.config.tie_word_embeddings:
        model._keys_to_ignore_on_save = ["lm_head.weight"]


# ---------------------------------------------------------------- helpers


def _training_lexicon(train_texts, init_from: Path | None):
    """The words this model has seen: its training messages', and a continued checkpoint's."""
    from trainer.corpus.lexicon import Lexicon
    from trainer.model.checkpoint import load_lexicon

    lexicon = Lexicon.from_texts(train_texts)
    earlier = load_lexicon(init_from) if init_from is not None else None
    return Lexicon(lexicon.words + earlier.words) if earlier is not None else lexicon


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


# ---------------------------------------------------------------- command line


def finite_float(text: str) -> float:
    """An argparse type: a float that is a finite number (nan, inf are refused, not compared)."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a tokenizer and GPT-2 on a prepared corpus",
        description="Train a chat model on a folder written by `prepare`; writes a checkpoint folder "
        "that transformers loads (AutoModelForCausalLM / AutoTokenizer).",
    )
    parser.add_argument("--data", required=True, type=Path, help="prepared corpus folder (prepare's --out)")
    parser.add_argument("--out", required=True, type=Path, help="checkpoint folder to write (MODEL_DIR)")
    parser.add_argument("--preset", default="auto", choices=PRESET_CHOICES,
                        help="model size (default auto: from the corpus size and the device)")
    parser.add_argument("--max-time", type=finite_float, metavar="SECONDS",
                        help="wall-clock training budget; the learning-rate schedule fits into it")
    parser.add_argument("--max-steps", type=int, metavar="N", help="stop after N optimizer steps")
    parser.add_argument("--base-model", metavar="NAME_OR_DIR",
                        help="fine-tune this GPT-2 (hub name, or a local folder offline) instead of training from scratch")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    parser.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"],
                        help="default auto: times a few real training steps in each and uses bf16 autocast only where it is 10 %% faster")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args) -> int:
    out = train(
        args.data, args.out, preset=args.preset, max_time=args.max_time, max_steps=args.max_steps,
        base_model=args.base_model, resume=args.resume, precision=args.precision, progress=not args.no_progress,
    )
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under torchrun, one summary line (from the main process) is enough
    print(f"model: {out}")
    return 0
