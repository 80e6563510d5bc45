"""`reasoning_gym:<name>`: any procedural dataset of the `reasoning-gym` package, offline and seeded.

Rows carry what `rewards.reasoning_gym` needs to score an answer with that dataset's own `score_answer`:
`rg_dataset` (the dataset name) and `rg_entry` (JSON: the entry's question, answer and metadata, plus the
`source` — config, seed, size and index — from which the reward rebuilds the exact entry).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field

from rewards.user_values import did_you_mean
from rl_reasoner.tasks.base import format_reward_spec, TaskData, TaskError, TaskSpec, stable_id

logger = logging.getLogger(__name__)


@dataclass
class ReasoningGymParams:
    """Difficulty knobs and split sizes of a `reasoning_gym:<name>` task."""

    config: dict = field(default_factory=dict)
    """The dataset's own config fields (its difficulty knobs), e.g. `{"min_animals": 2, "max_animals": 4}`."""
    num_train: int = 1000
    """Training entries: distinct questions, drawn past this count to replace repeats (fewer only when the config
    cannot produce as many distinct questions; the shortfall is reported)."""
    num_eval: int = 100
    """Held-out entries (distinct, drawn like ``num_train``) from an independent seed; none shares a question with
    training."""
    eval_seed: int = 0
    """Seed of the eval draw, independent of the run seed so every run evaluates on the same entries."""
    verify_gold: bool = True
    """Drop (and count) entries whose own gold answer does not score 1.0 under the dataset's scorer."""

    def __post_init__(self) -> None:
        if self.num_train < 1 or self.num_eval < 1:
            raise ValueError(
                f"num_train and num_eval must be at least 1, got {self.num_train} and {self.num_eval}"
            )


def dataset_names() -> list[str]:
    """Names of the datasets reasoning-gym provides."""
    from reasoning_gym.factory import DATASETS

    return sorted(DATASETS)


def derived_seed(kind: str, seed: int) -> int:
    """A dataset seed for a split. reasoning-gym seeds entry `i` with `seed + i`, so train and eval seeds
    must be far apart rather than consecutive; hashing spreads them over [0, 2**31).

    >>> derived_seed("train", 0) != derived_seed("eval", 0) and derived_seed("train", 0) == derived_seed("train", 0)
    True
    """
    return int(hashlib.sha256(f"{kind}-{seed}".encode()).hexdigest(), 16) % 2**31


def create(task: str, name: str, config: dict, seed: int, size: int):
    """`reasoning_gym.create_dataset` with errors that name the task and the config field to fix."""
    import reasoning_gym
    from reasoning_gym.factory import DATASETS

    if name not in DATASETS:
        raise TaskError(
            f"task {task!r}: reasoning-gym has no dataset {name!r}.{did_you_mean(name, DATASETS)} "
            f"Known datasets: {', '.join(sorted(DATASETS))}."
        )
    fields = getattr(DATASETS[name][1], "__dataclass_fields__", {})
    unknown = [key for key in config if fields and key not in fields]
    if unknown:
        knobs = sorted(f for f in fields if f not in ("seed", "size"))
        raise TaskError(
            f"task {task!r}: unknown config field {unknown[0]!r} for reasoning-gym dataset {name!r}."
            f"{did_you_mean(unknown[0], fields)} Its config fields: {knobs}."
        )
    try:
        return reasoning_gym.create_dataset(name, **{**config, "seed": seed, "size": size})
    except (AssertionError, TypeError, ValueError) as error:
        raise TaskError(f"task {task!r}: bad config {config} for reasoning-gym dataset {name!r}: {error}") from None


def make_row(name: str, entry: dict, source: dict) -> dict:
    """One task row from a reasoning-gym entry."""
    question = entry["question"].strip()
    payload = {"question": entry["question"], "answer": entry["answer"], "metadata": entry.get("metadata", {}),
               "source": source}
    return {
        "id": stable_id(f"rg-{name}", question),
        "question": question,
        "answer": entry["answer"] if isinstance(entry["answer"], str) else None,
        "rg_dataset": name,
        "rg_entry": json.dumps(payload, default=repr, sort_keys=True),
    }


