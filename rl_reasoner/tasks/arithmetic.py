"""`arithmetic`: procedural integer arithmetic ("What is 7 + 5?"), seeded, no network.

The eval split is drawn with its own fixed seed (`eval_seed`), so runs with different training seeds are
evaluated on the same problems; the training problems are drawn with the run's seed from the rest.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from rewards.expression import exact_value, parse_arithmetic
from rl_reasoner.tasks.base import format_reward_spec, TaskData, TaskError, TaskSpec, stable_id

DIFFICULTY_PRESETS: dict[str, dict] = {
    "add1": {"min_value": 0, "max_value": 9, "ops": "+", "num_terms": 2},
    "add2": {"min_value": 0, "max_value": 99, "ops": "+", "num_terms": 2},
    "addsub2": {"min_value": 0, "max_value": 99, "ops": "+-", "num_terms": 2},
    "mixed3": {"min_value": 0, "max_value": 20, "ops": "+-*", "num_terms": 3},
}
"""Named settings of the difficulty knobs; explicit params override a preset's values."""

MAX_TRAIN = 10_000
"""Training size when `num_train` is None."""

_ENUMERATE_LIMIT = 200_000


@dataclass
class ArithmeticParams:
    """Difficulty knobs and split sizes of the `arithmetic` task."""

    min_value: int = 0
    """Smallest operand."""
    max_value: int = 20
    """Largest operand."""
    ops: str = "+"
    """Operators to draw from, a subset of "+-*" (usual precedence: "2 + 3 * 4" is 14)."""
    num_terms: int = 2
    """Operands per problem (2 or more)."""
    allow_negative: bool = True
    """Allow problems whose answer is negative (only possible with "-")."""
    num_train: int | None = None
    """Training problems (all distinct); None = every problem not held out, at most `MAX_TRAIN`."""
    num_eval: int = 50
    """Held-out problems (distinct from each other and from every training problem)."""
    eval_seed: int = 0
    """Seed of the eval draw, independent of the run seed so every run evaluates on the same problems."""
    difficulty: str | None = None
    """Preset name from `DIFFICULTY_PRESETS` ("add1", "add2", "addsub2", "mixed3"); other params override it."""

    def __post_init__(self) -> None:
        if self.difficulty is not None:
            if self.difficulty not in DIFFICULTY_PRESETS:
                raise ValueError(
                    f"unknown difficulty {self.difficulty!r}; presets: {sorted(DIFFICULTY_PRESETS)}"
                )
        if self.min_value > self.max_value:
            raise ValueError(f"min_value ({self.min_value}) is larger than max_value ({self.max_value})")
        if not self.ops or set(self.ops) - set("+-*"):
            raise ValueError(f"ops must be a non-empty subset of '+-*', got {self.ops!r}")
        if self.num_terms < 2:
            raise ValueError(f"num_terms must be at least 2, got {self.num_terms}")
        if (self.num_train is not None and self.num_train < 1) or self.num_eval < 1:
            raise ValueError(
                f"num_train and num_eval must be at least 1, got {self.num_train} and {self.num_eval}"
            )


def expression(operands: tuple[int, ...], operators: tuple[str, ...]) -> str:
    """The problem as a Python-evaluable infix string.

    >>> expression((7, 5, 2), ("+", "*"))
    '7 + 5 * 2'
    """
    parts = [str(operands[0])]
    for operator, operand in zip(operators, operands[1:]):
        parts += [operator, str(operand)]
    return " ".join(parts)


def value_of(expr: str) -> int:
    """The integer value of an expression made by `expression`, read by the project's one safe evaluator
    (`rewards.expression`, as the countdown reward reads an equation; never `eval`).

    >>> value_of("7 + 5 * 2"), value_of("3 - -2 * 4")
    (17, 11)
    """
    value = exact_value(parse_arithmetic(expr, negation=True))
    if value.denominator != 1:
        raise ValueError(f"not an integer expression: {expr!r}")
    return int(value)


def make_row(expr: str) -> dict:
    """One task row for an expression: id, natural question and the gold answer as a string.

    >>> make_row("7 + 5")["question"], make_row("7 + 5")["answer"]
    ('What is 7 + 5?', '12')
    """
    question = f"What is {expr}?"
    return {"id": stable_id("arithmetic", question), "question": question, "answer": str(value_of(expr))}


