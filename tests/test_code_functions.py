"""The procedural `code_functions` task: seeded rows, a disjoint held-out split, and tests that pass every right
solution and fail wrong ones (run for real in the sandbox)."""

from __future__ import annotations

import sys

import pytest

from rewards import code_tests
from rl_reasoner.tasks import TaskError, get
from rl_reasoner.tasks.code_functions import FAMILIES, all_problems

SOLUTIONS = {  # a right body per family, written independently of the task's reference functions
    "add_{k}": "return x + {k}",
    "subtract_{k}": "return x - {k}",
    "times_{k}": "return x * {k}",
    "square_plus_{k}": "return x ** 2 + {k}",
    "is_multiple_of_{k}": "return x % {k} == 0",
    "larger_plus_{k}": "return (a if a > b else b) + {k}",
    "repeat_{k}": "return ''.join(s for _ in range({k}))",
    "first_{k}_chars": "return s[0:{k}]",
    "count_{k}": "return len([c for c in s if c == {k!r}])",
    "ends_with_{k}": "return len(s) > 0 and s[-1] == {k!r}",
    "sum_plus_{k}": "total = {k}\n    for x in xs:\n        total += x\n    return total",
    "count_above_{k}": "return len([x for x in xs if x > {k}])",
    "scale_by_{k}": "return list(map(lambda x: x * {k}, xs))",
}


def fenced(code: str) -> str:
    return f"```python\n{code}\n```"


def solutions(wrong: bool = False) -> tuple[list[str], list[dict]]:
    completions, rows = [], []
    for family in FAMILIES:
        for k in family.constants:
            row = next(r for r in all_problems() if r["entry_point"] == family.name.format(k=k))
            body = SOLUTIONS[family.name].format(k=k)
            if wrong:  # off by one where the constant is used
                body = SOLUTIONS[family.name].format(k=k + 1 if isinstance(k, int) else "z")
            completions.append(fenced(f"def {row['entry_point']}({family.arguments}):\n    {body}\n"))
            rows.append(row)
    return completions, rows


def test_rows_are_seeded_and_the_held_out_split_is_disjoint_and_fixed():
    spec = get("code_functions")
    first, again, other_seed = spec.load({}, seed=0), spec.load({}, seed=0), spec.load({}, seed=1)
    assert first.train == again.train and first.eval == again.eval
    assert first.eval == other_seed.eval and first.train != other_seed.train  # the run seed moves only training
    assert not {r["question"] for r in first.train} & {r["question"] for r in first.eval}
    assert len(first.train) + len(first.eval) == len(all_problems()) == len({r["id"] for r in all_problems()})
    with pytest.raises(TaskError, match="at least 1"):
        spec.load({"num_eval": 0})


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox needs Linux")
def test_every_right_solution_passes_and_every_off_by_one_fails():
    completions, rows = solutions()
    columns = {"tests": [r["tests"] for r in rows], "entry_point": [r["entry_point"] for r in rows]}
    assert code_tests(completions, **columns) == [1.0] * len(rows)
    wrong, _ = solutions(wrong=True)
    assert code_tests(wrong, **columns) == [0.0] * len(rows)
