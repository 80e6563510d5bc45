"""`countdown`: TinyZero's Countdown game, procedural and solvable by construction.

Given 3–4 numbers and a target, write an equation that uses every number exactly once with + - * /
and equals the target. Each problem is built from a random expression over its numbers, so at least one
solution exists (kept in the `answer` column for inspection); `rewards.countdown` scores any valid one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction

from rl_reasoner.tasks.base import format_reward_spec, TaskData, TaskError, TaskSpec, stable_id


@dataclass
class CountdownParams:
    """Difficulty knobs and split sizes of the `countdown` task (defaults follow TinyZero)."""

    min_numbers: int = 3
    """Fewest numbers per problem."""
    max_numbers: int = 4
    """Most numbers per problem."""
    min_number: int = 1
    """Smallest number."""
    max_number: int = 99
    """Largest number."""
    min_target: int = 1
    """Smallest target."""
    max_target: int = 100
    """Largest target."""
    ops: str = "+-*/"
    """Operators the hidden solution may use (the question always allows all four)."""
    num_train: int = 2000
    """Training problems (distinct number sets and targets)."""
    num_eval: int = 100
    """Held-out problems, disjoint from training as (sorted numbers, target)."""
    eval_seed: int = 0
    """Seed of the eval draw, independent of the run seed so every run evaluates on the same problems."""

    def __post_init__(self) -> None:
        if not 2 <= self.min_numbers <= self.max_numbers:
            raise ValueError(
                f"need 2 <= min_numbers <= max_numbers, got {self.min_numbers} and {self.max_numbers}"
            )
        if not 0 <= self.min_number <= self.max_number:
            raise ValueError(f"need 0 <= min_number <= max_number, got {self.min_number} and {self.max_number}")
        if self.min_target > self.max_target:
            raise ValueError(f"min_target ({self.min_target}) is larger than max_target ({self.max_target})")
        if not self.ops or set(self.ops) - set("+-*/"):
            raise ValueError(f"ops must be a non-empty subset of '+-*/', got {self.ops!r}")
        if self.num_train < 1 or self.num_eval < 1:
            raise ValueError(
                f"num_train and num_eval must be at least 1, got {self.num_train} and {self.num_eval}"
            )


def question_text(numbers: list[int], target: int) -> str:
    """The problem statement (TinyZero's wording, without its format instructions: those are the template's).

    >>> question_text([3, 5, 2], 16)
    'Using the numbers [3, 5, 2], create an equation that equals 16. You can use basic arithmetic operations (+, -, *, /) and each number must be used exactly once.'
    """
    return (
        f"Using the numbers {numbers}, create an equation that equals {target}. "
        "You can use basic arithmetic operations (+, -, *, /) and each number must be used exactly once."
    )


def random_solution(numbers: list[int], ops: str, rng: random.Random) -> tuple[str, Fraction] | None:
    """Combine `numbers` (in random order and grouping) into one expression; its text and exact value.

    Division by zero gives None. The text is fully parenthesised except at the top level.

    >>> random_solution([4, 2], "/", random.Random(0))
    ('2 / 4', Fraction(1, 2))
    """
    terms: list[tuple[str, Fraction]] = [(str(n), Fraction(n)) for n in numbers]
    rng.shuffle(terms)
    while len(terms) > 1:
        left, a = terms.pop(rng.randrange(len(terms)))
        right, b = terms.pop(rng.randrange(len(terms)))
        op = rng.choice(ops)
        if op == "/" and b == 0:
            return None
        value = a + b if op == "+" else a - b if op == "-" else a * b if op == "*" else a / b
        terms.append((f"({left} {op} {right})", value))
    text, value = terms[0]
    return (text[1:-1] if text.startswith("(") else text), value


def make_problem(p: CountdownParams, rng: random.Random, tries: int = 100) -> tuple[list[int], int, str]:
    """Draw numbers and a hidden expression over them whose value is an integer target in range."""
    for _ in range(tries):
        count = rng.randint(p.min_numbers, p.max_numbers)
        numbers = [rng.randint(p.min_number, p.max_number) for _ in range(count)]
        solved = random_solution(numbers, p.ops, rng)
        if solved is None:
            continue
        solution, value = solved
        if value.denominator == 1 and p.min_target <= value <= p.max_target:
            return numbers, int(value), solution
    raise TaskError(
        f"task 'countdown': no solvable problem found in {tries} draws with numbers in "
        f"[{p.min_number}, {p.max_number}], targets in [{p.min_target}, {p.max_target}] and ops {p.ops!r}. "
        f"Fix: widen the target range or allow more ops."
    )


def make_row(numbers: list[int], target: int, solution: str) -> dict:
    """One task row: id, question, the `numbers` and `target` the reward checks, and one known solution."""
    question = question_text(numbers, target)
    return {
        "id": stable_id("countdown", question),
        "question": question,
        "numbers": list(numbers),
        "target": target,
        "answer": solution,
    }


def _sample(p: CountdownParams, rng: random.Random, count: int, exclude: set) -> list[dict]:
    rows: dict[tuple, dict] = {}
    attempts = 0
    while len(rows) < count:
        attempts += 1
        if attempts > 20 * count + 1000:
            raise TaskError(
                f"task 'countdown': found only {len(rows)} distinct problems of the {count} asked for. "
                f"Fix: lower num_train/num_eval or widen the number and target ranges."
            )
        numbers, target, solution = make_problem(p, rng)
        key = (tuple(sorted(numbers)), target)
        if key not in exclude and key not in rows:
            rows[key] = make_row(numbers, target, solution)
    return list(rows.values())


def load(params: CountdownParams, seed: int) -> TaskData:
    """Draw `num_eval` eval problems with `eval_seed`, then `num_train` others with the run seed."""
    eval_rows = _sample(params, random.Random(params.eval_seed), params.num_eval, set())
    held_out = {(tuple(sorted(row["numbers"])), row["target"]) for row in eval_rows}
    train_rows = _sample(params, random.Random(f"countdown-train-{seed}"), params.num_train, held_out)
    return TaskData(train=train_rows, eval=eval_rows, task="countdown")


SPEC = TaskSpec(
    name="countdown",
    description="TinyZero's Countdown: reach a target from 3-4 numbers with + - * /; solvable by construction.",
    columns=("numbers", "target"),
    default_rewards=[
        {"name": "countdown", "weight": 1.0, "params": {}},
        format_reward_spec(),
    ],
    default_template="r1_zero",
    loader=load,
    params_type=CountdownParams,
)
