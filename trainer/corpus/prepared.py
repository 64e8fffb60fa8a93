"""A prepared corpus: the folder `python -m trainer prepare` writes, read back by training and evaluation.

    DIR/train.jsonl    corpus records (trainer/corpus/records.py), stream by stream, oldest first
    DIR/valid.jsonl    the validation streams, the same way
    DIR/emotes.txt     the emotes found, one a line
    DIR/stats.json     what the import did (trainer/ingest/prepare.py)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainer.corpus.records import EMOTES_FILE, STATS_FILE, TRAIN_FILE, VALID_FILE, ChatRecord, read_records
from trainer.errors import StreamchatError
from trainer.fsutil import read_json


@dataclass
class PreparedCorpus:
    path: Path
    train: list[ChatRecord]
    valid: list[ChatRecord]
    emotes: list[str]
    stats: dict  # {} when stats.json is missing or unreadable


def load_prepared(data_dir: str | Path, *, min_train: int = 1, need_valid: bool = False) -> PreparedCorpus:
    """The corpus in `data_dir`, or a StreamchatError that says what is missing and what to run.

    The training split must hold at least `min_train` messages; the validation split may be
    absent unless `need_valid` (evaluation has nothing to measure without it).
    """
    data_dir = Path(data_dir)
    prepare_hint = f"run `python -m trainer prepare LOGS... --out {data_dir}` first"
    if not data_dir.is_dir():
        raise StreamchatError(f"no data folder at {data_dir}; {prepare_hint}")
    missing = [name for name in (TRAIN_FILE, VALID_FILE) if not (data_dir / name).is_file()]
    if missing and (TRAIN_FILE in missing or need_valid):
        raise StreamchatError(f"{data_dir} is not a prepared corpus (no {', '.join(missing)}); {prepare_hint}")
    train = list(read_records(data_dir / TRAIN_FILE))
    valid = [] if VALID_FILE in missing else list(read_records(data_dir / VALID_FILE))
    if len(train) < min_train:
        raise StreamchatError(
            f"{data_dir / TRAIN_FILE} has {len(train)} messages; at least {min_train} are needed "
            "(tens of thousands for a model worth talking to): add more chat logs and prepare again"
        )
    if need_valid and not valid:
        raise StreamchatError(
            f"{data_dir / VALID_FILE} has no messages: nothing to evaluate on; "
            "prepare the corpus again with a validation stream (prepare's --valid)"
        )
    stats = read_json(data_dir / STATS_FILE, {})
    return PreparedCorpus(data_dir, train, valid, read_emotes(data_dir / EMOTES_FILE), stats if isinstance(stats, dict) else {})


def read_emotes(path: str | Path) -> list[str]:
    """The emotes of an `emotes.txt` (one a line, `#` comments and blanks ignored); [] when there is none."""
    path = Path(path)
    if not path.exists():
        return []
    emotes = []
    for line in path.read_text(encoding="utf-8").splitlines():
        word = line.split("\t")[0].strip()
        if word and not word.startswith("#"):
            emotes.append(word)
    return emotes
