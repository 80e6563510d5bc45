"""The shape every task shares: `TaskSpec` (what a task is), `TaskData` (what it loads) and `TaskError`.

A task is the problems plus how they are prompted and verified. `TaskSpec.load(params, seed)` returns a
`TaskData` whose rows all carry `id`, `question` and the columns the task's rewards read; the train and
eval splits are checked to be disjoint by id and by question text when the `TaskData` is built.
"""

from __future__ import annotations

import dataclasses
import hashlib
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rewards.user_values import BadValue, coerce, did_you_mean


def format_reward_spec(weight: float = 0.5) -> dict:
    """The R1-Zero format reward as the r1_zero template needs it (the prompt ends with the prefilled "<think>").

    >>> format_reward_spec()
    {'name': 'format_reward', 'weight': 0.5, 'params': {'prefilled_think': True}}
    """
    return {"name": "format_reward", "weight": weight, "params": {"prefilled_think": True}}


class TaskError(Exception):
    """Bad task name, parameters or data. The message names the task, the source, the row and the fix."""


def stable_id(prefix: str, text: str) -> str:
    """A short id derived from `text` only, so a row keeps its id whatever else is drawn with it.

    >>> stable_id("arithmetic", "What is 2 + 3?")
    'arithmetic-1ce7a34be95d'
    """
    return f"{prefix}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:12]}"


@dataclass
class TaskData:
    """The rows of one task, split into a training set and a held-out evaluation set.

    Building it checks the rows: every row has a non-empty string `id` and `question`, ids are unique,
    both splits are non-empty, and no id or question text appears in both splits.
    """

    train: list[dict]
    """Training rows: `id`, `question` and the task's columns."""
    eval: list[dict]
    """Held-out evaluation rows, disjoint from `train` by id and by question text."""
    task: str = "?"
    """Name of the task the rows came from (used in error messages)."""
    dropped: dict[str, int] = field(default_factory=dict)
    """Rows left out because they cannot be verified, counted by reason (e.g. `{"gold does not parse": 3}`)."""

    def __post_init__(self) -> None:
        for split, rows in (("train", self.train), ("eval", self.eval)):
            if not rows:
                left_out = f" (rows left out: {self.dropped})" if self.dropped else ""
                raise TaskError(
                    f"task {self.task!r}: the {split} split is empty{left_out}. "
                    f"Fix: check the data source and the split sizes in the task params."
                )
            seen: set[str] = set()
            for index, row in enumerate(rows):
                for key in ("id", "question"):
                    value = row.get(key) if isinstance(row, dict) else None
                    if not isinstance(value, str) or not value.strip():
                        raise TaskError(
                            f"task {self.task!r}: {split} row {index} has no usable {key!r} "
                            f"(got {value!r}). Fix: every row needs a non-empty string {key!r}."
                        )
                if row["id"] in seen:
                    raise TaskError(
                        f"task {self.task!r}: id {row['id']!r} appears twice in the {split} split "
                        f"(row {index}). Fix: give every row a unique id."
                    )
                seen.add(row["id"])
        train_ids = {row["id"] for row in self.train}
        train_questions = {row["question"] for row in self.train}
        for index, row in enumerate(self.eval):
            if row["id"] in train_ids:
                raise TaskError(
                    f"task {self.task!r}: eval row {index} (id {row['id']!r}) is also in the train split. "
                    f"Fix: train and eval must not overlap; use a different eval split or drop the row."
                )
            if row["question"] in train_questions:
                raise TaskError(
                    f"task {self.task!r}: eval row {index} (id {row['id']!r}) has the same question as a "
                    f"train row: {row['question'][:80]!r}. Fix: deduplicate the data or choose disjoint splits."
                )


@dataclass(frozen=True)
class TaskSpec:
    """A registered task: how to load its rows, and how they are prompted and scored by default."""

    name: str
    """Registry name, the value of `task.name` in a config."""
    description: str
    """One line, shown by `rl-reasoner tasks`."""
    columns: tuple[str, ...]
    """Columns (besides `id` and `question`) that the task's rewards read."""
    default_rewards: list[dict]
    """Reward specs `{"name", "weight", "params"}` used when the config names none; the first one is the
    accuracy reward (1.0 = correct)."""
    default_template: str
    """Name of the built-in prompt template used when the config names none."""
    loader: Callable[[Any, int], TaskData] = field(repr=False)
    """`loader(params, seed)`, given params already parsed into `params_type`."""
    params_type: type | None = None
    """Dataclass documenting the task's params (field docs are the reference); None = no params."""
    params_preprocessor: Callable[[dict], dict] | None = field(default=None, repr=False)
    """Optional rewrite of the raw params before parsing (e.g. expanding a difficulty preset)."""

    def load(self, params: dict | None = None, seed: int = 0) -> TaskData:
        """Parse `params`, load the rows and check that every row carries the task's columns."""
        raw = dict(params or {})
        if self.params_preprocessor is not None:
            raw = self.params_preprocessor(raw)
        parsed = parse_params(self.name, self.params_type, raw)
        data = self.loader(parsed, seed)
        for split, rows in (("train", data.train), ("eval", data.eval)):
            for index, row in enumerate(rows):
                missing = [column for column in self.columns if column not in row]
                if missing:
                    raise TaskError(
                        f"task {self.name!r}: {split} row {index} (id {row.get('id')!r}) lacks column(s) "
                        f"{missing}. Fix: map the data's columns onto {list(self.columns)} in the task params."
                    )
        return data

    def default_params(self) -> dict:
        """The params and their defaults, as a config would spell them."""
        if self.params_type is None:
            return {}
        return dataclasses.asdict(self.params_type())


def parse_params(task: str, params_type: type | None, params: dict) -> Any:
    """Build `params_type(**params)`, with errors that name the task, the param and the fix.

    Unknown keys get a spelling suggestion; values are checked against the field types by
    `rewards.user_values.coerce` (an int is accepted for a float field; lists and tuples are interchangeable).

    >>> @dataclass
    ... class P:
    ...     size: int = 3
    >>> parse_params("demo", P, {"size": 5})
    P(size=5)
    >>> parse_params("demo", P, {"sise": 5})
    Traceback (most recent call last):
    ...
    rl_reasoner.tasks.base.TaskError: task 'demo': unknown param 'sise'. Did you mean 'size'? Known params: ['size'].
    """
    if not isinstance(params, dict):
        raise TaskError(f"task {task!r}: params must be a mapping, got {type(params).__name__}.")
    if params_type is None:
        if params:
            raise TaskError(f"task {task!r}: takes no params, got {sorted(params)}. Fix: remove them.")
        return None
    fields = {f.name: f for f in dataclasses.fields(params_type)}
    hints = typing.get_type_hints(params_type)
    checked = {}
    for key, value in params.items():
        if key not in fields:
            raise TaskError(
                f"task {task!r}: unknown param {key!r}.{did_you_mean(key, fields)} Known params: {sorted(fields)}."
            )
        try:
            checked[key] = coerce(value, hints[key])
        except BadValue as error:
            raise TaskError(
                f"task {task!r}: param {key!r} should be {error.expected}, got {error.value!r}. "
                f"Fix: set task.params.{key} to a value of that type."
            ) from None
    try:
        return params_type(**checked)
    except (TypeError, ValueError) as error:
        raise TaskError(f"task {task!r}: {error}. Fix: correct task.params.") from None


