"""The streamchat checkpoint (MODEL_DIR): a Hugging Face model folder plus a card.

    MODEL_DIR/
      config.json, generation_config.json, model.safetensors    AutoModelForCausalLM
      tokenizer.json, tokenizer_config.json, ...                 AutoTokenizer
      streamchat.json                                            the card (below)
      README.md                                                  the model card (trainer/model/modelcard.py)
      training_messages.u64                                      trainer/corpus/fingerprints.py
      lexicon.txt                                                trainer/corpus/lexicon.py
      metrics.jsonl, loss.png                                    the training run, when trained here

The card: {"format": "streamchat-checkpoint", "format_version": 1, "boundary": "<|endoftext|>",
"block_size", "emotes", "preset", "parameters", "data", "split", "training", "metrics",
"versions"}.

Writes are atomic: everything goes to a temporary folder beside MODEL_DIR, which then takes
MODEL_DIR's place, so a save interrupted at any point leaves the previous checkpoint whole.

Wherever a model is named (`generate`, `evaluate`, the bot's STREAMCHAT_MODEL), the path is a
checkpoint or a model home (trainer/loop/home.py): a folder whose `current` points at one of
its `versions/<name>`, as a symlink or, where symlinks are refused, a small text file holding
`versions/<name>`. `resolve_model` turns either into the checkpoint folder.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from trainer.model.chatformat import BOUNDARY
from trainer.errors import StreamchatError
from trainer.fsutil import fsync_dir, fsync_tree
from trainer.corpus.fingerprints import FINGERPRINT_FILE, FingerprintSet
from trainer.corpus.lexicon import LEXICON_FILE, Lexicon
from trainer.model.modelcard import generation_config, shareable_path, shareable_sources, write_model_card

logger = logging.getLogger(__name__)

CARD_FILE = "streamchat.json"
CARD_FORMAT = "streamchat-checkpoint"
CARD_VERSION = 1
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
TOKENIZER_FILE = "tokenizer.json"
VERSIONS_DIR = "versions"  # a model home's checkpoints
CURRENT = "current"  # a model home's pointer to the version in use


def package_versions() -> dict:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for name in ("streamchat", "torch", "transformers", "tokenizers", "accelerate", "safetensors"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            pass
    return versions


def new_card(**fields) -> dict:
    """A card with the fixed header fields filled in; `fields` add or override the rest."""
    card = {
        "format": CARD_FORMAT,
        "format_version": CARD_VERSION,
        "boundary": BOUNDARY,
        "block_size": None,
        "emotes": [],
        "preset": None,
        "parameters": None,
        "data": {},
        "split": {},
        "training": {},
        "metrics": {},
        "versions": package_versions(),
    }
    card.update(fields)
    return card


def _replace_dir(new: Path, target: Path) -> None:
    """Put folder `new` at `target`, replacing what is there with as short a gap as possible.

    `new` is flushed to disk first, so the folder that takes `target`'s place is whole after a
    power loss too. The old folder is first renamed aside (`.<name>.old-*`), then `new` renamed
    in, then the old one deleted; if the process dies between the two renames, the next
    `load_card` or `resolve_model` puts the new one in place (`recover_interrupted_save`).
    """
    fsync_tree(new)
    if not target.exists():
        os.replace(new, target)
        fsync_dir(target.parent)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    aside.rmdir()
    os.replace(target, aside)
    os.replace(new, target)
    fsync_dir(target.parent)
    shutil.rmtree(aside, ignore_errors=True)


def save_checkpoint(
    model,
    tokenizer,
    card: dict,
    out_dir: str | Path,
    fingerprints: FingerprintSet | None = None,
    *,
    lexicon: Lexicon | None = None,
    extra_files: dict[str, str | Path] | None = None,
    keep: tuple[str, ...] = (),
) -> Path:
    """Write model, tokenizer, card and fingerprints to `out_dir` atomically; return it.

    `extra_files` ({name: source path}) are copied in (metrics.jsonl, loss.png). `keep`
    names entries of an existing `out_dir` to carry over into the new one (moved, so big
    run folders cost nothing).
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        # what transformers' own tools read: the bot's sampling (pipeline() samples as the bot
        # does) and the longest input the model's positions allow
        model.generation_config = generation_config(model)
        tokenizer.model_max_length = model.config.n_positions
        tokenizer.truncation_side = "left"  # a prompt too long for the model keeps its most recent chat
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        full_card = shareable_card({**new_card(), **card, "boundary": BOUNDARY})
        (tmp / CARD_FILE).write_text(json.dumps(full_card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if fingerprints is not None:
            fingerprints.save(tmp / FINGERPRINT_FILE)
        if lexicon is not None:
            lexicon.save(tmp / LEXICON_FILE)
        for name, source in (extra_files or {}).items():
            if Path(source).exists():
                shutil.copyfile(source, tmp / name)
        for name in keep:
            if (out_dir / name).exists():
                os.replace(out_dir / name, tmp / name)
        write_model_card(tmp, full_card)
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("checkpoint saved to %s", out_dir)
    return out_dir


def shareable_card(card: dict) -> dict:
    """The card with every path made shareable (trainer/model/modelcard.py): a published
    checkpoint must not show the trainer's file system."""
    data, training = dict(card.get("data") or {}), dict(card.get("training") or {})
    if "dir" in data:
        data["dir"] = shareable_path(data["dir"])
    if "sources" in data:
        data["sources"] = shareable_sources(data["sources"])
    for key in ("init_from", "base_model"):
        value = training.get(key)
        if value and (Path(value).is_absolute() or Path(value).exists()):  # a folder, not a hub name
            training[key] = shareable_path(value)
    return {**card, "data": data, "training": training}


def recover_interrupted_save(model_dir: str | Path) -> bool:
    """Put back a checkpoint whose save was killed between `_replace_dir`'s two renames.

    Then `model_dir` is missing, the old checkpoint is aside (`.NAME.old-*`) and the new one,
    complete, is still `.NAME.tmp-*`. The newest one that is a complete checkpoint takes
    `model_dir`'s place; True when one did. A folder that exists is never touched.
    """
    model_dir = Path(model_dir)
    if os.path.lexists(model_dir) or not model_dir.parent.is_dir():
        return False
    # the new one first (complete before the first rename), then the old one
    candidates = sorted(model_dir.parent.glob(f".{model_dir.name}.tmp-*"), key=lambda p: p.stat().st_mtime,
                        reverse=True) + sorted(model_dir.parent.glob(f".{model_dir.name}.old-*"),
                                               key=lambda p: p.stat().st_mtime, reverse=True)
    for candidate in candidates:
        try:
            load_card(candidate)
        except StreamchatError:
            continue
        try:
            os.rename(candidate, model_dir)
        except OSError:  # another process recovered it first
            return model_dir.exists()
        fsync_dir(model_dir.parent)
        logger.warning("recovered %s from an interrupted save (%s)", model_dir, candidate.name)
        return True
    return False


def verify_checkpoint(model_dir: str | Path) -> dict:
    """`load_card`, and every weight read: a checkpoint that would fail to load is a StreamchatError.

    For the moments a version becomes current by hand (rollback, adopt), where a model that can't
    load must never be pointed at.
    """
    card = load_card(model_dir)
    model_dir = Path(model_dir)
    from safetensors import safe_open

    try:
        names = [model_dir / "model.safetensors"]
        index = model_dir / "model.safetensors.index.json"
        if index.exists():
            names = sorted({model_dir / shard for shard in json.loads(index.read_text())["weight_map"].values()})
        for name in names:
            with safe_open(name, framework="pt") as weights:
                for key in weights.keys():
                    weights.get_tensor(key)
        json.loads((model_dir / TOKENIZER_FILE).read_text(encoding="utf-8"))
        json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except Exception as error:  # any failure to read is damage
        raise StreamchatError(f"the checkpoint {model_dir} can't be loaded ({type(error).__name__}: "
                              f"{str(error)[:160]}); it is damaged — retrain or restore it") from None
    return card


def load_card(model_dir: str | Path) -> dict:
    """The card of a checkpoint, after checking that the folder is a complete checkpoint.

    A checkpoint whose save was interrupted between its two renames is put back first.
    """
    model_dir = Path(model_dir)
    if not model_dir.exists() and not recover_interrupted_save(model_dir):
        aside = sorted(model_dir.parent.glob(f".{model_dir.name}.old-*")) if model_dir.parent.exists() else []
        hint = f" (a save was interrupted; the previous checkpoint is at {aside[-1]})" if aside else ""
        raise StreamchatError(
            f"no model at {model_dir}{hint}; train one with `python -m trainer train --data DIR --out {model_dir}`"
        )
    if not model_dir.is_dir():
        raise StreamchatError(f"{model_dir} is a file, not a model folder")
    card_path = model_dir / CARD_FILE
    if not card_path.exists():
        raise StreamchatError(
            f"{model_dir} is not a streamchat checkpoint (no {CARD_FILE}); point at a folder written by "
            "`python -m trainer train`"
        )
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise StreamchatError(f"{card_path} is unreadable ({error}); retrain or restore the checkpoint") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise StreamchatError(f"{card_path} is not a streamchat checkpoint card (format is not {CARD_FORMAT!r})")
    version = card.get("format_version", 0)
    if type(version) is not int:
        raise StreamchatError(f"{card_path} has format_version {version!r}, not a whole number; "
                              "the card is damaged — retrain or restore the checkpoint")
    if version > CARD_VERSION:
        raise StreamchatError(
            f"{model_dir} was written by a newer streamchat (card version {card.get('format_version')}); upgrade"
        )
    missing = []
    if not any((model_dir / name).exists() for name in WEIGHT_FILES):
        missing.append("weights (model.safetensors)")
    if not (model_dir / "config.json").exists():
        missing.append("config.json")
    if not (model_dir / TOKENIZER_FILE).exists():
        missing.append(f"tokenizer ({TOKENIZER_FILE})")
    if missing:
        raise StreamchatError(f"checkpoint {model_dir} is incomplete: missing {', '.join(missing)}; retrain it")
    return card


def load_checkpoint(model_dir: str | Path, *, device: str = "cpu"):
    """(model, tokenizer, card) of a checkpoint: the model in fp32 and eval mode on `device`.

    The one loader of a checkpoint (the engine, evaluation, continued training all use it).
    The folder is checked (`load_card`) before the slow torch import; anything that still
    fails to load (corrupt weights, a bad config) is a StreamchatError naming the folder.
    """
    card = load_card(model_dir)

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    except Exception as error:
        raise StreamchatError(f"cannot load the model in {model_dir}: {error}; retrain or restore it") from error
    if tokenizer.eos_token != BOUNDARY:
        raise StreamchatError(
            f"the tokenizer in {model_dir} ends messages with {tokenizer.eos_token!r}, not {BOUNDARY!r}; "
            "this is not a streamchat checkpoint"
        )
    return model.to(device).eval(), tokenizer, card


def load_fingerprints(model_dir: str | Path) -> FingerprintSet:
    path = Path(model_dir) / FINGERPRINT_FILE
    if not path.exists():
        raise StreamchatError(f"{model_dir} has no {FINGERPRINT_FILE}; retrain the checkpoint")
    return FingerprintSet.load(path)


# ---------------------------------------------------------------- a checkpoint, or a home's current one

def is_checkpoint(path: str | Path) -> bool:
    return (Path(path) / CARD_FILE).is_file()


def is_home(path: str | Path) -> bool:
    path = Path(path)
    return (path / VERSIONS_DIR).is_dir() or os.path.lexists(path / CURRENT)


def current_version(home: str | Path) -> str | None:
    """The name of a model home's current version, or None when nothing is current yet.

    Cheap (one readlink), so a running model can poll it every few seconds.
    """
    pointer = Path(home) / CURRENT
    try:
        target = os.readlink(pointer)
    except FileNotFoundError:
        return None
    except OSError:  # not a symlink: the pointer-file form
        try:
            target = pointer.read_text(encoding="utf-8").strip()
        except OSError:
            return None
    name = Path(target).name
    return name or None


def resolve_model(path: str | Path) -> Path:
    """The checkpoint folder for a plain checkpoint or for a model home's current version.

    For a home this is `versions/<current>` itself (not the `current` link), so a caller
    that loads it keeps a stable path even if `current` moves on meanwhile.
    """
    path = Path(path)
    recover_interrupted_save(path)
    if is_checkpoint(path):  # a plain checkpoint, or a home's `current` link itself
        return path.resolve() if path.is_symlink() else path
    if is_home(path):
        version = current_version(path)
        if version is None:
            raise StreamchatError(
                f"the model home {path} has no current version yet: train one with "
                f"`python -m trainer retrain --home {path} --collected DIR --from-scratch`, or "
                f"adopt a checkpoint with `python -m trainer home {path} --adopt MODEL_DIR`."
            )
        checkpoint = path / VERSIONS_DIR / version
        if not is_checkpoint(checkpoint):
            raise StreamchatError(
                f"the model home {path} points at version {version}, which is missing or "
                f"incomplete; run `python -m trainer rollback --home {path}`."
            )
        return checkpoint
    if not path.exists():
        raise StreamchatError(
            f"no model at {path}: the folder does not exist; train one with `python -m trainer train "
            f"--data DIR --out {path}`, or make it a model home with `python -m trainer home {path} --adopt MODEL_DIR`."
        )
    raise StreamchatError(
        f"{path} is neither a streamchat checkpoint (no {CARD_FILE}) nor a model home "
        f"(no {CURRENT} or {VERSIONS_DIR}/); point it at a folder written by `python -m trainer train` "
        "or at models/<name>/."
    )


def load_lexicon(model_dir: str | Path) -> Lexicon | None:
    """The words of the training messages, or None for a checkpoint saved before lexicons."""
    path = Path(model_dir) / LEXICON_FILE
    if not path.exists():
        logger.info("%s has no %s: words are not kept to the training lexicon", model_dir, LEXICON_FILE)
        return None
    try:
        return Lexicon.load(path)
    except (OSError, UnicodeDecodeError) as error:
        raise StreamchatError(f"cannot read {path}: {error}; retrain the checkpoint or delete the file") from error