def space_size(p: ArithmeticParams) -> int:
    """How many distinct problems the knobs allow (before removing negative answers)."""
    values = p.max_value - p.min_value + 1
    return values**p.num_terms * len(set(p.ops)) ** (p.num_terms - 1)


def _random_expression(p: ArithmeticParams, rng: random.Random) -> str:
    operands = tuple(rng.randint(p.min_value, p.max_value) for _ in range(p.num_terms))
    operators = tuple(rng.choice(sorted(set(p.ops))) for _ in range(p.num_terms - 1))
    return expression(operands, operators)


def _all_expressions(p: ArithmeticParams) -> list[str]:
    values = range(p.min_value, p.max_value + 1)
    return [
        expression(operands, operators)
        for operands in itertools.product(values, repeat=p.num_terms)
        for operators in itertools.product(sorted(set(p.ops)), repeat=p.num_terms - 1)
    ]


def _allowed(p: ArithmeticParams, expr: str) -> bool:
    return p.allow_negative or value_of(expr) >= 0


def _too_small(p: ArithmeticParams, available: int, wanted: int) -> TaskError:
    return TaskError(
        f"task 'arithmetic': only {available} distinct problems exist with min_value={p.min_value}, "
        f"max_value={p.max_value}, ops={p.ops!r}, num_terms={p.num_terms}, allow_negative={p.allow_negative}, "
        f"but num_train + num_eval = {wanted} were asked for. "
        f"Fix: lower num_train/num_eval or widen the value range, ops or num_terms."
    )


def _draw(p: ArithmeticParams, seed: int) -> tuple[list[str], list[str]]:
    size = space_size(p)
    num_train = p.num_train if p.num_train is not None else min(MAX_TRAIN, size - p.num_eval)
    wanted = num_train + p.num_eval
    if size <= _ENUMERATE_LIMIT or size < 4 * wanted:
        pool = [expr for expr in _all_expressions(p) if _allowed(p, expr)]
        if p.num_train is None:
            num_train = min(MAX_TRAIN, len(pool) - p.num_eval)
            wanted = num_train + p.num_eval
        if len(pool) < wanted or num_train < 1:
            raise _too_small(p, len(pool), max(wanted, p.num_eval + 1))
        random.Random(p.eval_seed).shuffle(pool)
        eval_exprs, rest = pool[: p.num_eval], pool[p.num_eval :]
        random.Random(f"arithmetic-train-{seed}").shuffle(rest)
        return rest[:num_train], eval_exprs

    def sample(rng: random.Random, count: int, exclude: set[str]) -> list[str]:
        chosen: dict[str, None] = {}
        attempts = 0
        while len(chosen) < count:
            attempts += 1
            if attempts > 50 * count + 1000:
                raise _too_small(p, len(chosen) + len(exclude), wanted)
            expr = _random_expression(p, rng)
            if expr not in exclude and expr not in chosen and _allowed(p, expr):
                chosen[expr] = None
        return list(chosen)

    eval_exprs = sample(random.Random(p.eval_seed), p.num_eval, set())
    train_exprs = sample(random.Random(f"arithmetic-train-{seed}"), num_train, set(eval_exprs))
    return train_exprs, eval_exprs


def load(params: ArithmeticParams, seed: int) -> TaskData:
    """Draw `num_train` training and `num_eval` eval problems, all distinct."""
    train_exprs, eval_exprs = _draw(params, seed)
    return TaskData(
        train=[make_row(expr) for expr in train_exprs],
        eval=[make_row(expr) for expr in eval_exprs],
        task="arithmetic",
    )


def _parse(raw: dict) -> dict:
    """Apply a `difficulty` preset under the explicit params."""
    preset = raw.get("difficulty")
    if preset in DIFFICULTY_PRESETS:
        return {**DIFFICULTY_PRESETS[preset], **raw}
    return raw


SPEC = TaskSpec(
    name="arithmetic",
    description="Procedural integer arithmetic ('What is 7 + 5?'); seeded, offline; difficulty knobs.",
    columns=("answer",),
    default_rewards=[
        {"name": "math_accuracy", "weight": 1.0, "params": {"plain_number_answer": True}},
        format_reward_spec(),
    ],
    default_template="r1_zero",
    loader=load,
    params_type=ArithmeticParams,
    params_preprocessor=_parse,
)
