import builtins
import importlib

import numpy as np
import pytest

from rewards.countdown import check_countdown, countdown

countdown_module = importlib.import_module("rewards.countdown")  # `rewards.countdown` is the reward function
expression_module = importlib.import_module("rewards.expression")


@pytest.mark.parametrize(
    ("answer", "numbers", "target", "reason"),
    [
        ("(6 - 2) * 6", [2, 6, 6], 24, "correct"),
        ("6 * (6 - 2) = 24", [2, 6, 6], 24, "correct"),
        ("10 / 3 * 3", [3, 3, 10], 10, "correct"),  # exact rationals: float would say 9.999999999999998
        ("(1 + 2) / 3 * 7", [1, 2, 3, 7], 7, "correct"),
        ("7 / 2", [7, 2], 3, "not_equal"),  # no rounding of a non-exact division
        ("7 / 2", [7, 2], 4, "not_equal"),
        ("6 * 4", [2, 6, 6], 24, "uses_wrong_numbers"),  # 4 is not given
        ("6 * 6 - 2 - 2", [2, 6, 6], 30, "uses_wrong_numbers"),  # 2 reused
        ("6 * 6", [2, 6, 6], 36, "uses_wrong_numbers"),  # 2 unused
        ("(6 - 2) * 6 = 25", [2, 6, 6], 24, "invalid_expression"),  # claims another target
        ("6 / (2 - 2)", [2, 2, 6], 3, "division_by_zero"),
        ("-2 + 6 * 6", [2, 6, 6], 34, "invalid_expression"),  # unary minus is not an operation on given numbers
        ("2 ** 6", [2, 6], 64, "invalid_expression"),
        ("6 // 2", [2, 6], 3, "invalid_expression"),
        ("6 % 2", [2, 6], 0, "invalid_expression"),
        ("2.0 * 3", [2, 3], 6, "invalid_expression"),
        ("06 * 1", [6, 1], 6, "invalid_expression"),
        ("6 x 4", [6, 4], 24, "invalid_expression"),
        ("", [1], 1, "no_answer"),
        (None, [1], 1, "no_answer"),
        ("(" * 100 + "1" + ")" * 100, [1], 1, "correct"),
        ("(" * 200 + "1" + ")" * 200, [1], 1, "too_long"),
    ],
)
def test_check_countdown(answer, numbers, target, reason):
    assert check_countdown(answer, numbers, target) == reason


@pytest.mark.parametrize(
    "attack",
    [
        "__import__('os').system('touch /tmp/pwned_by_countdown')",
        "exec('1')",
        "eval('24')",
        "(lambda: 24)()",
        "open('/etc/passwd').read()",
        "[24][0]",
        "24 if True else 0",
        "9**9**9**9",
    ],
)
def test_code_injection_is_refused_and_never_evaluated(attack, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec must never be called")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    assert check_countdown(attack, [24], 24) == "invalid_expression"


def test_very_long_input_is_refused_before_it_is_parsed(monkeypatch):
    # "quickly" as work, not time: a megabyte of arithmetic is measured, never handed to the parser
    parsed = []
    monkeypatch.setattr(expression_module.ast, "parse", lambda *args, **kwargs: parsed.append(args))
    assert check_countdown("1+" * 500_000 + "1", [1], 1) == "too_long"
    assert parsed == []


def test_reward_reads_the_final_answer_block_and_logs_reasons():
    logged = {}
    completions = [
        "<think>try 6*6-2</think><answer>(6 - 2) * 6</answer>",
        "<answer>(6 - 2) * 6</answer><answer>6 * 6</answer>",
        [{"role": "assistant", "content": "<answer>6 + 6 + 2</answer>"}],
        "(6 - 2) * 6",
    ]
    scores = countdown(completions, [[2, 6, 6]] * 4, [24] * 4, log_extra=logged.__setitem__)
    assert scores == [1.0, 0.0, 0.0, 0.0]
    assert logged == {"reason/countdown": ["correct", "uses_wrong_numbers", "not_equal", "no_answer"]}


def test_numpy_ints_from_a_dataset_are_fine_and_bad_columns_are_clear_errors():
    assert countdown(["<answer>3 * 4</answer>"], [np.array([3, 4])], [np.int64(12)]) == [1.0]
    with pytest.raises(ValueError, match="lists of ints"):
        countdown(["<answer>3 * 4</answer>"], [[3.0, 4]], [12])
    with pytest.raises(ValueError, match="1 completions but 2"):
        countdown(["x"], [[1], [2]], [1, 2])
