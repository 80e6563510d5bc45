"""`code_tests`: run the program in a completion against the row's tests, in the sandbox.

The program is the last fenced Python block of the completion (```` ```python ````, ```` ```py ```` or an
untagged fence; a block left open by a truncated completion does not count), else the content of the
last `<answer>` block; a `setup` column (e.g. the imports of a HumanEval prompt) is put before it. The
row's `tests` are either

- a string of Python test code, run after the program HumanEval style: with an `entry_point` column,
  `check(<entry_point>)` is called as HumanEval does; without one, the code's own top-level asserts run
  (MBPP style). The reward is 1.0 if every test ran and passed, else 0.0 — or
- a list of `{"input": str, "output": str}` cases: each case runs the program with `input` on stdin; it
  passes when the program exits with status 0 and its whole stdout equals `output`, after trailing
  whitespace is removed from every line and trailing empty lines are dropped. The reward is the fraction
  of cases passed, or 1.0/0.0 with `all_or_nothing=True`.

`None` (not scorable) when the row has no tests (`None`, empty), when its tests never call the program, or
when they cannot run (`bad-tests`: a SyntaxError, a name nobody defines, malformed cases). Every
completion gets a reason, logged under `reason/code_tests` through TRL's `log_extra`: `passed`,
`no-code`, `wrong-answer`, or a status of the sandbox (`failed`, `error`, `exited`, `timeout`,
`sandbox:memory`, ... see `rewards.sandbox.STATUSES`); for a list of cases, the reason is that of the
first case that did not pass.

>>> tests = [{"input": "2 3\\n", "output": "5"}, {"input": "4 4\\n", "output": "8"}]
>>> code_tests(["```python\\nprint(sum(map(int, input().split())))\\n```"], tests=[tests])
[1.0]
"""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rewards.extract import completion_text, last_answer_block
from rewards.registry import register
from rewards.sandbox import Limits, Result, Sandbox, SandboxRun, default_sandbox

REASON_COLUMN = "reason/code_tests"
_PYTHON_FENCES = ("", "py", "python", "python3", "py3")
_DEGRADED_WARNED = False


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """`(language, code)` of every closed fenced block, in order (the language is lower-cased, may be '').

    >>> fenced_blocks("text\\n```python\\nx = 1\\n```\\n```\\ny = 2\\n```\\n```js\\nopen")
    [('python', 'x = 1\\n'), ('', 'y = 2\\n')]
    """
    blocks: list[tuple[str, str]] = []
    language: str | None = None
    lines: list[str] = []
    for line in text.splitlines(keepends=True):
        fence = line.strip().startswith("```")
        if language is None and fence:
            language, lines = line.strip()[3:].strip().lower(), []
        elif language is not None and fence:
            blocks.append((language, "".join(lines)))
            language = None
        elif language is not None:
            lines.append(line)
    return blocks


def extract_program(text: str) -> str | None:
    """The program in a completion: the last fenced Python block, else the last `<answer>` block.

    >>> extract_program("draft:\\n```python\\nprint(1)\\n```\\nfinal:\\n```python\\nprint(2)\\n```")
    'print(2)\\n'
    >>> extract_program("<answer>\\nprint(3)\\n</answer>")
    'print(3)'
    >>> extract_program("no code here") is None
    True
    """
    python = [code for language, code in fenced_blocks(text) if language in _PYTHON_FENCES]
    if python:
        program = textwrap.dedent(python[-1])
    else:
        answer = last_answer_block(text)
        program = textwrap.dedent(answer).strip() if answer is not None else ""
    return program if program.strip() else None


def normalize_output(text: str) -> str:
    """Output as compared: `\\r\\n` as `\\n`, trailing whitespace of each line and trailing empty lines removed.

    >>> normalize_output("1 2 \\r\\n3\\t\\n\\n")
    '1 2\\n3'
    """
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def io_cases(tests: Sequence[Any], row: int = 0) -> list[tuple[str, str]]:
    """`(input, output)` pairs from a list of `{"input": str, "output": str}`; a clear error otherwise.

    >>> io_cases([{"input": "1\\n", "output": "2\\n"}])
    [('1\\n', '2\\n')]
    """
    cases = []
    for index, case in enumerate(tests):
        if not isinstance(case, Mapping) or not {"input", "output"} <= set(case):
            expected = "{'input': str, 'output': str}"
            raise ValueError(f"code_tests: row {row}, case {index}: expected {expected}, got {case!r:.200}")
        if not isinstance(case["input"], str) or not isinstance(case["output"], str):
            raise ValueError(f"code_tests: row {row}, case {index}: 'input' and 'output' must be strings")
        cases.append((case["input"], case["output"]))
    return cases