def _draw(task: str, name: str, p: ReasoningGymParams, split: str, seed: int, count: int,
          exclude: set[str], dropped: Counter) -> list[dict]:
    """``count`` entries with distinct questions (none in ``exclude``) whose gold answer scores 1.0.

    A small config repeats itself (leg_counting with 1-2 animals: ~40% repeats in 1,100 draws), so entries are
    drawn past ``count`` until ``count`` are kept: reasoning-gym seeds entry ``i`` with ``seed + i``, so a larger
    dataset extends a smaller one. The draw stops at :data:`MAX_DRAW_FACTOR` x ``count`` entries; fewer rows are
    kept only when the config cannot produce as many distinct questions, and the count is reported.
    """
    dataset_seed = derived_seed(split, seed)
    rows, seen, index, size = [], set(exclude), 0, count
    while len(rows) < count and index < MAX_DRAW_FACTOR * count:
        dataset = create(task, name, p.config, dataset_seed, size)
        source = {"config": p.config, "seed": dataset_seed, "size": size}
        for index in range(index, size):
            entry = dataset[index]
            question = entry["question"].strip()
            if question in seen:
                dropped[f"{split}: repeats a question already drawn" + (" for eval" if question in exclude else "")] += 1
                continue
            if p.verify_gold and isinstance(entry["answer"], str) and dataset.score_answer(entry["answer"], entry) != 1.0:
                dropped[f"{split}: gold answer does not score 1.0"] += 1
                continue
            seen.add(question)
            rows.append(make_row(name, entry, {**source, "index": index}))
            if len(rows) == count:
                break
        index, size = size, min(2 * size, MAX_DRAW_FACTOR * count)
    if len(rows) < count:
        dropped[f"{split}: short of num_{split} (the config yields too few distinct questions)"] = count - len(rows)
        logger.warning("task %s: the config yields only %d distinct %s questions in %d draws, not %d",
                       task, len(rows), split, MAX_DRAW_FACTOR * count, count)
    return rows


MAX_DRAW_FACTOR = 8
"""Entries drawn at most per entry asked for, before settling for fewer distinct questions."""


def load_dataset(name: str, params: ReasoningGymParams, seed: int) -> TaskData:
    """Draw the eval entries (seeded by `eval_seed`) and the training entries (seeded by the run seed)."""
    task = f"reasoning_gym:{name}"
    dropped: Counter = Counter()
    eval_rows = _draw(task, name, params, "eval", params.eval_seed, params.num_eval, set(), dropped)
    held_out = {row["question"] for row in eval_rows}
    train_rows = _draw(task, name, params, "train", seed, params.num_train, held_out, dropped)
    if dropped:
        logger.warning("task %s: left out %s", task, dict(dropped))
    return TaskData(train=train_rows, eval=eval_rows, task=task, dropped=dict(dropped))


def spec(name: str) -> TaskSpec:
    """The spec of `reasoning_gym:<name>`; an unknown dataset name is an error with a suggestion."""
    names = dataset_names()
    if name not in names:
        raise TaskError(
            f"unknown task 'reasoning_gym:{name}': reasoning-gym has no dataset {name!r}.{did_you_mean(name, names)} "
            f"Known datasets: {', '.join(names)}."
        )
    return TaskSpec(
        name=f"reasoning_gym:{name}",
        description="Any reasoning-gym dataset, scored by its own score_answer (strict: full credit only).",
        columns=("rg_dataset", "rg_entry"),
        default_rewards=[
            {"name": "reasoning_gym", "weight": 1.0, "params": {"mode": "strict"}},
            format_reward_spec(),
        ],
        default_template="r1_zero",
        loader=lambda params, seed: load_dataset(name, params, seed),
        params_type=ReasoningGymParams,
    )
