"""The `code_tests` reward: program extraction, the two kinds of tests, scoring, reasons and bad input."""

from __future__ import annotations

import sys

import pytest

import rewards
import rewards.code
from rewards.code import code_tests, extract_program, fenced_blocks, io_cases, normalize_output

needs_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox needs Linux")

ADD_TESTS = "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(0, 0) == 0\n"
SUM_CASES = [{"input": "2 3\n", "output": "5\n"}, {"input": "10 -4\n", "output": "6"}, {"input": "7 7", "output": "14"}]


def fenced(code: str, language: str = "python") -> str:
    return f"Here is my solution.\n```{language}\n{code}```\nDone."


class Reasons:
    """Stands in for TRL's `log_extra`: records what the reward logs."""

    def __init__(self) -> None:
        self.logged: dict[str, list] = {}

    def __call__(self, column: str, values: list) -> None:
        self.logged.setdefault(column, []).extend(values)


# ------------------------------------------------------------------------------------ extraction


@needs_linux
def test_the_last_python_block_is_the_program():
    text = "first try\n```python\nprint(1)\n```\nbetter\n```py\nprint(2)\n```\nand a shell line\n```bash\nls\n```\n"
    assert extract_program(text) == "print(2)\n"


def test_untagged_fences_count_and_indented_blocks_are_dedented():
    assert extract_program("```\nx = 1\n```") == "x = 1\n"
    in_a_list = "1. step\n   ```python\n   def f():\n       return 1\n   ```\n"
    assert extract_program(in_a_list) == "def f():\n    return 1\n"


def test_an_unclosed_block_from_a_truncated_completion_is_not_a_program():
    assert fenced_blocks("```python\nprint(1)\n```\n```python\nprint(2") == [("python", "print(1)\n")]
    assert extract_program("```python\nprint(2)\n") is None


def test_without_a_fence_the_answer_block_is_the_program():
    assert extract_program("<think>easy</think><answer>\nprint(42)\n</answer>") == "print(42)"
    assert extract_program("<answer>   </answer>") is None
    assert extract_program("I don't know.") is None


def test_output_normalisation_ignores_trailing_whitespace_only():
    assert normalize_output("a b  \r\nc\t\n\n\n") == "a b\nc"
    assert normalize_output("  leading kept\n") == "  leading kept"
    assert normalize_output("1\n\n2\n") == "1\n\n2"


def test_io_cases_are_checked():
    assert io_cases([{"input": "", "output": "x"}]) == [("", "x")]
    with pytest.raises(ValueError, match="row 3, case 1"):
        io_cases([{"input": "", "output": ""}, {"input": "only input"}], row=3)
    with pytest.raises(ValueError, match="must be strings"):
        io_cases([{"input": 1, "output": "1"}])


# ------------------------------------------------------------------------------- HumanEval-style tests


@needs_linux
def test_test_code_with_entry_point_scores_one_or_zero():
    completions = [
        fenced("def add(a, b):\n    return a + b\n"),
        fenced("def add(a, b):\n    return a * b\n"),
        "no code at all",
        [{"role": "assistant", "content": fenced("def add(a, b):\n    return b + a\n")}],
    ]
    reasons = Reasons()
    scores = code_tests(completions, tests=[ADD_TESTS] * 4, entry_point=["add"] * 4, log_extra=reasons)
    assert scores == [1.0, 0.0, 0.0, 1.0]
    assert reasons.logged == {"reason/code_tests": ["passed", "failed", "no-code", "passed"]}


@needs_linux
def test_the_setup_column_goes_before_the_program():
    program = fenced("def first(xs: List[int]) -> int:\n    return xs[0]\n")
    tests = "def check(candidate):\n    assert candidate([4, 5]) == 4\n"
    reasons = Reasons()
    scores = code_tests([program, program, "no code"], tests=[tests] * 3, entry_point=["first"] * 3,
                        setup=["from typing import List", "", "from typing import List"], log_extra=reasons)
    assert scores == [1.0, 0.0, 0.0]  # without the import, the annotation raises NameError
    assert reasons.logged["reason/code_tests"] == ["passed", "error", "no-code"]


@needs_linux
def test_test_code_without_entry_point_runs_its_asserts():
    tests = "assert square(3) == 9\nassert square(-2) == 4\n"
    scores = code_tests([fenced("def square(x):\n    return x * x\n"), fenced("def square(x):\n    return 2 * x\n")],
                        tests=[tests, tests])
    assert scores == [1.0, 0.0]


@needs_linux
def test_rows_whose_tests_are_empty_or_never_run_are_not_scorable():
    program = fenced("def add(a, b):\n    return a + b\n")
    reasons = Reasons()
    never_calls = "def check(candidate):\n    assert True\n"
    scores = code_tests([program] * 4, tests=["", never_calls, [], ADD_TESTS], entry_point=["add"] * 4,
                        log_extra=reasons)
    assert scores == [None, None, None, 1.0]
    assert reasons.logged["reason/code_tests"] == ["no-tests", "no-tests", "no-tests", "passed"]


