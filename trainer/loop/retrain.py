"""`python -m trainer retrain` / `rollback` / `home`: close the loop from collected chat to the live model.

A retrain, step by step (each step is visible in the home's status.json and the log):
1. take the home's retrain lock (a second retrain is refused; a killed one's lock is stale);
2. build the corpus: the channel's collected messages that its privacy policy allows
   (deletions, ban-clears, opt-outs, forgotten users, opt-in-only), the most recent of them
   held out as a fresh validation set, plus any imported corpora (`--also`), all through
   `prepare`'s cleaning rules and the channel's blocked words;
3. train a candidate under `work/`: by default continuing from the current version with its
   tokenizer (emotes that became frequent are added as tokens, each new embedding the mean
   of the embeddings of the pieces it used to be split into), or from scratch;
4. evaluate candidate and current on the same fresh validation set: bits per character and
   the generation checks of `evaluate`;
5. promote only a candidate that is not worse (by `--margin`): its folder is renamed into
   `versions/`, then `current` is switched in one atomic rename. Killed at any point before
   that, `current` is untouched; the leftovers in `work/` are removed by the next retrain.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from trainer.errors import StreamchatError
from trainer.fsutil import process_start_ticks, write_json_atomic
from trainer.corpus.records import TRAIN_FILE, VALID_FILE, utc_now
from trainer.loop.home import DEFAULT_KEEP, RETRAIN_CARD, ModelHome
from trainer.model.checkpoint import resolve_model
from trainer.model.presets import PRESET_CHOICES
from trainer.model.train import finite_float

logger = logging.getLogger(__name__)

MAX_TIME_CAP = 900.0  # seconds of training at most by default; a retrain started from chat should end the same stream
MIN_MAX_TIME = 60.0
RETRAIN_EPOCHS = 3.0  # the default budget: about this many passes over the retrain corpus
FALLBACK_TOKENS_PER_SECOND = 10_000.0  # when the current version's card doesn't say (README, "Measured")
FALLBACK_TOKENS_PER_CHAR = 0.45
DEFAULT_SAMPLES = 100  # generated messages per model for the generation checks
VALID_FRACTION = 0.1
MIN_VALID = 200
MAX_VALID = 20_000
MIN_COLLECTED = 50

# Generation checks: a candidate fails one only when it is worse beyond sampling noise (two
# standard errors of the difference of two rates, at least RATE_TOLERANCE).
RATE_TOLERANCE = 0.05
COPY_LIMIT = 0.10  # a copy rate under this never blocks a promotion


# ---------------------------------------------------------------- the corpus

def check_collected(collected: Path) -> None:
    """A clear error unless `collected` is a folder (one channel's collected chat: daily
    `<YYYY-MM-DD>.jsonl` files and its privacy policy, trainer/corpus/privacy.py)."""
    if not collected.is_dir():
        raise StreamchatError(
            f"no collected chat at {collected}: point --collected at the folder of one channel's "
            "collected chat (its daily <YYYY-MM-DD>.jsonl files)."
        )


def split_recent(records: list, fraction: float = VALID_FRACTION) -> tuple[list, list]:
    """(train, valid): the most recent messages form the validation set."""
    n = len(records)
    n_valid = min(max(int(n * fraction), MIN_VALID), MAX_VALID, n // 2)
    return records[: n - n_valid], records[n - n_valid:]


def build_corpus(collected: Path | None, also: list[Path], work: Path, *, progress: bool = True) -> dict:
    """Write the retrain corpus to `work/data` with `prepare`; return a summary of it."""
    from trainer.ingest.prepare import prepare
    from trainer.corpus.privacy import PolicyStore, learnable_records
    from trainer.corpus.records import ChatRecord, write_records

    blocked: list[str] = []
    inputs: list[Path] = list(also)
    valid_inputs: list[Path] | None = None
    summary: dict = {"also": [str(p) for p in also]}
    if collected is not None:
        check_collected(collected)
        policy = PolicyStore(collected).load()
        blocked = list(policy.blocked_words)
        # No message ids; the user hashes stay for `prepare`'s emote detection (an emote is
        # posted by many different chatters) and never reach its output.
        records = [
            ChatRecord(text=r.text, channel=r.channel, stream=r.stream, ts=r.ts, user=r.user)
            for r in learnable_records(collected, policy)
        ]
        if len(records) < MIN_COLLECTED:
            raise StreamchatError(
                f"only {len(records)} collected message(s) may be learned from in {collected}; "
                f"let the bot collect at least {MIN_COLLECTED} before retraining."
            )
        train_records, valid_records = split_recent(records)
        # Its own stream name: `prepare` groups records by stream, and the day the held-out
        # tail comes from must not be pulled into the validation set as a whole.
        valid_records = [dataclasses.replace(r, stream=f"{r.stream}/recent") for r in valid_records]
        raw = work / "collected"
        write_records(raw / "collected-train.jsonl", train_records)
        write_records(raw / "collected-valid.jsonl", valid_records)
        inputs.insert(0, raw / "collected-train.jsonl")
        valid_inputs = [raw / "collected-valid.jsonl"]
        summary.update(
            collected=len(records),
            valid_from=valid_records[0].ts,
            valid_to=valid_records[-1].ts,
        )
    if not inputs:
        raise StreamchatError("nothing to train on: give --collected DIR and/or --also DIR.")
    try:
        stats = prepare(inputs, work / "data", valid=valid_inputs, blocked_words=blocked, progress=progress)
    finally:
        # The raw copies of collected chat (with user hashes) go as soon as the corpus is built.
        shutil.rmtree(work / "collected", ignore_errors=True)
    summary["blocked_words"] = len(blocked)
    totals = stats.get("totals", {})
    summary.update(
        train_messages=totals.get("train_messages"), valid_messages=totals.get("valid_messages"),
        dropped=totals.get("dropped"), emotes=(stats.get("emotes") or {}).get("total"),
    )
    return summary


# ---------------------------------------------------------------- emotes

def new_emotes(model_dir: Path, data_dir: Path) -> list[str]:
    """Emotes of the fresh corpus that the checkpoint's tokenizer does not have yet."""
    from trainer.model.checkpoint import load_card
    from trainer.corpus.records import EMOTES_FILE
    from trainer.corpus.prepared import read_emotes

    known = set(load_card(model_dir).get("emotes") or [])
    return [e for e in read_emotes(data_dir / EMOTES_FILE) if e not in known]


