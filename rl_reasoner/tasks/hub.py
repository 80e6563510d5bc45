"""Tasks whose rows come from a dataset — a hub id or a local file — rather than a generator.

`load_from_source` is the shared pipeline: read the train and eval records, turn each into a row (or
drop it, counted by reason, when its gold cannot be verified), remove duplicates and any training row
that shares a question with an eval row, then subsample with seeds. Too many unverifiable rows — the
usual sign of a wrong column mapping or a broken file — stop the job with an example row.
"""

from __future__ import annotations

import logging
import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from rl_reasoner.tasks.base import TaskData, TaskError
from rl_reasoner.tasks.sources import looks_local, read_records

logger = logging.getLogger(__name__)


class Unverifiable(Exception):
    """Raised by a row converter for a record whose gold cannot be checked; the message is the reason."""


@dataclass
class SourceParams:
    """Where a dataset task reads its rows, how many it keeps, and how strict it is about bad golds."""

    path: str = ""
    """Hub dataset id (e.g. "openai/gsm8k"), or a local .jsonl/.json/.parquet/.csv file or dataset directory."""
    config: str | None = None
    """Hub config name (e.g. "main" for GSM8K); ignored for local files."""
    train_split: str = "train"
    """Split read for training (hub ids and dataset directories; a local file is the training data itself)."""
    eval_split: str | None = "test"
    """Split read for evaluation; None carves `num_eval` rows out of the training data instead."""
    eval_path: str | None = None
    """A different hub id or local file for evaluation (default: `path`)."""
    eval_config: str | None = None
    """Hub config of `eval_path` (default: `config` when `eval_path` is not set)."""
    num_train: int | None = None
    """Keep this many training rows (seeded sample); None keeps all."""
    num_eval: int | None = None
    """Keep this many eval rows (sampled with `eval_seed`); None keeps all, or carves 10% (at most 500)
    out of the training data when there is no eval split."""
    eval_seed: int = 0
    """Seed of the eval sample, independent of the run seed so every run evaluates on the same rows."""
    max_unverifiable: float = 0.1
    """Largest share of rows whose gold cannot be verified before loading stops (they are always dropped)."""

    def __post_init__(self) -> None:
        if not self.path:
            raise ValueError("path is empty: give a hub dataset id or a local file")
        for name in ("num_train", "num_eval"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 (or null for all), got {value}")
        if not 0.0 <= self.max_unverifiable <= 1.0:
            raise ValueError(f"max_unverifiable must be within [0, 1], got {self.max_unverifiable}")


GoldVerifier = Callable[[list[dict]], list[str | None]]
"""Checks the gold of a batch of rows: per row None (verified) or the reason it cannot be verified."""

Numbered = list[tuple[int, dict]]
"""Records with their row numbers in the source (for error messages)."""

RowConverter = Callable[[dict], dict]
"""Turns one source record into a row ({"question", <columns>}, optionally "id"); raises `KeyError` for a
missing column and `Unverifiable` for a gold that cannot be checked."""


def convert(task: str, where: str, split: str, records: Numbered, to_row: RowConverter,
            dropped: Counter, examples: dict[str, str]) -> list[dict]:
    """Convert (row number, record) pairs to rows; a missing column stops loading, an unverifiable gold
    drops the row (counted in `dropped`, its first row number kept in `examples`)."""
    rows = []
    for number, record in records:
        try:
            row = to_row(record)
        except KeyError as error:
            raise TaskError(
                f"task {task!r}: row {number} of {where} has no column {error.args[0]!r} "
                f"(its columns: {sorted(record)}). Fix: map the columns in task.params "
                f"(e.g. question_column / answer_column) or use a file with that column."
            ) from None
        except Unverifiable as reason:
            key = f"{split}: {reason}"
            dropped[key] += 1
            examples.setdefault(key, f"row {number} of {where}")
            continue
        row.setdefault("id", None)
        row["_number"] = number
        rows.append(row)
    return rows


def _dedupe(rows: list[dict], exclude: set[str], split: str, dropped: Counter) -> list[dict]:
    kept, seen = [], set()
    for row in rows:
        if row["question"] in exclude:
            dropped[f"{split}: same question as an eval row"] += 1
        elif row["question"] in seen:
            dropped[f"{split}: duplicate question"] += 1
        else:
            seen.add(row["question"])
            kept.append(row)
    return kept


def _read(task: str, path: str, config: str | None, split: str) -> tuple[list[dict], str, bool]:
    """Records, a description of where they came from, and whether `path` is a single local file."""
    single_file = looks_local(path) and not os.path.isdir(os.path.expanduser(path))
    if single_file:
        return read_records(task, path), repr(path), True
    return read_records(task, path, config, split), f"{path!r} split {split!r}", False


def _carve(task: str, records: list[dict], where: str, p: SourceParams) -> tuple[Numbered, Numbered]:
    """Split records into (train, eval) (row number, record) pairs, holding out `num_eval` rows chosen with
    `eval_seed`."""
    size = p.num_eval or max(1, min(500, len(records) // 10))
    if size >= len(records):
        raise TaskError(
            f"task {task!r}: {where} has {len(records)} rows, too few to hold out {size} for eval. "
            f"Fix: lower task.params.num_eval or give an eval file in task.params.eval_path."
        )
    order = list(range(len(records)))
    random.Random(p.eval_seed).shuffle(order)
    held_out = set(order[:size])
    pairs = list(enumerate(records))
    return [pair for pair in pairs if pair[0] not in held_out], [pair for pair in pairs if pair[0] in held_out]


def _verified(rows: list[dict], verify: GoldVerifier, split: str, dropped: Counter,
              examples: dict[str, str], where: str) -> list[dict]:
    kept = []
    for row, reason in zip(rows, verify(rows), strict=True):
        if reason is None:
            kept.append(row)
        else:
            key = f"{split}: {reason}"
            dropped[key] += 1
            examples.setdefault(key, f"row {row['_number']} of {where}")
    return kept


def load_from_source(task: str, p: SourceParams, seed: int, to_row: RowConverter,
                     make_id: Callable[[dict], str], verify: GoldVerifier | None = None) -> TaskData:
    """Read, convert, verify, deduplicate and split the rows of a dataset task (see the module docstring)."""
    records, train_where, single_file = _read(task, p.path, p.config, p.train_split)
    carved = p.eval_path is None and (p.eval_split is None or single_file)
    if carved:
        train_records, eval_records = _carve(task, records, train_where, p)
        eval_where = train_where
    else:
        train_records = list(enumerate(records))
        if p.eval_path is not None:
            records, eval_where, _ = _read(task, p.eval_path, p.eval_config, p.eval_split or "test")
        else:
            records, eval_where, _ = _read(task, p.path, p.eval_config or p.config, p.eval_split)
        eval_records = list(enumerate(records))

    dropped: Counter = Counter()
    examples: dict[str, str] = {}
    eval_rows = convert(task, eval_where, "eval", eval_records, to_row, dropped, examples)
    train_rows = convert(task, train_where, "train", train_records, to_row, dropped, examples)
    if verify is not None:
        eval_rows = _verified(eval_rows, verify, "eval", dropped, examples, eval_where)
        train_rows = _verified(train_rows, verify, "train", dropped, examples, train_where)
    unverifiable, total = sum(dropped.values()), len(eval_records) + len(train_records)
    if unverifiable > p.max_unverifiable * total:
        reason, where = next(iter(examples.items()))
        raise TaskError(
            f"task {task!r}: the gold of {unverifiable} of {total} rows cannot be verified ({dict(dropped)}); "
            f"first: {where} ({reason}). Fix: check the answer column and its format in task.params, or "
            f"raise task.params.max_unverifiable to train without those rows."
        )
    eval_rows = _dedupe(eval_rows, set(), "eval", dropped)
    train_rows = _dedupe(train_rows, {row["question"] for row in eval_rows}, "train", dropped)
    if p.num_eval is not None and not carved and p.num_eval < len(eval_rows):
        eval_rows = random.Random(p.eval_seed).sample(eval_rows, p.num_eval)
    if p.num_train is not None and p.num_train < len(train_rows):
        train_rows = random.Random(f"{task}-train-{seed}").sample(train_rows, p.num_train)
    for row in eval_rows + train_rows:
        row["id"] = row["id"] or make_id(row)
        del row["_number"]
    if dropped:
        logger.warning("task %s: left out %s", task, dict(dropped))
    return TaskData(train=train_rows, eval=eval_rows, task=task, dropped=dict(dropped))
