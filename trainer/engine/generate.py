"""The generation engine: a checkpoint in, chat messages that are safe to post out.

    gen = Generator.load("models/mychannel/current")
    gen.complete("is this game", context=recent_messages)   # "is this game actually good LUL"
    gen.message(context=recent_messages)                     # a message of the model's own

How one message is made:
1. the channel's recent messages (cleaned like training data) go through the chat format
   (`EOS m1 EOS ... mk EOS`), as many of the latest as fit the model's window, and for
   `complete` the viewer's prompt follows (leading command characters stripped, the end kept
   when it is long);
2. `candidates` continuations are sampled in one batch (trainer/engine/sampling.py), each stopped at
   the message boundary and never ending right after the prompt;
3. every candidate goes through the filter chain (trainer/engine/safety.py); one survivor is drawn,
   preferring candidates that ended on their own over ones cut at `max_new_tokens`. By default
   every survivor is equally likely, so what is posted follows the model's own distribution
   (less what the filters refuse); a finite `choice_temperature` favours candidates with a
   higher model score (mean log-probability per token), 0 takes the best;
4. when none survive, sample again, up to `attempts` rounds; then `None`.

`python -m trainer generate MODEL_DIR` is the command-line face of the same engine.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import re
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from trainer.errors import StreamchatError

logger = logging.getLogger(__name__)

PROMPT_ECHO_CHARS = 300  # the most of a viewer's prompt echoed back; longer prompts keep their end
RETRY_WARMING = 0.25  # temperature added per round after one whose candidates were all refused
MAX_CONTEXT_MESSAGES = 200  # only the latest messages can fit any window; don't tokenize more


@dataclass
class SamplingSettings:
    """How candidates are sampled and chosen; change any field at run time (`gen.settings.x = ...`)."""

    # Temperature 1 and top-p 0.95 without top-k read most like real chat; the earlier 0.9 / 0.95 /
    # top-k 50 read less like it and made more single-emote replies (benchmarks/results/sampling_realism.md).
    temperature: float = 1.0  # < 1 safer and blander, > 1 wilder; 0 = always the likeliest token
    top_p: float = 0.95  # sample only from the smallest set of tokens holding this probability
    top_k: int = 0  # ... and only from the k likeliest tokens (0 = no limit)
    repetition_penalty: float = 1.1  # > 1 discourages repeating the prompt's and own tokens
    max_new_tokens: int = 32  # the longest continuation, in tokens
    candidates: int = 8  # sampled in one batch per round
    attempts: int = 3  # rounds of sampling before giving up (None)
    # How to pick among safe candidates: inf = uniformly (the model's own distribution), finite =
    # weighted by score (blander, easier to tell from real chat: benchmarks/results/sampling_realism.md),
    # 0 = the best score.
    choice_temperature: float = math.inf
    max_words: int = 60  # word limit of a posted message
    max_emote_run: int = 5  # the longest run of one repeated emote/word kept
    seed: int | None = None  # for reproducible output (read when the generator is created)

    def validate(self) -> None:
        problems = []
        if not 0 <= self.temperature <= 10:
            problems.append("temperature must be between 0 and 10")
        if not 0 < self.top_p <= 1:
            problems.append("top_p must be in (0, 1]")
        if self.top_k < 0:
            problems.append("top_k must be 0 (off) or more")
        if not 0 < self.repetition_penalty <= 10:
            problems.append("repetition_penalty must be in (0, 10]")
        if self.max_new_tokens < 1:
            problems.append("max_new_tokens must be at least 1")
        if not 1 <= self.candidates <= 256:
            problems.append("candidates must be between 1 and 256")
        if self.attempts < 1:
            problems.append("attempts must be at least 1")
        if not self.choice_temperature >= 0:  # catches NaN too
            problems.append("choice_temperature must be 0 or more (inf: pick uniformly)")
        if self.max_words < 1:
            problems.append("max_words must be at least 1")
        if self.max_emote_run < 1:
            problems.append("max_emote_run must be at least 1")
        if problems:
            raise StreamchatError("bad sampling settings: " + "; ".join(problems))


@dataclass
class Candidate:
    """One sampled message and what the filters said about it."""

    text: str
    score: float  # mean log-probability per token under the model
    finished: bool  # ended at the boundary (not cut at max_new_tokens)
    rejected: str | None  # the filter's reason, or None when it may be posted


def _settings(settings: dict) -> SamplingSettings:
    unknown = set(settings) - {f.name for f in fields(SamplingSettings)}
    if unknown:
        raise StreamchatError(f"unknown sampling settings: {', '.join(sorted(unknown))}")
    sampling = SamplingSettings(**settings)
    sampling.validate()
    return sampling


def drop_placeholders(text: str) -> str:
    """Remove the cleaner's `@user` stand-in for mentions: the bot never addresses someone at random."""
    from trainer.ingest.cleaning import MENTION

    return re.sub(re.escape(MENTION) + r"\b[,:]?", " ", text, flags=re.IGNORECASE)