@register("code_tests")
def code_tests(
    completions: Sequence[Any],
    tests: Sequence[Any] | None = None,
    entry_point: Sequence[str | None] | None = None,
    setup: Sequence[str | None] | None = None,
    *,
    all_or_nothing: bool = False,
    timeout: float = 5.0,
    memory_mb: int = 512,
    log_extra: Callable[[str, list], None] | None = None,
    **kwargs: Any,
) -> list[float | None]:
    """Score each completion's program against its row's `tests` (see the module docstring).

    `timeout`: wall-clock and CPU seconds per program run; `memory_mb`: its address space.
    """
    if tests is None:
        raise ValueError("code_tests needs a 'tests' column (Python test code, or a list of input/output cases)")
    if len(tests) != len(completions):
        raise ValueError(f"code_tests: {len(completions)} completions but {len(tests)} rows of tests")
    for name, column in (("entry points", entry_point), ("setups", setup)):
        if column is not None and len(column) != len(completions):
            raise ValueError(f"code_tests: {len(completions)} completions but {len(column)} {name}")
    if not timeout > 0 or not memory_mb > 0:
        raise ValueError(f"code_tests: timeout and memory_mb must be positive, got {timeout!r}, {memory_mb!r}")
    limits = Limits(wall_seconds=timeout, cpu_seconds=timeout, memory_bytes=int(memory_mb) << 20)

    rewards: list[float | None] = [None] * len(completions)
    reasons = [""] * len(completions)
    runs: list[SandboxRun] = []
    owners: list[int] = []  # the completion each run belongs to
    expected: list[str | None] = []  # stdout a stdio run must print; None for a tests run
    problems: dict[int, str] = {}  # rows whose tests cannot run: why
    for row, (completion, row_tests) in enumerate(zip(completions, tests)):
        program = extract_program(completion_text(completion))
        if program is not None and setup is not None and setup[row]:
            program = f"{setup[row]}\n{program}"
        if row_tests is None:
            reasons[row] = "no-tests"
            continue
        if isinstance(row_tests, str):
            if not row_tests.strip():
                reasons[row] = "no-tests"
                continue
            if program is None:
                rewards[row], reasons[row] = 0.0, "no-code"
                continue
            function = entry_point[row] if entry_point is not None else None
            runs.append(SandboxRun(program, tests=row_tests, entry_point=function or None, limits=limits))
            owners.append(row)
            expected.append(None)
        elif isinstance(row_tests, Sequence):
            try:
                cases = io_cases(row_tests, row)
            except ValueError as error:  # the row's tests are at fault, not the completion: not scorable
                reasons[row], problems[row] = "bad-tests", str(error)
                continue
            if not cases:
                reasons[row] = "no-tests"
                continue
            if program is None:
                rewards[row], reasons[row] = 0.0, "no-code"
                continue
            for stdin, stdout in cases:
                runs.append(SandboxRun(program, stdin=stdin, limits=limits))
                owners.append(row)
                expected.append(normalize_output(stdout))
        else:
            reasons[row], problems[row] = "bad-tests", (
                f"code_tests: row {row}: tests must be a string of Python test code or a list of "
                f"{{'input', 'output'}} cases, got {type(row_tests).__name__}"
            )

    if problems:
        first = next(iter(problems.values()))
        warnings.warn(f"{len(problems)} row(s) scored None, their tests cannot run; first: {first}", stacklevel=2)
    sandbox = default_sandbox()
    _warn_if_degraded(sandbox)
    verdicts: dict[int, list[tuple[bool | None, str]]] = {}
    for owner, want, result in zip(owners, expected, sandbox.run_many(runs)):
        verdicts.setdefault(owner, []).append(_verdict(result, want))
    for row, cases in verdicts.items():
        rewards[row], reasons[row] = _score(cases, all_or_nothing)

    if log_extra is not None:
        log_extra(REASON_COLUMN, reasons)
    return rewards


code_tests.canonical_answer = None  # a program has no answer to vote on: evaluation reports no maj@k


def _verdict(result: Result, expected_stdout: str | None) -> tuple[bool | None, str]:
    """(passed, reason) of one run: a tests run (`expected_stdout` None) or a stdio case."""
    if expected_stdout is None:
        return result.passed, result.status
    if result.status != "ok":
        return False, result.status
    if normalize_output(result.stdout) != expected_stdout:
        return False, "wrong-answer"
    return True, "passed"


def _score(cases: list[tuple[bool | None, str]], all_or_nothing: bool) -> tuple[float | None, str]:
    """The reward and reason of a completion from its cases' verdicts.

    >>> _score([(True, "passed"), (False, "timeout")], all_or_nothing=False)
    (0.5, 'timeout')
    >>> _score([(None, "no-tests")], all_or_nothing=True)
    (None, 'no-tests')
    """
    failing = [reason for passed, reason in cases if passed is not True]
    if any(passed is None for passed, _ in cases):
        return None, next(reason for passed, reason in cases if passed is None)
    passed = len(cases) - len(failing)
    reward = float(passed == len(cases)) if all_or_nothing else passed / len(cases)
    return reward, failing[0] if failing else "passed"


def _warn_if_degraded(sandbox: Sandbox) -> None:
    """Warn once per process when programs run without the full isolation (not root, no namespaces)."""
    global _DEGRADED_WARNED
    if _DEGRADED_WARNED:
        return
    _DEGRADED_WARNED = True
    isolation = sandbox.isolation
    if isolation.get("network") != "namespace" or not isolation.get("user", "").startswith("uids"):
        warnings.warn(
            f"code_tests: the sandbox runs with reduced isolation here ({dict(isolation)}); "
            "run as root (e.g. in a container) for the full protection",
            stacklevel=3,
        )
