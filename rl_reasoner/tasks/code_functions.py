"""`code_functions`: procedural small Python functions ("Write `add_7(x)` that returns x plus 7"), scored by
running property tests in the sandbox; seeded, offline, with a held-out split.

Each problem is a family (add a constant, count a letter, scale a list, ...) with its constants drawn from
the family's range, so there are a few hundred distinct problems. The question names the function, its
arguments, what it returns and one worked example. The tests (`check(candidate)`, HumanEval style, run by
`rewards.code_tests`) call it on `num_checks` inputs drawn with the problem's own seed and compare with the
reference function's values, written into the tests as literals (the tests never run the reference).

The eval split is drawn with its own fixed seed (`eval_seed`) from all problems, so runs with different
training seeds are evaluated on the same held-out problems; training rows are the other problems, shuffled
with the run's seed.

>>> data = SPEC.load({"num_eval": 4}, seed=0)
>>> row = data.eval[0]
>>> sorted(row), row["tests"].startswith("def check(candidate):")
(['entry_point', 'id', 'question', 'tests'], True)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from rl_reasoner.tasks.base import TaskData, TaskError, TaskSpec, stable_id


@dataclass(frozen=True)
class Family:
    """One kind of problem: `name`/`doc` take the constant `k`; `reference(k)` is the solution."""

    name: str
    """Function name, with `{k}` for the constant (e.g. `add_{k}`)."""
    arguments: str
    """Its parameter list, e.g. `x` or `a, b`."""
    doc: str
    """What it returns, with `{k}` for the constant."""
    constants: tuple
    """The values `k` takes."""
    reference: Callable
    """`reference(k)(*args)`: the right answer."""
    inputs: Callable[[random.Random, object], tuple]
    """`inputs(rng, k)` draws one argument tuple (about half of them on each side of a yes/no question)."""


def _int(rng: random.Random, k) -> tuple:
    return (rng.randint(-20, 50),)


def _multiple_or_not(rng: random.Random, k) -> tuple:
    return (rng.randint(-3, 8) * k if rng.random() < 0.5 else rng.randint(-20, 50),)


def _two_ints(rng: random.Random, k) -> tuple:
    return (rng.randint(-20, 50), rng.randint(-20, 50))


def _word(rng: random.Random, k) -> tuple:
    word = "".join(rng.choice("abcde") for _ in range(rng.randint(1, 8)))
    return (word[:-1] + k if isinstance(k, str) and rng.random() < 0.5 else word,)


def _numbers(rng: random.Random, k) -> tuple:
    numbers = [rng.randint(-9, 20) for _ in range(rng.randint(0, 5))]
    if rng.random() < 0.6:  # the boundary: a number equal to k and one just above it
        numbers[rng.randint(0, len(numbers)) : 0] = [k, k + 1]
    return (numbers,)


LETTERS = tuple("abcde")

FAMILIES: tuple[Family, ...] = (
    Family("add_{k}", "x", "`x` plus {k}", tuple(range(2, 31)), lambda k: lambda x: x + k, _int),
    Family("subtract_{k}", "x", "`x` minus {k}", tuple(range(2, 31)), lambda k: lambda x: x - k, _int),
    Family("times_{k}", "x", "`x` multiplied by {k}", tuple(range(2, 13)), lambda k: lambda x: x * k, _int),
    Family("square_plus_{k}", "x", "the square of `x` plus {k}", tuple(range(1, 16)),
           lambda k: lambda x: x * x + k, _int),
    Family("is_multiple_of_{k}", "x", "True if `x` is divisible by {k}, otherwise False", tuple(range(2, 10)),
           lambda k: lambda x: x % k == 0, _multiple_or_not),
    Family("larger_plus_{k}", "a, b", "the larger of `a` and `b`, plus {k}", tuple(range(1, 16)),
           lambda k: lambda a, b: max(a, b) + k, _two_ints),
    Family("repeat_{k}", "s", "the string `s` repeated {k} times", tuple(range(2, 6)),
           lambda k: lambda s: s * k, _word),
    Family("first_{k}_chars", "s", "the first {k} characters of the string `s`", tuple(range(1, 6)),
           lambda k: lambda s: s[:k], _word),
    Family("count_{k}", "s", "how many times the letter '{k}' appears in the string `s`", LETTERS,
           lambda k: lambda s: s.count(k), _word),
    Family("ends_with_{k}", "s", "True if the string `s` ends with the letter '{k}', otherwise False", LETTERS,
           lambda k: lambda s: s.endswith(k), _word),
    Family("sum_plus_{k}", "xs", "the sum of the numbers in the list `xs`, plus {k}", tuple(range(1, 16)),
           lambda k: lambda xs: sum(xs) + k, _numbers),
    Family("count_above_{k}", "xs", "how many numbers in the list `xs` are greater than {k}", tuple(range(0, 11)),
           lambda k: lambda xs: sum(1 for x in xs if x > k), _numbers),
    Family("scale_by_{k}", "xs", "a new list with every number of the list `xs` multiplied by {k}",
           tuple(range(2, 10)), lambda k: lambda xs: [x * k for x in xs], _numbers),
)  # fmt: skip
"""The problem families; `len(all_problems())` is the sum of their constants' counts."""