def _tail(text: str, max_chars: int, max_words: int) -> str:
    """The end of `text` that fits in `max_chars` and `max_words`, cut at a word boundary."""
    words = text.split()[-max_words:]
    kept: list[str] = []
    size = 0
    for word in reversed(words):
        size += len(word) + (1 if kept else 0)
        if size > max_chars:
            break
        kept.append(word)
    if not kept and words:  # one giant "word": keep its end
        return words[-1][-max_chars:]
    return " ".join(reversed(kept))


class Generator:
    """A loaded checkpoint that makes chat messages. One caller at a time (calls are serialized)."""

    def __init__(self, model, tokenizer, card: dict, *, fingerprints=None, settings: SamplingSettings | None = None,
                 filters=None, model_dir: Path | None = None, lexicon=None):
        import torch

        from trainer.engine.safety import FilterChain
        from trainer.engine.words import WordConstraint, new_word_tokens, token_texts

        self.model = model.eval()
        self.tokenizer = tokenizer
        self.card = card
        self.model_dir = model_dir
        self.settings = settings or SamplingSettings()
        self.settings.validate()
        self.filters = filters or FilterChain(fingerprints=fingerprints, max_words=self.settings.max_words,
                                              max_emote_run=self.settings.max_emote_run)
        if tokenizer.eos_token_id is None:
            raise StreamchatError("the tokenizer has no boundary (eos) token; this is not a streamchat checkpoint")
        self.boundary_id = tokenizer.eos_token_id
        config = model.config
        texts = token_texts(tokenizer, model.get_output_embeddings().weight.shape[0])
        self.new_word_tokens = new_word_tokens(texts)
        # Without a lexicon (a checkpoint from before lexicons) words are not constrained.
        self.words = WordConstraint(lexicon, texts) if lexicon is not None and len(lexicon) else None
        self.window = min(int(card.get("block_size") or 10**9),
                          int(getattr(config, "n_positions", None) or config.max_position_embeddings))
        self._lock = threading.Lock()
        self._torch_rng = torch.Generator(device=next(model.parameters()).device)
        self._rng = random.Random(self.settings.seed)
        if self.settings.seed is None:
            self._torch_rng.seed()
        else:
            self._torch_rng.manual_seed(self.settings.seed)

    @classmethod
    def load(cls, model_dir: str | Path, *, banned_words: Sequence[str] | None = None,
             extra_banned_words: Sequence[str] = (), threads: int | None = 1, **settings) -> Generator:
        """Load a checkpoint (or a model home's current version) once.

        `banned_words=None` uses the shipped default list; `extra_banned_words` are added to it.
        `threads` sets torch's thread count (process-wide; None leaves it alone): one thread is
        fastest for the small presets, and much faster when other jobs share the cores
        (benchmarks/results/generate_speed.md). Other keywords are `SamplingSettings`.
        """
        from trainer.model.checkpoint import load_checkpoint, load_fingerprints, load_lexicon, resolve_model

        sampling = _settings(settings)
        # Everything about the folder is checked before the (slow) torch import.
        model_dir = resolve_model(model_dir)
        fingerprints = load_fingerprints(model_dir)
        model, tokenizer, card = load_checkpoint(model_dir)
        lexicon = load_lexicon(model_dir)

        import torch

        if threads:
            torch.set_num_threads(threads)
        logger.info("generator loaded from %s (%s parameters)", model_dir,
                    f"{sum(p.numel() for p in model.parameters()):,}")
        return cls.for_model(model, tokenizer, card, model_dir=model_dir, fingerprints=fingerprints, lexicon=lexicon,
                             banned_words=banned_words, extra_banned_words=extra_banned_words, **vars(sampling))

    @classmethod
    def for_model(cls, model, tokenizer, card: dict, *, model_dir: Path | None = None, fingerprints=None,
                  lexicon=None, banned_words: Sequence[str] | None = None, extra_banned_words: Sequence[str] = (),
                  **settings) -> Generator:
        """The engine over a model already loaded (evaluation's, on whatever device it sits),
        with the same filters and settings `load` gives the bot."""
        from trainer.engine.safety import FilterChain

        sampling = _settings(settings)
        filters = FilterChain(banned_words=banned_words, fingerprints=fingerprints,
                              max_words=sampling.max_words, max_emote_run=sampling.max_emote_run)
        for word in extra_banned_words:
            filters.add_banned_word(word)
        return cls(model, tokenizer, card, fingerprints=fingerprints, settings=sampling, filters=filters,
                   model_dir=model_dir, lexicon=lexicon)

    def reseed(self, seed: int) -> None:
        """Restart both random streams (evaluation draws are reproducible this way)."""
        self._rng.seed(seed)
        self._torch_rng.manual_seed(seed)

    # -- public API ------------------------------------------------------------------------------

    def complete(self, prompt: str, context: Sequence[str] = (), *, allow_mention: str | None = None,
                 channel: str | None = None) -> str | None:
        """The prompt followed by the model's continuation, as one message; None when nothing is safe.

        A prompt with nothing usable left after cleaning (empty, only a command character,
        only links or mentions) gets a message of the model's own instead.
        """
        return self._safely(lambda: self._make(self._prepare_prompt(prompt), context, allow_mention, channel))

    def message(self, context: Sequence[str] = (), *, channel: str | None = None) -> str | None:
        """A new message of the model's own that fits `context`; None when nothing is safe."""
        return self._safely(lambda: self._make("", context, None, channel))

    def candidates(self, prompt: str | None = None, context: Sequence[str] = (), *,
                   allow_mention: str | None = None, channel: str | None = None) -> list[Candidate]:
        """One round of `settings.candidates` candidates with each one's score and verdict (for
        inspection and tests; nothing is remembered as posted)."""
        with self._lock:
            echo = self._prepare_prompt(prompt) if prompt is not None else ""
            return self._sample_round(echo, self._context_texts(context), allow_mention, channel)

    # -- the steps -------------------------------------------------------------------------------

    def _safely(self, make) -> str | None:
        # The bot calls this on live chat input: a surprise must cost one message, not the bot.
        with self._lock:
            try:
                return make()
            except Exception:
                logger.exception("generation failed; returning no message")
                self.filters.counts["error"] += 1
                return None

    def _prepare_prompt(self, prompt) -> str:
        """The part of a viewer's prompt that is echoed: visible text, no leading command
        characters, cleaned like training data (links removed, mentions neutralised), its end
        when long."""
        from trainer.ingest.cleaning import clean_message
        from trainer.text import strip_command_prefix

        if not isinstance(prompt, str):
            return ""
        text = strip_command_prefix(prompt)
        text = _tail(text, PROMPT_ECHO_CHARS, max(1, self.settings.max_words - 10))
        text = clean_message(text) or ""
        return strip_command_prefix(drop_placeholders(text))

    def _context_texts(self, context: Sequence[str]) -> list[str]:
        from trainer.ingest.cleaning import clean_message

        if isinstance(context, str):
            context = [context]
        texts = []
        for text in list(context)[-MAX_CONTEXT_MESSAGES:]:
            cleaned = clean_message(text) if isinstance(text, str) else None
            if cleaned:
                texts.append(cleaned)
        return texts

    def _make(self, echo: str, context: Sequence[str], allow_mention: str | None, channel: str | None) -> str | None:
        if echo and self.filters.content_reason(echo, allow_mention=allow_mention) is not None:
            # No continuation can repair a link, mention or banned word in the prompt, and a
            # continuation glued to its last word ("...wordX") could hide a banned word from
            # the whole-word match: refuse before sampling.
            return None
        texts = self._context_texts(context)
        for attempt in range(self.settings.attempts):
            survivors = [c for c in self._sample_round(echo, texts, allow_mention, channel, attempt)
                         if c.rejected is None]
            if survivors:
                chosen = self._choose(survivors)
                self.filters.remember(chosen.text, channel)
                return chosen.text
        logger.debug("no safe candidate after %d rounds", self.settings.attempts)
        return None

    def _prefix(self, echo: str, texts: list[str]) -> tuple[list[int], list[int], int]:
        """(prefix ids, prompt ids, max new tokens): context and prompt fitted to the window."""
        from trainer.model.chatformat import context_ids

        max_new = max(1, min(self.settings.max_new_tokens, self.window - 2))
        room = self.window - max_new  # for boundary + context + prompt
        prompt_ids = self.tokenizer(echo, add_special_tokens=False)["input_ids"] if echo else []
        prompt_ids = prompt_ids[-(room - 1):] if len(prompt_ids) > room - 1 else prompt_ids
        prefix = context_ids(self.tokenizer, texts, room - len(prompt_ids)) + prompt_ids
        return prefix, prompt_ids, max_new

    def _round_temperature(self, attempt: int) -> float:
        """The setting on the first round; later rounds warm up towards 1 (never past the setting
        or 1). A low temperature collapses onto the likeliest continuations, which are often
        verbatim training messages the copy rule refuses: at 0.5 the demo model stayed silent on
        a third of `!chat hello`."""
        chosen = self.settings.temperature
        return max(chosen, min(1.0, chosen + RETRY_WARMING * attempt))

    def _sample_round(self, echo: str, texts: list[str], allow_mention: str | None,
                      channel: str | None, attempt: int = 0) -> list[Candidate]:
        from trainer.text import sanitize
        from trainer.engine.sampling import sample

        settings = self.settings
        settings.validate()
        self.filters.max_words = settings.max_words
        self.filters.max_emote_run = settings.max_emote_run
        prefix, prompt_ids, max_new = self._prefix(echo, texts)
        samples = sample(
            self.model, prefix, boundary_id=self.boundary_id, num=settings.candidates, max_new_tokens=max_new,
            temperature=self._round_temperature(attempt), top_p=settings.top_p, top_k=settings.top_k,
            repetition_penalty=settings.repetition_penalty, penalty_ids=prompt_ids, generator=self._torch_rng,
            words=self.words, first_allowed=self.new_word_tokens if echo else None,
        )
        base = self.filters.clean(echo)
        candidates = []
        for row, tokens in enumerate(samples.tokens):
            added = self.tokenizer.decode(tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False)
            text = self.filters.clean(echo + drop_placeholders(added))
            if not sanitize(added) or text == base:
                rejected = "nothing_added"
                self.filters.counts[rejected] += 1
            else:
                rejected = self.filters.check(text, allow_mention=allow_mention, channel=channel)
            candidates.append(Candidate(text, samples.mean_logprob(row), samples.finished[row], rejected))
        return candidates

    def _choose(self, survivors: list[Candidate]) -> Candidate:
        """A random survivor (weighted by model score when `choice_temperature` is finite); ones
        that ended on their own first."""
        finished = [c for c in survivors if c.finished]
        pool = finished or survivors
        if math.isinf(self.settings.choice_temperature):
            return self._rng.choice(pool)
        if self.settings.choice_temperature <= 0:
            return max(pool, key=lambda c: c.score)
        best = max(c.score for c in pool)
        weights = [math.exp((c.score - best) / self.settings.choice_temperature) for c in pool]
        return self._rng.choices(pool, weights=weights, k=1)[0]