def extend_with_emotes(model_dir: Path, emotes: list[str], out_dir: Path) -> Path:
    """A copy of the checkpoint whose tokenizer also keeps `emotes` whole.

    Existing token ids keep their meaning (new tokens get new ids at the end); each new
    token's embedding starts as the mean of the embeddings of the tokens the old tokenizer
    split it into, so the model starts out reading `monkaHmm` roughly as it read
    `monka`+`H`+`mm`. GPT-2 ties the output layer to these embeddings.
    """
    import torch

    from trainer.model.checkpoint import load_checkpoint, load_fingerprints, load_lexicon, save_checkpoint
    from trainer.model.tokenizer import _byte_level, with_emotes, wrap

    model, tokenizer, card = load_checkpoint(model_dir)
    all_emotes = list(dict.fromkeys(list(card.get("emotes") or []) + list(emotes)))
    extended = wrap(with_emotes(tokenizer.backend_tokenizer, all_emotes), model_max_length=tokenizer.model_max_length)
    old_size = model.get_input_embeddings().weight.shape[0]
    model.resize_token_embeddings(len(extended), mean_resizing=False)  # rows set below
    weight = model.get_input_embeddings().weight
    added = 0
    with torch.no_grad():
        for emote in emotes:
            for form in (emote, " " + emote):
                new_id = extended.convert_tokens_to_ids(_byte_level(form))
                if new_id is None or new_id < old_size:
                    continue
                pieces = tokenizer(form, add_special_tokens=False)["input_ids"]
                if pieces:
                    weight[new_id] = weight[pieces].mean(dim=0)
                    added += 1
    card = dict(card)
    card["emotes"] = all_emotes
    logger.info("added %d emote(s) to the tokenizer (%d tokens): %s", len(emotes), added, " ".join(emotes[:20]))
    return save_checkpoint(model, extended, card, out_dir, load_fingerprints(model_dir), lexicon=load_lexicon(model_dir))


# ---------------------------------------------------------------- the decision

