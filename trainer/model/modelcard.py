"""What makes a checkpoint a good citizen of the Hugging Face ecosystem: the model card
(README.md with YAML front matter), sampling defaults in generation_config.json, and a card
(streamchat.json) that names no place on the trainer's disk.

`pipeline("text-generation", model=MODEL_DIR)` then samples as the bot does, and a folder
pushed to the Hub (`python -m trainer publish`) describes itself. `evaluate` records its
figures beside the model (EVALUATION_FILE) and the model card shows them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from trainer.fsutil import write_text_atomic
from trainer.model.chatformat import BOUNDARY

MODEL_CARD = "README.md"
EVALUATION_FILE = "evaluation.json"
# The bot's sampling defaults (trainer/engine/generate.py SamplingSettings; a test keeps the two
# equal): temperature 1 and top-p 0.95 read most like real chat.
SAMPLING_DEFAULTS = {
    "do_sample": True,
    "temperature": 1.0,
    "top_p": 0.95,
    "top_k": 0,
    "repetition_penalty": 1.1,
    "max_new_tokens": 32,
}


def generation_config(model):
    """The model's generation config with the bot's sampling defaults and the boundary token."""
    from transformers import GenerationConfig

    boundary = model.config.eos_token_id
    return GenerationConfig(**SAMPLING_DEFAULTS, bos_token_id=boundary, eos_token_id=boundary, pad_token_id=boundary)


def shareable_path(path: str | Path | None) -> str | None:
    """A path as a card may keep it: relative paths as they are; an absolute one relative to the
    working folder when inside it, otherwise its file name after a short hash of its folder
    (the same folder gives the same hash, and nothing of the trainer's disk is readable)."""
    if path is None:
        return None
    path = Path(path)
    if not path.is_absolute():
        return str(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        folder = hashlib.sha256(str(path.parent).encode("utf-8")).hexdigest()[:10]
        return f"{folder}/{path.name}"


def shareable_sources(sources) -> object:
    """`prepare`'s per-file statistics with each file's path made shareable."""
    if not isinstance(sources, list):
        return sources
    return [{**entry, "path": shareable_path(entry.get("path"))} if isinstance(entry, dict) else entry
            for entry in sources]


def read_evaluation(model_dir: Path) -> dict | None:
    try:
        return json.loads((Path(model_dir) / EVALUATION_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def evaluation_summary(result: dict) -> dict:
    """The headline figures of an `evaluate` result, as the model card shows them."""
    bpc = result.get("bits_per_char") or {}
    generation = result.get("generation") or {}
    model, markov = generation.get("model") or {}, generation.get("markov") or {}
    return {
        "validation_messages": (result.get("validation") or {}).get("messages"),
        "bits_per_char": bpc.get("model"),
        "bits_per_char_5gram": bpc.get("char_5gram"),
        "realism_auc": model.get("realism_auc"),
        "realism_auc_markov": markov.get("realism_auc"),
        "invented_rate": model.get("invented_rate"),
        "copy_rate_3plus": model.get("copy_rate_3plus"),
        "samples": generation.get("samples"),
        "draws": generation.get("draws"),
        "verdict": result.get("verdict"),
    }


def render(card: dict, evaluation: dict | None = None) -> str:
    """README.md for a checkpoint: YAML front matter, then what it is, its data, figures, use."""
    data, training, metrics = card.get("data") or {}, card.get("training") or {}, card.get("metrics") or {}
    channels = data.get("channels") or []
    voice = f"{' and '.join(channels)}'s chat" if channels else "one channel's chat"
    tags = ["gpt2", "twitch", "chat", "streamchat", "text-generation"]
    front = ["---", "library_name: transformers", "pipeline_tag: text-generation", "language:", "- en",
             "tags:", *[f"- {tag}" for tag in tags], "---", ""]
    what = (f"A small GPT-2 ({card.get('parameters') or 0:,} parameters, `{card.get('preset')}` preset, "
            f"{card.get('block_size')} tokens of context) that writes Twitch chat messages in the voice of "
            f"{voice}, trained by streamchat on that chat's logs"
            + (f" (fine-tuned from `{training['base_model']}`)." if training.get("base_model") else "."))
    lines = [*front, "# streamchat chat model", "", what, "",
             "## Training data", "",
             f"{data.get('train_messages') or 0:,} chat messages for training and {data.get('valid_messages') or 0:,} "
             "held out for validation, split by stream (whole streams held out, never random lines). Usernames, "
             "timestamps, links, bot accounts, commands and notices were removed before training; @mentions "
             "became `@user`. The model never saw who wrote what.", "",
             "## Training", "",
             f"{training.get('steps') or 0:,} steps ({training.get('epochs') or 0:.2f} passes over the data) in "
             f"{training.get('train_seconds') or 0:.0f} s on {training.get('device') or 'a CPU'}; "
             f"{training.get('optimizer') or ''}.", "",
             "## Figures", ""]
    packed = metrics.get("valid_bits_per_char_packed")
    if evaluation and evaluation.get("bits_per_char") is not None:
        lines.append("From `python -m trainer evaluate` on the held-out streams (bits per character: lower is "
                     "better; realism AUC: 0.5 means generated messages can't be told from real ones):")
        lines.append("")
        lines.append("| figure | this model | baseline |")
        lines.append("|---|---|---|")
        lines.append(f"| bits per character | {evaluation['bits_per_char']:.3f} | "
                     f"{_figure(evaluation.get('bits_per_char_5gram'))} (character 5-gram) |")
        if evaluation.get("realism_auc") is not None:
            lines.append(f"| realism AUC | {evaluation['realism_auc']:.3f} | "
                         f"{_figure(evaluation.get('realism_auc_markov'))} (word Markov chain) |")
        if evaluation.get("invented_rate") is not None:
            lines.append(f"| messages with an invented word | {evaluation['invented_rate']:.1%} | |")
        if evaluation.get("verdict"):
            lines += ["", evaluation["verdict"]]
    elif packed is not None:
        lines.append(f"Validation during training: about {packed:.3f} bits per character. "
                     "`python -m trainer evaluate` adds the baselines' figures here.")
    lines += ["", "## Use", "",
              f"Messages are separated by the boundary token `{BOUNDARY}`: a prompt is the recent chat, each "
              "message followed by it, and the model writes the next message up to the next boundary. "
              "`generation_config.json` holds the sampling the bot uses (temperature 1, top-p 0.95).", "",
              "```python",
              "from transformers import pipeline",
              "",
              "chat = pipeline(\"text-generation\", model=\"MODEL\")",
              "recent = [\"hello chat\", \"what game is this\", \"LUL\"]",
              f"prompt = \"{BOUNDARY}\" + \"\".join(m + \"{BOUNDARY}\" for m in recent)",
              "# the prompt and the new tokens must fit the model's positions: keep the most recent chat",
              "ids = chat.tokenizer(prompt)[\"input_ids\"][-(chat.model.config.n_positions - 32):]",
              "prompt = chat.tokenizer.decode(ids)",
              "out = chat(prompt, return_full_text=False)[0][\"generated_text\"]",
              f"print(out.split(\"{BOUNDARY}\")[0])",
              "```", "",
              "The model repeats what chat says, including what it should not; the streamchat bot filters "
              "every message (links, commands, banned words, copies of training messages) before posting.", ""]
    return "\n".join(lines)


def _figure(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def write_model_card(model_dir: Path, card: dict, evaluation: dict | None = None) -> None:
    text = render(card, evaluation if evaluation is not None else read_evaluation(model_dir))
    write_text_atomic(Path(model_dir) / MODEL_CARD, text)