# -- command line ---------------------------------------------------------------------------------

_SETTING_FLAGS = (
    ("temperature", float), ("top_p", float), ("top_k", int), ("repetition_penalty", float),
    ("max_new_tokens", int), ("candidates", int), ("attempts", int), ("choice_temperature", float),
    ("max_words", int), ("seed", int),
)


def register(subparsers) -> None:
    defaults = SamplingSettings()
    parser = subparsers.add_parser(
        "generate",
        help="generate chat messages from a trained model",
        description="Print N messages from a checkpoint: completions of --prompt, or messages of the model's "
                    "own; --context gives the recent chat (one message a line, oldest first). Every message "
                    "passes the safety filters; a line says so when none did.",
    )
    parser.add_argument("model_dir", type=Path, metavar="MODEL_DIR", help="checkpoint folder or model home")
    parser.add_argument("--prompt", help="complete this text (as `!chat <prompt>` does)")
    parser.add_argument("--context", type=Path, metavar="FILE", help="recent chat, one message a line, oldest first")
    parser.add_argument("-n", type=int, default=5, metavar="N", help="how many results (default 5)")
    parser.add_argument("--json", action="store_true", help="print a JSON list (null where nothing was safe)")
    parser.add_argument("--banned-words", type=Path, metavar="FILE",
                        help="extra banned words or phrases, one a line (added to the default list)")
    parser.add_argument("--threads", type=int, default=1, metavar="N", help="torch threads (default 1)")
    for name, kind in _SETTING_FLAGS:
        parser.add_argument("--" + name.replace("_", "-"), type=kind, default=getattr(defaults, name),
                            help=f"default {getattr(defaults, name)}")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trainer.text import read_word_list

    if args.n < 1:
        raise StreamchatError("-n must be at least 1")
    context: list[str] = []
    if args.context is not None:
        try:
            context = args.context.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as error:
            raise StreamchatError(f"cannot read the context file {args.context}: {error.strerror}") from error
    extra = read_word_list(args.banned_words) if args.banned_words else ()
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights" bars would mix with the results
    settings = {name: getattr(args, name) for name, _ in _SETTING_FLAGS}
    gen = Generator.load(args.model_dir, extra_banned_words=extra, threads=args.threads, **settings)
    results = []
    for _ in range(args.n):
        text = gen.complete(args.prompt, context) if args.prompt is not None else gen.message(context)
        results.append(text)
        if not args.json:
            print(text if text is not None else "(no safe message: every candidate was filtered)", flush=True)
    if args.json:
        json.dump(results, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    rejected = {k: v for k, v in gen.filters.counts.items() if v}
    if rejected:
        logger.info("candidates rejected by reason: %s", json.dumps(dict(sorted(rejected.items()))))
    return 0



