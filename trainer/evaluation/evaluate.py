"""`python -m trainer evaluate MODEL_DIR --data DIR`: a trained model against the baselines.

Held-out bits per character (the validation split of DIR): for each validation message,
−log2 p(message and its closing boundary | the preceding validation messages of its stream),
summed over messages and divided by the sum of (length + 1). It doesn't depend on the
tokenizer, so models with different vocabularies and the character 5-gram compare directly.
The model reads the chat format (`EOS m1 EOS m2 ... EOS`); each stream is scored in windows
of the model's `block_size` that overlap by half, so every token is scored exactly once with
at least half a window of preceding chat as context. In fp32: on a CPU without native bf16,
bf16 autocast gives the same figure and takes longer.

Generation: messages conditioned on real validation context (a random place in a validation
stream, the 8-20 messages before it), from the model through the bot's own engine (its
settings, lexicon and filters: what a channel would read) and from the word Markov chain, with
the metrics of `trainer.evaluation.genmetrics` against the real messages. `evaluate_baselines` gives the baselines'
figures alone (what a model has to beat on a corpus).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.evaluation.baselines import texts_by_stream
from trainer.evaluation.report import format_report, verdict
from trainer.errors import StreamchatError
from trainer.corpus.prepared import load_prepared
from trainer.corpus.records import ChatRecord

logger = logging.getLogger(__name__)

CONTEXT_MESSAGES = (8, 20)  # how many real messages precede each generated one
# The model's own distribution (temperature 1), with the 5 % tail of unlikely tokens cut.
# Temperature 0.9 sharpened it towards the commonest replies, single emotes, and made the
# messages easier to tell from real chat (benchmarks/results/sampling_realism.md).
# top_k=0 explicitly: left unset, `generate` silently keeps only the 50 likeliest tokens,
# which shortens messages.
SAMPLING = {"temperature": 1.0, "top_p": 0.95, "top_k": 0}
MAX_NEW_TOKENS = 40
PRINTED_SAMPLES = 12
OTHER_REAL_SEED = 1_000_003  # offset of the draws of "other real chat" (the realism floor) from the draw seeds
DEFAULT_SAMPLES = 1000  # per draw: the README's figures are draws of 1,000 messages
EVAL_PLOT = "eval.png"
LOGITS_BUDGET = 64 * 1024 * 1024  # floats of logits per forward batch (256 MB)


@dataclass
class LoadedModel:
    model: object  # a transformers causal LM, in eval mode
    tokenizer: object
    card: dict
    model_dir: Path

    @property
    def block_size(self) -> int:
        limit = getattr(self.model.config, "n_positions", None) or self.card["block_size"]
        return int(min(self.card.get("block_size") or limit, limit))


def load_model(model_dir: str | Path) -> LoadedModel:
    """Load a streamchat checkpoint for evaluation, on the GPU when there is one (StreamchatError
    when it isn't a checkpoint)."""
    import torch

    from trainer.model.checkpoint import load_checkpoint

    model_dir = Path(model_dir)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model, tokenizer, card = load_checkpoint(model_dir, device=device)
    return LoadedModel(model, tokenizer, card, model_dir)


def _as_loaded(model_dir_or_loaded) -> LoadedModel:
    if isinstance(model_dir_or_loaded, LoadedModel):
        return model_dir_or_loaded
    return load_model(model_dir_or_loaded)


# ----- bits per character -------------------------------------------------------------------
def _windows(length: int, block: int, stride: int) -> list[tuple[int, int, int]]:
    """(begin, end, first scored position) of each window over a sequence of `length` tokens.

    Position t is predicted from the tokens before it; positions 1..length-1 are scored, each
    once, in the window that gives it the most context while sliding by `stride`.
    """
    windows = []
    scored_until = 1
    begin = 0
    while scored_until < length:
        end = min(begin + block, length)
        windows.append((begin, end, scored_until))
        scored_until = end
        begin += stride
    return windows


def model_message_bits(
    model_dir_or_loaded, streams: Sequence[Sequence[str]], *, stride: int | None = None, progress: bool = False
) -> list[np.ndarray]:
    """−log2 p(message and its closing boundary | preceding messages) per message, per stream."""
    import torch
    from tqdm.auto import tqdm

    from trainer.model.chatformat import encode_messages

    loaded = _as_loaded(model_dir_or_loaded)
    model, tokenizer = loaded.model, loaded.tokenizer
    eos = tokenizer.eos_token_id
    block = loaded.block_size
    stride = stride or max(1, block // 2)
    device = next(model.parameters()).device

    # Every window of every stream, with where its scored targets go.
    stream_ids, stream_spans, jobs = [], [], []
    for s, texts in enumerate(streams):
        pieces = encode_messages(tokenizer, texts)
        ids = [eos]
        for piece in pieces:
            ids.extend(piece)
            ids.append(eos)
        stream_ids.append(np.array(ids, dtype=np.int64))
        stream_spans.append(np.array([len(p) + 1 for p in pieces], dtype=np.int64))
        jobs.extend((s, *window) for window in _windows(len(ids), block, stride))
    token_bits = [np.zeros(len(ids), dtype=np.float64) for ids in stream_ids]

    vocab = model.config.vocab_size
    batch_size = max(1, LOGITS_BUDGET // (block * vocab))
    bar = tqdm(total=len(jobs), desc="bits per char", unit="window", disable=not progress)
    with torch.inference_mode():
        for start in range(0, len(jobs), batch_size):
            batch = jobs[start : start + batch_size]
            width = max(end - begin for _, begin, end, _ in batch)
            inputs = torch.full((len(batch), width), eos, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, (s, begin, end, _) in enumerate(batch):
                inputs[row, : end - begin] = torch.from_numpy(stream_ids[s][begin:end])
                mask[row, : end - begin] = 1
            # Right padding: causal attention never lets a real token see the pads anyway.
            # Only positions from `low` on predict a scored token: skip the output layer before.
            low = min(first - begin - 1 for _, begin, _, first in batch)
            logits = model(
                input_ids=inputs.to(device), attention_mask=mask.to(device), logits_to_keep=width - low
            ).logits.float()
            logprobs = torch.log_softmax(logits, dim=-1)
            for row, (s, begin, end, first) in enumerate(batch):
                targets = torch.from_numpy(stream_ids[s][first:end]).to(device)
                rows = torch.arange(first - begin - 1 - low, end - begin - 1 - low, device=device)
                picked = logprobs[row, rows, targets].double().cpu().numpy()
                token_bits[s][first:end] = -picked / math.log(2)
            bar.update(len(batch))
    bar.close()
    # token 0 is the opening boundary; each message is its tokens and its closing boundary
    return [
        np.add.reduceat(bits[1:], np.concatenate([[0], np.cumsum(spans)[:-1]])) if len(spans) else np.zeros(0)
        for bits, spans in zip(token_bits, stream_spans)
    ]


def bits_per_char(model_dir_or_loaded, records: Iterable[ChatRecord | str], *, progress: bool = False) -> float:
    """Held-out bits per character of the model on `records` (grouped by stream, in order)."""
    streams = texts_by_stream(records)
    chars = sum(len(t) + 1 for texts in streams for t in texts)
    if chars == 0:
        raise StreamchatError("no messages to score: the validation set is empty")
    bits = model_message_bits(model_dir_or_loaded, streams, progress=progress)
    return float(sum(b.sum() for b in bits) / chars)


def _bpc_summary(bits: list[np.ndarray], streams: Sequence[Sequence[str]], novel: np.ndarray) -> dict:
    """Overall bits per char, and on the messages that never occur in training."""
    all_bits = np.concatenate(bits)
    chars = np.array([len(t) + 1 for texts in streams for t in texts], dtype=np.float64)
    return {
        "bits_per_char": float(all_bits.sum() / chars.sum()),
        "bits_per_char_novel": float(all_bits[novel].sum() / chars[novel].sum()) if novel.any() else None,
    }


# ----- generation -----------------------------------------------------------------------------
def sample_contexts(streams: Sequence[Sequence[str]], samples: int, seed: int = 0) -> list[tuple[list[str], str]]:
    """`samples` places in the validation streams: (the 8-20 messages before, the real message)."""
    rng = random.Random(seed)
    low, high = CONTEXT_MESSAGES
    places = [(s, i) for s, texts in enumerate(streams) for i in range(1, len(texts))]
    if not places:
        return []
    chosen = [places[rng.randrange(len(places))] for _ in range(samples)]
    result = []
    for s, i in chosen:
        size = rng.randint(low, high)
        result.append((list(streams[s][max(0, i - size) : i]), streams[s][i]))
    return result


def model_generate(
    loaded: LoadedModel,
    contexts: Sequence[Sequence[str]],
    *,
    seed: int = 0,
    batch_size: int = 50,
    max_new_tokens: int = MAX_NEW_TOKENS,
    progress: bool = False,
    sampling: dict | None = None,
) -> list[str]:
    """One raw sample of the model per context (no lexicon, no filter), with `sampling` (default
    `SAMPLING`): for benchmarks that study the model's own distribution (sampling_realism.py);
    `evaluate` measures the engine instead.

    Batched across contexts with left padding (masked): faster here than sampling each
    context on its own with the lean sampler of trainer/engine/sampling.py."""
    import torch
    from tqdm.auto import tqdm

    from trainer.model.chatformat import context_ids

    model, tokenizer = loaded.model, loaded.tokenizer
    eos = tokenizer.eos_token_id
    block = loaded.block_size
    max_new_tokens = min(max_new_tokens, block // 2)
    device = next(model.parameters()).device
    torch.manual_seed(seed)
    outputs: list[str] = []
    bar = tqdm(total=len(contexts), desc="generating", unit="message", disable=not progress)
    with torch.inference_mode():
        for start in range(0, len(contexts), batch_size):
            prompts = [context_ids(tokenizer, ctx, block - max_new_tokens) for ctx in contexts[start : start + batch_size]]
            width = max(len(p) for p in prompts)
            input_ids = torch.full((len(prompts), width), eos, dtype=torch.long)
            attention = torch.zeros((len(prompts), width), dtype=torch.long)
            for row, prompt in enumerate(prompts):  # left padding, masked out
                input_ids[row, width - len(prompt) :] = torch.tensor(prompt)
                attention[row, width - len(prompt) :] = 1
            generated = model.generate(
                input_ids=input_ids.to(device),
                attention_mask=attention.to(device),
                do_sample=True,
                max_new_tokens=max_new_tokens,
                eos_token_id=eos,
                pad_token_id=eos,
                **(SAMPLING if sampling is None else sampling),
            )
            for row in generated[:, width:].tolist():
                new = row[: row.index(eos)] if eos in row else row
                outputs.append(tokenizer.decode(new, skip_special_tokens=True).strip())
            bar.update(len(prompts))
    bar.close()
    return outputs


# ----- the whole evaluation -----------------------------------------------------------------
@dataclass
class Corpus:
    """A prepared corpus as evaluation reads it."""

    train_streams: list[list[str]]
    valid_streams: list[list[str]]
    emotes: set[str]

    @property
    def train_texts(self) -> list[str]:
        return [t for texts in self.train_streams for t in texts]

    @property
    def valid_texts(self) -> list[str]:
        return [t for texts in self.valid_streams for t in texts]


def read_corpus(data_dir: str | Path) -> Corpus:
    """The train and validation splits and emotes of a folder `prepare` wrote."""
    prepared = load_prepared(data_dir, need_valid=True)
    return Corpus(texts_by_stream(prepared.train), texts_by_stream(prepared.valid), set(prepared.emotes))


def _mean_metrics(per_draw: list[dict]) -> dict:
    """Generation metrics averaged over draws of the same size; the realism AUC of each draw kept."""
    mean = {}
    for key, first in per_draw[0].items():
        values = [d[key] for d in per_draw]
        mean[key] = float(np.mean(values)) if all(isinstance(v, (int, float)) for v in values) else first
    mean["realism_auc_draws"] = [d["realism_auc"] for d in per_draw]
    if "real_realism_auc" in per_draw[0]:
        mean["real_realism_auc_draws"] = [d["real_realism_auc"] for d in per_draw]
    return mean


def _evaluate(corpus: Corpus, *, samples: int, seed: int, loaded: LoadedModel | None = None, progress: bool = False,
              draws: int = 1) -> dict:
    """The figures for the baselines, and for the model when `loaded` is given; generation
    metrics are the mean of `draws` draws of `samples` messages (seeds seed, seed + 1, ...)."""
    from trainer.evaluation.baselines import CharNgram
    from trainer.corpus.fingerprints import FingerprintSet

    valid_streams, valid_texts = corpus.valid_streams, corpus.valid_texts
    training_set = FingerprintSet.from_texts(corpus.train_texts)
    novel = np.array([t not in training_set for t in valid_texts])
    timing = {}
    bpc = {}

    if loaded is not None:
        start = time.perf_counter()
        model_bits = model_message_bits(loaded, valid_streams, progress=progress)
        bpc["model"] = _bpc_summary(model_bits, valid_streams, novel)
        timing["model_bpc_s"] = time.perf_counter() - start
    start = time.perf_counter()
    ngram = CharNgram(5).fit(corpus.train_streams)
    bpc["char_5gram"] = _bpc_summary([ngram.stream_message_bits(t) for t in valid_streams], valid_streams, novel)
    timing["char_5gram_s"] = time.perf_counter() - start

    bits_per_char = {}
    for name, figures in bpc.items():
        bits_per_char[name] = figures["bits_per_char"]
        bits_per_char[f"{name}_novel"] = figures["bits_per_char_novel"]
    if loaded is not None:
        bits_per_char["model_vs_5gram"] = bits_per_char["model"] / bits_per_char["char_5gram"] - 1
    result = {
        "validation": {
            "streams": len(valid_streams),
            "messages": len(valid_texts),
            "chars": sum(len(t) + 1 for t in valid_texts),
            "novel_share": float(novel.mean()),
        },
        "bits_per_char": bits_per_char,
        "generation": None,
        "examples": [],
        "timing_s": timing,
    }
    if samples <= 0:
        return result

    generation, examples, seconds = generation_figures(corpus, samples=samples, seed=seed, draws=draws, loaded=loaded,
                                                       training_set=training_set, progress=progress)
    if loaded is not None:
        timing["model_generate_s"] = seconds
    result["generation"], result["examples"] = generation, examples
    return result


def generation_figures(corpus: Corpus, *, samples: int, seed: int = 0, draws: int = 1, loaded: LoadedModel | None = None,
                       training_set=None, progress: bool = False) -> tuple[dict, list[dict], float]:
    """Generation metrics of the model (when `loaded`) and the Markov chain, each the mean of
    `draws` draws of `samples` messages after real context (seeds seed, seed + 1, ...); with
    the printed examples of the first draw and the seconds the model spent generating.

    The model speaks through the bot's own engine (trainer/engine/generate.py: its sampling
    settings, lexicon and filters), so the figures are those of what a channel would read.
    The cleaner's `@user` stand-in for a mention is dropped from every text compared (real,
    Markov), as the engine drops it from what it posts: otherwise the classifier would only
    learn that real chat mentions people."""
    from tqdm.auto import tqdm

    from trainer.corpus.fingerprints import FINGERPRINT_FILE, FingerprintSet
    from trainer.corpus.lexicon import Lexicon
    from trainer.engine.generate import Generator, drop_placeholders
    from trainer.evaluation.baselines import MarkovChain
    from trainer.evaluation.genmetrics import generation_metrics, realism_auc, words_histogram
    from trainer.model.checkpoint import load_lexicon

    def plain(text: str) -> str:
        return " ".join(drop_placeholders(text).split())

    if training_set is None:
        training_set = FingerprintSet.from_texts(corpus.train_texts)
    lexicon = Lexicon.from_texts(corpus.train_texts)  # what "invented" means, the same for all three
    generation = {"samples": samples, "draws": draws, "context_messages": list(CONTEXT_MESSAGES)}
    chain = MarkovChain().fit(corpus.train_texts)
    engine = None
    if loaded is not None:
        fingerprint_file = loaded.model_dir / FINGERPRINT_FILE  # what the model was trained on
        model_training = FingerprintSet.load(fingerprint_file) if fingerprint_file.is_file() else training_set
        engine = Generator.for_model(loaded.model, loaded.tokenizer, loaded.card, model_dir=loaded.model_dir,
                                     fingerprints=model_training, lexicon=load_lexicon(loaded.model_dir), seed=seed)
        generation["sampling"] = {**vars(engine.settings), "engine": True,
                                  "lexicon": engine.words is not None}
    real_all = [plain(t) for t in corpus.valid_texts]
    seconds = 0.0
    examples: list[dict] = []
    # One draw of 1,000 messages moves the realism AUC by about +-0.03: average several to compare.
    metrics: dict[str, list[dict]] = {"model": [], "markov": []}
    for draw_seed in range(seed, seed + draws):
        places = sample_contexts(corpus.valid_streams, samples, seed=draw_seed)
        contexts = [context for context, _ in places]
        real = [plain(message) for _, message in places]
        # The floor any generator can reach: other real messages of the same streams, told
        # from these by the same classifier (0.5 plus the classifier's own noise).
        other_real = [plain(message) for _, message in
                      sample_contexts(corpus.valid_streams, samples, seed=draw_seed + OTHER_REAL_SEED)]
        floor = realism_auc(other_real, real)
        common = {"real": real, "real_all": real_all, "emotes": corpus.emotes, "lexicon": lexicon}
        outputs = {}
        shown = {}  # what each place got, for the printed examples (None: the engine stayed silent)
        if engine is not None:
            start = time.perf_counter()
            engine.reseed(draw_seed)
            # A channel of its own per place: the engine's memory of what it said must not
            # reach from one sample into the next.
            said = [engine.message(context, channel=f"evaluation-{i}")
                    for i, context in enumerate(tqdm(contexts, desc="generating", unit="message", disable=not progress))]
            seconds += time.perf_counter() - start
            shown["model"] = said
            outputs["model"] = [text for text in said if text]  # a silent engine posts nothing
            figures = generation_metrics(outputs["model"], training=model_training, **common)
            figures["silent_rate"] = 1 - len(outputs["model"]) / max(len(said), 1)
            metrics["model"].append({**figures, "real_realism_auc": floor})
        chain.rng.seed(draw_seed)
        outputs["markov"] = [plain(chain.generate(context)) for context in contexts]
        metrics["markov"].append({**generation_metrics(outputs["markov"], training=training_set, **common),
                                  "real_realism_auc": floor})
        if draw_seed == seed:
            # words per message of each generator and of the real messages (eval.png's histograms)
            generation["words_histograms"] = {
                name: words_histogram(texts).tolist() for name, texts in {**outputs, "real": real}.items()
            }
            examples = [
                {"context": contexts[i][-3:], "real": real[i],
                 **{name: out[i] for name, out in {**outputs, **shown}.items()}}
                for i in range(min(PRINTED_SAMPLES, len(places)))
            ]
    generation.update({name: _mean_metrics(per_draw) for name, per_draw in metrics.items() if per_draw})
    return generation, examples, seconds


def evaluate(model_dir: Path, data_dir: Path, *, samples: int = 200, progress: bool = True, seed: int = 0,
             draws: int = 1) -> dict:
    """Bits per char of the model and the character 5-gram on the validation split, and
    generation metrics of the model and the word Markov chain (see the module docstring)."""
    loaded = load_model(model_dir)  # first: a wrong model dir fails before any slow work
    corpus = read_corpus(data_dir)
    figures = _evaluate(corpus, samples=samples, seed=seed, loaded=loaded, progress=progress, draws=draws)
    result = {"model_dir": str(model_dir), "data_dir": str(data_dir), **figures}
    result["verdict"] = verdict(result)
    return result


def record_evaluation(model_dir: Path, result: dict) -> None:
    """Keep the headline figures beside the model and show them in its model card (README.md);
    a folder that can't be written (read-only, shared) is left as it is."""
    from trainer.model.checkpoint import load_card
    from trainer.model.modelcard import EVALUATION_FILE, evaluation_summary, write_model_card
    from trainer.fsutil import write_json_atomic

    summary = evaluation_summary(result)
    try:
        write_json_atomic(Path(model_dir) / EVALUATION_FILE, summary)
        write_model_card(Path(model_dir), load_card(model_dir), summary)
    except OSError as error:
        logger.warning("could not record the figures in %s (%s)", model_dir, error)


def evaluate_baselines(data_dir: Path, *, samples: int = 200, seed: int = 0, draws: int = 1) -> dict:
    """The same figures for the baselines alone (the 5-gram's bits per char, the Markov
    chain's generation metrics): what a trained model has to beat on this corpus."""
    figures = _evaluate(read_corpus(data_dir), samples=samples, seed=seed, draws=draws)
    return {"data_dir": str(data_dir), **figures}


# ----- command line ---------------------------------------------------------------------------
def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="measure a trained model against the baselines on the validation split",
        description=(
            "Held-out bits per character of the model and of a character 5-gram (Kneser-Ney), and "
            "generation metrics of the model and of a word Markov chain, on DIR's validation split."
        ),
    )
    parser.add_argument("model_dir", metavar="MODEL_DIR", type=Path, help="a checkpoint written by `train`")
    parser.add_argument("--data", required=True, type=Path, metavar="DIR", help="a corpus written by `prepare`")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures to this JSON file")
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, metavar="N",
                        help=f"generated messages per generator (default {DEFAULT_SAMPLES}, as in the README's "
                             "figures; 0: skip)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the places sampled and the sampling")
    parser.add_argument("--draws", type=int, default=1, metavar="K",
                        help="average the generation metrics over K draws (seeds SEED..SEED+K-1): one draw of "
                             "1,000 messages moves the realism AUC by about 0.03")
    parser.add_argument("--plot", type=Path, nargs="?", const=Path(), metavar="PNG",
                        help="draw the figures (bits/char, realism, invented words, message lengths) to PNG "
                             f"(default MODEL_DIR/{EVAL_PLOT})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.samples < 0:
        raise StreamchatError("--samples must be 0 or more")
    if args.draws < 1:
        raise StreamchatError("--draws must be 1 or more")
    result = evaluate(args.model_dir, args.data, samples=args.samples, seed=args.seed, draws=args.draws)
    print(format_report(result))
    record_evaluation(args.model_dir, result)
    if args.plot is not None:
        from trainer.evaluation.plot import plot_evaluation

        out = args.model_dir / EVAL_PLOT if args.plot == Path() else args.plot
        plot_evaluation(result, out)
        print(f"figures drawn to {out}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0