@dataclass
class Decision:
    promote: bool
    reason: str


def _get(metrics: dict, *path, default=None):
    value = metrics
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return default
        value = value[key]
    return value


def model_figures(report: dict) -> dict:
    """The figures a promotion looks at, from an `evaluate` report (the model's side)."""
    generation = _get(report, "generation", "model", default={}) or {}
    return {
        "bits_per_char": _get(report, "bits_per_char", "model"),
        "bits_per_char_5gram": _get(report, "bits_per_char", "char_5gram"),
        "empty_rate": generation.get("empty_rate"),
        "copy_rate": generation.get("copy_rate_3plus"),
        "realism_auc": generation.get("realism_auc"),
        "distinct_2": generation.get("distinct_2"),
        "mean_words": generation.get("mean_words"),
        "samples": _get(report, "generation", "samples", default=0),
    }


def _noise(a: float, b: float, samples: int) -> float:
    """How much two rates measured on `samples` messages each may differ by chance."""
    p = max(a, b)
    return max(RATE_TOLERANCE, 2.0 * math.sqrt(2.0 * p * (1.0 - p) / samples))


def decide(candidate: dict, current: dict | None, margin: float) -> Decision:
    """Promote a candidate that is not worse than the current model (bits per char by `margin`).

    A figure that isn't a finite number (a diverged model's NaN, an infinite margin) never
    promotes: every comparison with NaN is false, so it is refused before comparing.
    """
    cand_bpc = candidate.get("bits_per_char")
    if cand_bpc is None:
        return Decision(False, "the candidate could not be evaluated")
    if not _finite(cand_bpc):
        return Decision(False, f"the candidate's bits per char is {cand_bpc} (it diverged)")
    if not _finite(margin):
        return Decision(False, f"the margin {margin} is not a finite number")
    odd = [key for key in ("empty_rate", "copy_rate") if candidate.get(key) is not None and not _finite(candidate[key])]
    if odd:
        return Decision(False, f"the candidate's {', '.join(odd)} is not a finite number")
    if current is None:
        return Decision(True, f"first version ({cand_bpc:.3f} bits/char)")
    cur_bpc = current.get("bits_per_char")
    if cur_bpc is None or not _finite(cur_bpc):
        return Decision(True, f"{cand_bpc:.3f} bits/char on fresh chat; the current model has no finite figure ({cur_bpc})")
    limit = cur_bpc * (1.0 + margin)
    if cand_bpc > limit:
        return Decision(
            False, f"worse on fresh chat: {cand_bpc:.3f} bits/char vs current {cur_bpc:.3f} (margin {margin:.1%})"
        )
    samples = min(candidate.get("samples") or 0, current.get("samples") or 0)
    for key, what, floor in (("empty_rate", "empty messages", 0.0), ("copy_rate", "verbatim copies", COPY_LIMIT)):
        cand, cur = candidate.get(key), current.get(key)
        if cand is None or cur is None or not samples or not _finite(cur):
            continue
        if cand > max(cur + _noise(cand, cur, samples), floor):
            return Decision(False, f"more {what} when generating: {cand:.0%} vs current {cur:.0%}")
    return Decision(True, f"{cand_bpc:.3f} bits/char on fresh chat vs current {cur_bpc:.3f}")


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


# ---------------------------------------------------------------- the retrain

@dataclass
class RetrainOptions:
    collected: Path | None = None
    also: tuple[Path, ...] = ()
    from_scratch: bool = False
    preset: str = "auto"
    max_time: float | None = None  # None: sized from the data (sized_max_time); 0: the preset's epochs
    only_collected: bool = False  # leave out the corpora the home remembers
    max_steps: int | None = None
    margin: float = 0.0
    samples: int = DEFAULT_SAMPLES
    keep: int = DEFAULT_KEEP
    progress: bool = True


def _evaluate(model_dir: Path, data_dir: Path, samples: int, progress: bool) -> dict:
    from trainer.evaluation.evaluate import evaluate

    return model_figures(evaluate(model_dir, data_dir, samples=samples, progress=progress))