@dataclass
class CodeFunctionsParams:
    """Split sizes and test strength of the `code_functions` task."""

    num_train: int | None = None
    """Training problems; None = every problem not held out."""
    num_eval: int = 64
    """Held-out problems (distinct from every training problem)."""
    eval_seed: int = 0
    """Seed of the held-out draw, independent of the run seed so every run evaluates on the same problems."""
    num_checks: int = 6
    """Inputs each problem's tests try (drawn with the problem's own seed)."""

    def __post_init__(self) -> None:
        if self.num_eval < 1 or (self.num_train is not None and self.num_train < 1) or self.num_checks < 1:
            raise ValueError(
                f"num_train, num_eval and num_checks must be at least 1, got {self.num_train}, "
                f"{self.num_eval} and {self.num_checks}"
            )


def problem(family: Family, k, num_checks: int = 6) -> dict:
    """The row of one problem: `question`, `tests` (HumanEval-style `check`) and `entry_point`.

    >>> row = problem(FAMILIES[0], 7, num_checks=2)
    >>> print(row["question"])
    Write a Python function `add_7(x)` that returns `x` plus 7.
    For example, `add_7(3)` returns `10`.
    >>> print(row["tests"])
    def check(candidate):
        assert candidate(3) == 10
        assert candidate(-13) == -6
        assert candidate(2) == 9
    <BLANKLINE>
    """
    name = family.name.format(k=k)
    solve = family.reference(k)
    rng = random.Random(f"{name}/checks")
    example = {_int: (3,), _multiple_or_not: (3,), _two_ints: (4, 9), _word: ("abcab",)}.get(family.inputs, ([1, 5, 12],))
    arguments = [example] + [family.inputs(rng, k) for _ in range(num_checks)]
    call = lambda args: f"{name}({', '.join(map(repr, args))})"  # noqa: E731
    question = (
        f"Write a Python function `{name}({family.arguments})` that returns {family.doc.format(k=k)}.\n"
        f"For example, `{call(example)}` returns `{solve(*example)!r}`."
    )
    lines = [f"    assert candidate({', '.join(map(repr, args))}) == {solve(*args)!r}" for args in arguments]
    return {"id": stable_id("code_functions", question), "question": question,
            "tests": "def check(candidate):\n" + "\n".join(lines) + "\n", "entry_point": name}


def all_problems(num_checks: int = 6) -> list[dict]:
    """Every problem of every family, in a fixed order."""
    return [problem(family, k, num_checks) for family in FAMILIES for k in family.constants]


def load(params: CodeFunctionsParams, seed: int) -> TaskData:
    rows = all_problems(params.num_checks)
    if params.num_eval >= len(rows):
        raise TaskError(
            f"task 'code_functions': num_eval={params.num_eval} leaves no training problem (there are "
            f"{len(rows)}). Fix: lower num_eval."
        )
    random.Random(params.eval_seed).shuffle(rows)
    held_out, train = rows[: params.num_eval], rows[params.num_eval :]
    random.Random(seed).shuffle(train)
    if params.num_train is not None:
        train = train[: params.num_train]
    return TaskData(train=train, eval=held_out, task="code_functions")


SPEC = TaskSpec(
    name="code_functions",
    description="Procedural small Python functions ('add_7(x)'), property tests run in the sandbox; seeded, offline.",
    columns=("tests", "entry_point"),
    default_rewards=[{"name": "code_tests", "weight": 1.0, "params": {}}],
    default_template="code",
    loader=load,
    params_type=CodeFunctionsParams,
)

