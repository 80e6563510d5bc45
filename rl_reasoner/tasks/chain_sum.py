"""`chain_sum`: sums of 2-5 single-digit terms ("What is 3 + 8 + 6 + 2?"), a task where writing steps pays.

Two terms need no steps; five terms are hard to add in one go for a small model but easy as a chain of running
totals (3 + 8 = 11, 11 + 6 = 17, 17 + 2 = 19). One training set mixes every chain length (the easy ones are
kept: outcome-only RL extends a procedure to longer chains only if simple examples stay in the mix, Ran-Milo et
al. 2026), and the held-out split is stratified: `num_eval_per_terms` problems of each length, drawn with
their own seed (`eval_seed`) so every run is evaluated on the same problems.

Every row carries `terms` (the chain length, the difficulty stratum every metric can be split by) and
`operands` (the numbers, in order, so the running totals a completion writes can be checked:
`rl_reasoner.chain_steps`).

>>> row = make_row((3, 8, 6, 2))
>>> row["question"], row["answer"], row["terms"], row["operands"]
('What is 3 + 8 + 6 + 2?', '19', 4, [3, 8, 6, 2])
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from rl_reasoner.tasks.base import TaskData, TaskError, TaskSpec, format_reward_spec, stable_id

_ENUMERATE_LIMIT = 20_000


@dataclass
class ChainSumParams:
    """Chain lengths, term range and split sizes of the `chain_sum` task."""

    min_terms: int = 2
    """Shortest chain (terms per problem)."""
    max_terms: int = 5
    """Longest chain; every length from `min_terms` to `max_terms` is in both splits."""
    min_value: int = 0
    """Smallest term."""
    max_value: int = 9
    """Largest term (single digits by default)."""
    num_train_per_terms: int = 200
    """Training problems per chain length (fewer where fewer distinct problems are left after the held-out ones)."""
    num_eval_per_terms: int = 50
    """Held-out problems per chain length: 4 lengths x 50 = 200 by default."""
    eval_seed: int = 0
    """Seed of the held-out draw, independent of the run seed."""

    def __post_init__(self) -> None:
        if not 2 <= self.min_terms <= self.max_terms:
            raise ValueError(f"need 2 <= min_terms <= max_terms, got {self.min_terms} and {self.max_terms}")
        if not 0 <= self.min_value <= self.max_value:
            raise ValueError(f"need 0 <= min_value <= max_value, got {self.min_value} and {self.max_value}")
        if self.num_train_per_terms < 1 or self.num_eval_per_terms < 1:
            raise ValueError(f"num_train_per_terms and num_eval_per_terms must be at least 1, got "
                             f"{self.num_train_per_terms} and {self.num_eval_per_terms}")


def make_row(operands: tuple[int, ...]) -> dict:
    """One task row: id, question, gold answer, chain length (`terms`) and the operands."""
    question = "What is " + " + ".join(map(str, operands)) + "?"
    return {"id": stable_id("chain_sum", question), "question": question, "answer": str(sum(operands)),
            "terms": len(operands), "operands": list(operands)}


def _draw_length(p: ChainSumParams, terms: int, seed: int) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """Held-out and training chains of one length, distinct from each other."""
    values = range(p.min_value, p.max_value + 1)
    size = len(values) ** terms
    if size <= p.num_eval_per_terms:
        raise TaskError(
            f"task 'chain_sum': only {size} distinct sums of {terms} terms in {p.min_value}..{p.max_value}, "
            f"not enough for {p.num_eval_per_terms} held-out ones and any training ones. "
            f"Fix: lower num_eval_per_terms or widen min_value/max_value."
        )
    if size <= _ENUMERATE_LIMIT:
        pool = list(itertools.product(values, repeat=terms))
        random.Random(f"chain_sum-eval-{p.eval_seed}-{terms}").shuffle(pool)
        held_out, rest = pool[: p.num_eval_per_terms], pool[p.num_eval_per_terms:]
        random.Random(f"chain_sum-train-{seed}-{terms}").shuffle(rest)
        return held_out, rest[: p.num_train_per_terms]

    def sample(rng: random.Random, count: int, exclude: set) -> list[tuple[int, ...]]:
        chosen: dict[tuple[int, ...], None] = {}
        while len(chosen) < count:  # the space is > 4x larger than asked for whenever we get here
            chain = tuple(rng.choice(values) for _ in range(terms))
            if chain not in exclude:
                chosen[chain] = None
        return list(chosen)

    held_out = sample(random.Random(f"chain_sum-eval-{p.eval_seed}-{terms}"), p.num_eval_per_terms, set())
    count = min(p.num_train_per_terms, (size - p.num_eval_per_terms) // 4)
    return held_out, sample(random.Random(f"chain_sum-train-{seed}-{terms}"), count, set(held_out))


def load(params: ChainSumParams, seed: int) -> TaskData:
    """Draw every chain length; the training rows are shuffled together (one mixed-difficulty set)."""
    train: list[dict] = []
    held_out: list[dict] = []
    for terms in range(params.min_terms, params.max_terms + 1):
        eval_chains, train_chains = _draw_length(params, terms, seed)
        held_out += [make_row(chain) for chain in eval_chains]
        train += [make_row(chain) for chain in train_chains]
    random.Random(f"chain_sum-mix-{seed}").shuffle(train)
    return TaskData(train=train, eval=_interleave(held_out), task="chain_sum")


def _interleave(rows: list[dict]) -> list[dict]:
    """Round-robin over the chain lengths, so the first N held-out rows (`eval.num_examples`) stay stratified.

    >>> [r["terms"] for r in _interleave([make_row((1, 2)), make_row((3, 4)), make_row((1, 2, 3))])]
    [2, 3, 2]
    """
    by_terms: dict[int, list[dict]] = {}
    for row in rows:
        by_terms.setdefault(row["terms"], []).append(row)
    columns = [by_terms[t] for t in sorted(by_terms)]
    return [row for group in itertools.zip_longest(*columns) for row in group if row is not None]


SPEC = TaskSpec(
    name="chain_sum",
    description="Chained sums of 2-5 single-digit terms, mixed lengths; rows carry `terms` for per-length metrics.",
    columns=("answer", "terms", "operands"),
    default_rewards=[
        {"name": "math_accuracy", "weight": 1.0, "params": {"plain_number_answer": True}},
        format_reward_spec(weight=0.1),
    ],
    default_template="r1_zero",
    loader=load,
    params_type=ChainSumParams,
)