def retrain(home_path: str | Path, options: RetrainOptions) -> dict:
    """Run one retrain of a model home; return its final status (also written to status.json)."""
    from trainer.model.train import train

    home = ModelHome(home_path)
    home.path.mkdir(parents=True, exist_ok=True)
    lock = home.lock()
    lock.acquire()  # raises StreamchatError when another retrain runs
    run_id = utc_now().replace(":", "").replace("-", "")
    work = home.work_dir / run_id
    figures: dict = {}
    status = {
        "state": "running", "stage": "preparing", "pid": os.getpid(),
        "start_ticks": process_start_ticks(os.getpid()), "host": _hostname(),
        "started": utc_now(), "ended": None, "outcome": None, "reason": None, "figures": figures,
        "max_time": options.max_time, "from_version": home.current_version(), "version": None,
    }
    home.write_status(**status)
    try:
        # We hold the lock: anything left in work/ is a killed retrain's debris.
        shutil.rmtree(home.work_dir, ignore_errors=True)
        work.mkdir(parents=True)

        also = corpora_to_use(home, options)
        figures["corpus"] = build_corpus(options.collected, also, work, progress=options.progress)
        data_dir = work / "data"

        current_dir = home.current_dir()
        max_time = options.max_time
        if max_time is None and not options.max_steps:
            max_time = sized_max_time(data_dir, current_dir)
            figures["max_time"] = max_time
            home.write_status(max_time=max_time)
        max_time = max_time or None
        init_from = None
        if current_dir is not None and not options.from_scratch:
            init_from = current_dir
            emotes = new_emotes(current_dir, data_dir)
            if emotes:
                init_from = extend_with_emotes(current_dir, emotes, work / "base")
            figures["new_emotes"] = emotes

        home.write_status(stage="training", stage_started=utc_now())
        candidate = train(
            data_dir, work / "candidate", preset=options.preset, max_time=max_time,
            max_steps=options.max_steps, init_from=init_from, progress=options.progress,
        )

        home.write_status(stage="evaluating", stage_started=utc_now())
        figures["candidate"] = _evaluate(candidate, data_dir, options.samples, options.progress)
        current_problem = None
        if current_dir is not None:
            try:
                figures["current"] = _evaluate(current_dir, data_dir, options.samples, options.progress)
            except Exception as error:  # noqa: BLE001 - a broken current version must not block a working candidate
                current_problem = str(error) or type(error).__name__
                logger.warning("the current version could not be evaluated: %s", error)
        decision = decide(figures["candidate"], figures.get("current"), options.margin)
        if current_problem is not None and decision.promote:
            decision = Decision(True, f"the current version could not be evaluated ({current_problem[:200]})")

        if decision.promote:
            home.write_status(stage="promoting")
            _strip_run_files(candidate)
            write_json_atomic(candidate / RETRAIN_CARD, {
                "promoted": utc_now(), "from_version": status["from_version"], "reason": decision.reason,
                "evaluation": figures["candidate"], "previous_evaluation": figures.get("current"),
                "corpus": figures["corpus"],
            })
            version = home.add_version(candidate)
            home.promote(version, keep=options.keep)
            status.update(outcome="promoted", version=version)
        else:
            status.update(outcome="kept")
        status.update(state="done", reason=decision.reason)
        logger.info("retrain %s: %s", status["outcome"], decision.reason)
    except BaseException as error:
        stopped = isinstance(error, (KeyboardInterrupt, SystemExit))
        status.update(state="failed", outcome="cancelled" if stopped else "failed", reason=_describe(error))
        raise
    finally:
        status.update(ended=utc_now(), stage=None, figures=figures)
        home.write_status(**status)
        shutil.rmtree(home.work_dir, ignore_errors=True)
        lock.release()
    return status


def corpora_to_use(home: ModelHome, options: RetrainOptions) -> list[Path]:
    """`--also` and, unless `only_collected`, the corpora the home remembers: a streamer expects
    the old chat and the new together. The first corpora given to a home that remembers none
    are remembered."""
    also = [Path(p) for p in options.also]
    remembered = home.corpora()
    if not remembered and also:
        home.remember_corpora(also)
    if options.only_collected:
        return also
    for corpus in remembered:
        if not corpus.exists():
            logger.warning("the corpus %s that %s remembers is gone; retraining without it", corpus, home.path)
        elif all(corpus.resolve() != p.resolve() for p in also):
            also.append(corpus)
    # a prepared corpus is its two splits (not its stats.json); both are training data here:
    # the retrain holds out fresh collected chat for validation
    return [split for p in also for split in ([p / TRAIN_FILE, p / VALID_FILE] if (p / TRAIN_FILE).is_file() else [p])
            if split.exists()]