@needs_linux
def test_hacks_score_zero_with_their_reason():
    completions = [
        fenced("class Any:\n    def __eq__(self, other):\n        return True\ndef add(a, b):\n    return Any()\n"),
        fenced("import sys\nprint('PASSED')\nsys.exit(0)\n"),
        fenced("def add(a, b):\n    while True:\n        pass\n"),
    ]
    # The loop is given 1 s and must time out; the others a limit no load reaches (they end in well under a second
    # on a quiet machine), so their verdict never turns into "timeout" when the machine is busy.
    reasons, loop_reasons = Reasons(), Reasons()
    scores = code_tests(completions[:2], tests=[ADD_TESTS] * 2, entry_point=["add"] * 2, timeout=60.0,
                        log_extra=reasons)
    scores += code_tests(completions[2:], tests=[ADD_TESTS], entry_point=["add"], timeout=1.0, log_extra=loop_reasons)
    assert scores == [0.0, 0.0, 0.0]
    assert reasons.logged["reason/code_tests"] + loop_reasons.logged["reason/code_tests"] == ["failed", "exited",
                                                                                              "timeout"]


# ---------------------------------------------------------------------------------- stdin/stdout cases


@needs_linux
def test_io_cases_score_the_fraction_passed_or_all_or_nothing():
    correct = fenced("a, b = map(int, input().split())\nprint(a + b)\n")
    only_positive = fenced("a, b = map(int, input().split())\nprint(a + abs(b))\n")
    completions = [correct, only_positive]
    assert code_tests(completions, tests=[SUM_CASES] * 2) == [1.0, pytest.approx(2 / 3)]
    assert code_tests(completions, tests=[SUM_CASES] * 2, all_or_nothing=True) == [1.0, 0.0]


@needs_linux
def test_stdout_is_compared_whole_so_partial_output_fails():
    cases = [{"input": "", "output": "1\n2\n3\n"}]
    reasons = Reasons()
    programs = [fenced("print(1)\n"), fenced("print('1\\n2\\n3   ')\n\nprint()\n"), fenced("print(1, 2, 3)\n")]
    assert code_tests(programs, tests=[cases] * 3, log_extra=reasons) == [0.0, 1.0, 0.0]
    assert reasons.logged["reason/code_tests"] == ["wrong-answer", "passed", "wrong-answer"]


@needs_linux
def test_a_crash_after_the_right_output_does_not_pass():
    cases = [{"input": "", "output": "5"}]
    reasons = Reasons()
    assert code_tests([fenced("print(5)\nraise SystemExit(1)\n")], tests=[cases], log_extra=reasons) == [0.0]
    assert reasons.logged["reason/code_tests"] == ["error"]


@needs_linux
def test_the_reason_of_a_partly_passing_row_is_its_first_failure():
    program = fenced("n = int(input())\nprint(n if n < 100 else n // 0)\n")
    cases = [{"input": "1", "output": "1"}, {"input": "500", "output": "500"}, {"input": "2", "output": "3"}]
    reasons = Reasons()
    assert code_tests([program], tests=[cases], log_extra=reasons) == [pytest.approx(1 / 3)]
    assert reasons.logged["reason/code_tests"] == ["error"]


# ----------------------------------------------------------------------------- registry and TRL calls


@needs_linux
def test_built_from_a_config_it_is_named_and_logs_under_its_name():
    reward = rewards.build({"name": "code_tests", "params": {"all_or_nothing": True, "timeout": 2.0}})
    assert reward.__name__ == "code_tests"
    reasons = Reasons()
    partial = fenced("a, b = map(int, input().split())\nprint(a + abs(b))\n")
    assert reward([partial], tests=[SUM_CASES], log_extra=reasons) == [0.0]
    assert list(reasons.logged) == ["reason/code_tests"]


@needs_linux
def test_accepts_everything_trl_passes():
    scores = code_tests(
        prompts=["Write add."],
        completions=[fenced("def add(a, b):\n    return a + b\n")],
        completion_ids=[[1, 2, 3]],
        tests=[ADD_TESTS],
        entry_point=["add"],
        task_id=["HumanEval/0"],
        trainer_state=None,
        log_extra=Reasons(),
        log_metric=lambda name, value: None,
    )
    assert scores == [1.0]


def test_bad_input_gives_clear_errors():
    with pytest.raises(ValueError, match="needs a 'tests' column"):
        code_tests(["x"])
    with pytest.raises(ValueError, match="2 completions but 1 rows"):
        code_tests(["x", "y"], tests=["assert True"])
    with pytest.raises(ValueError, match="must be positive"):
        code_tests(["x"], tests=["assert True"], timeout=0)


@needs_linux
def test_rows_whose_tests_are_missing_or_malformed_score_none_and_the_others_are_scored():
    """One bad row must not take the batch down (nor score 0.0): None, with a reason and a warning."""
    program = fenced("def add(a, b):\n    return a + b\n")
    reasons = Reasons()
    rows = [None, {"inputs": ["1"], "outputs": ["1"]}, [{"input": "1"}], "def check(c)\n    pass\n", ADD_TESTS]
    with pytest.warns(UserWarning, match="row 1: tests must be"):
        scores = code_tests([program] * 5, tests=rows, entry_point=["add"] * 5, log_extra=reasons)
    assert scores == [None, None, None, None, 1.0]
    assert reasons.logged["reason/code_tests"] == ["no-tests", "bad-tests", "bad-tests", "bad-tests", "passed"]