def sized_max_time(data_dir: Path, current_dir: Path | None) -> float:
    """The default training budget: about RETRAIN_EPOCHS passes over the corpus at the speed the
    current version trained at, between MIN_MAX_TIME and MAX_TIME_CAP seconds."""
    from trainer.corpus.prepared import load_prepared
    from trainer.fsutil import read_json
    from trainer.model.checkpoint import CARD_FILE

    chars = sum(len(r.text) + 1 for r in load_prepared(data_dir).train)
    card = read_json(current_dir / CARD_FILE, {}) if current_dir is not None else {}
    data, training = (card or {}).get("data") or {}, (card or {}).get("training") or {}
    per_char = (data["train_tokens"] / data["train_chars"]) if data.get("train_tokens") and data.get("train_chars") \
        else FALLBACK_TOKENS_PER_CHAR
    speed = training.get("tokens_per_second") or FALLBACK_TOKENS_PER_SECOND
    seconds = RETRAIN_EPOCHS * chars * per_char / speed
    return float(round(min(MAX_TIME_CAP, max(MIN_MAX_TIME, seconds))))


def _strip_run_files(checkpoint: Path) -> None:
    """Drop training-run leftovers (resume states) that a published version doesn't need."""
    for entry in checkpoint.iterdir():
        if entry.is_dir() and (entry.name.startswith("checkpoint-") or entry.name in ("training", "run", "runs")):
            shutil.rmtree(entry, ignore_errors=True)


def _describe(error: BaseException) -> str:
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    if isinstance(error, SystemExit):
        return "stopped by a signal"
    return str(error) or type(error).__name__


def _hostname() -> str:
    import socket

    return socket.gethostname()


# ---------------------------------------------------------------- command line

def _stop_on_sigterm() -> None:
    """SIGTERM (the bot stopping, a service manager) ends the retrain cleanly: status, lock, work/."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        pass


def run_retrain(args: argparse.Namespace) -> int:
    if args.collected is None and not args.also:
        raise StreamchatError("nothing to train on: give --collected DIR and/or --also DIR.")
    if args.collected is not None:
        check_collected(args.collected)
    missing = [str(p) for p in args.also if not p.exists()]
    if missing:
        raise StreamchatError(f"--also: no such file or folder: {', '.join(missing)}")
    if args.nice:
        try:
            os.nice(args.nice)
        except (AttributeError, OSError) as error:
            logger.warning("could not lower the priority (%s)", error)
    _stop_on_sigterm()
    options = RetrainOptions(
        collected=args.collected, also=tuple(args.also), from_scratch=args.from_scratch,
        preset=args.preset, max_time=args.max_time, max_steps=args.max_steps, only_collected=args.only_collected,
        margin=args.margin, samples=args.samples, keep=args.keep, progress=not args.no_progress,
    )
    status = retrain(args.home, options)
    print(f"{status['outcome']}: {status['reason']}")
    if status["outcome"] == "promoted":
        print(f"current version: {status['version']} ({resolve_model(args.home)})")
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    from trainer.model.checkpoint import verify_checkpoint

    home = ModelHome(args.home)
    if not home.versions():
        raise StreamchatError(f"{args.home} is not a model home with versions (expected {args.home}/versions/).")
    with home.lock():  # never switch under a retrain that is about to promote
        target = args.to or home.previous_version()
        if target is not None and target in home.versions():
            verify_checkpoint(home.version_dir(target))  # never point `current` at a model that can't load
        previous, current = home.rollback(target)
    print(f"rolled back: current version is {current} (was {previous})")
    return 0


def trained_on(card: dict) -> Path | None:
    """The prepared corpus a checkpoint was trained on, when it is still where the card says
    (a path relative to the folder the training ran in)."""
    recorded = (card.get("data") or {}).get("dir")
    if not recorded:
        return None
    path = Path(recorded)
    return path if (path / TRAIN_FILE).is_file() else None


def run_home(args: argparse.Namespace) -> int:
    home = ModelHome(args.home)
    if args.adopt is not None:
        from trainer.model.checkpoint import verify_checkpoint

        card = verify_checkpoint(args.adopt)  # a clear error for anything but a checkpoint that loads
        corpus = args.corpus or trained_on(card)
        if args.corpus is not None and not (args.corpus / TRAIN_FILE).is_file():
            raise StreamchatError(f"--corpus {args.corpus} is not a prepared corpus (no {TRAIN_FILE}); "
                                  "point it at a folder `python -m trainer prepare` wrote")
        with home.lock():
            version = home.add_version(args.adopt, move=False)
            try:
                verify_checkpoint(home.version_dir(version))  # the copy, too
            except StreamchatError:
                shutil.rmtree(home.version_dir(version), ignore_errors=True)
                raise
            home.promote(version, keep=args.keep)
            if corpus is not None:
                home.remember_corpora([corpus])
        print(f"adopted {args.adopt} as version {version} (current)")
        if corpus is None:
            print("its training corpus was not found: give it with --corpus DIR so retrains learn from it too")
    elif not home.path.exists():
        raise StreamchatError(f"no model home at {args.home}; create one with --adopt MODEL_DIR or a retrain.")
    print(home.describe())
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "retrain",
        help="retrain a model home on collected chat; promote the result only if it is not worse",
        description=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--home", type=Path, required=True, help="the model home, models/<name>")
    parser.add_argument("--collected", type=Path, help="one channel's collected chat (a folder of daily .jsonl files)")
    parser.add_argument("--also", type=Path, action="append", default=[], metavar="DIR",
                        help="another corpus to train on (any format prepare reads); repeatable")
    parser.add_argument("--from-scratch", action="store_true",
                        help="train a new model with a new tokenizer instead of continuing the current one")
    parser.add_argument("--preset", default="auto", choices=PRESET_CHOICES,
                        help="model size when starting from scratch (default auto)")
    parser.add_argument("--only-collected", action="store_true",
                        help="leave out the corpus the home was adopted or first trained from (default: "
                             "retrains learn from it and the collected chat together)")
    parser.add_argument("--max-time", type=finite_float, default=None, metavar="S",
                        help=f"training time budget in seconds (default: about {RETRAIN_EPOCHS:g} passes over the "
                             f"corpus at the current version's speed, {MIN_MAX_TIME:.0f}-{MAX_TIME_CAP:.0f} s; "
                             "0 = the preset's epochs)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop training after this many optimizer steps")
    parser.add_argument("--margin", type=finite_float, default=0.0, metavar="X",
                        help="promote a candidate up to this fraction worse in bits per char (default 0)")
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES,
                        help=f"generated messages per model for the generation checks (default {DEFAULT_SAMPLES})")
    parser.add_argument("--keep", type=int, default=DEFAULT_KEEP, help=f"versions to keep (default {DEFAULT_KEEP})")
    parser.add_argument("--nice", type=int, default=0, help="lower this process's priority by N (e.g. beside a live bot)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (for logs)")
    parser.set_defaults(func=run_retrain)

    parser = subparsers.add_parser("rollback", help="make the previous version of a model home current again")
    parser.add_argument("--home", type=Path, required=True, help="the model home, models/<name>")
    parser.add_argument("--to", metavar="VERSION", help="a specific version (see `python -m trainer home`)")
    parser.set_defaults(func=run_rollback)

    parser = subparsers.add_parser("home", help="show a model home's versions and last retrain, or adopt a checkpoint")
    parser.add_argument("home", type=Path, help="the model home, models/<name>")
    parser.add_argument("--adopt", type=Path, metavar="MODEL_DIR",
                        help="copy a trained checkpoint in as a new version and make it current")
    parser.add_argument("--corpus", type=Path, metavar="DIR",
                        help="with --adopt: the prepared corpus it was trained on, which retrains learn from "
                             "with the collected chat (default: the one its card names, when it is there)")
    parser.add_argument("--keep", type=int, default=DEFAULT_KEEP, help=f"versions to keep (default {DEFAULT_KEEP})")
    parser.set_defaults(func=run_home)

