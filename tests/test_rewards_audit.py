"""The audit of the graders that can mis-score, one test per row of the tables in docs/rewards.md."""

import json

import pytest

from rewards.countdown import countdown
from rewards.format import format_reward
from rewards.reasoning_gym import reasoning_gym_reward


def scored(function, completion, **columns):
    logged = {}
    score = function([completion], log_extra=logged.__setitem__, **{k: [v] for k, v in columns.items()})[0]
    return score, next(iter(logged.values()))[0]


COUNTDOWN = [
    # (answer, numbers, target, score, reason)
    ("(6 - 2) * 6", [2, 6, 6], 24, 1.0, "correct"),
    ("6 * 4", [2, 6, 6], 24, 0.0, "uses_wrong_numbers"),  # 4 is not given, 2 and one 6 unused
    ("(6 - 2) * 6 * 1", [2, 6, 6], 24, 0.0, "uses_wrong_numbers"),  # a number not given
    ("6 * 6 - 6 * 2", [2, 6, 6], 24, 0.0, "uses_wrong_numbers"),  # a number used twice
    ("6 / (2 - 2) + 4", [2, 2, 4, 6], 6, 0.0, "division_by_zero"),
    ("6 / (1 - 3 / 4)", [1, 3, 4, 6], 24, 1.0, "correct"),  # exact fractions in between
    ("7 / 2", [2, 7], 3, 0.0, "not_equal"),  # never rounded
    ("9 ** 9 ** 9", [9, 9, 9], 0, 0.0, "invalid_expression"),  # huge power: refused before evaluation
    ("-2 + 6 * 6", [2, 6, 6], 34, 0.0, "invalid_expression"),  # unary minus: -2 is not a given number
    ("(6 - 2) * 6 = 24", [2, 6, 6], 24, 1.0, "correct"),
    ("(6 - 2) * 6 = 25", [2, 6, 6], 24, 0.0, "invalid_expression"),
    (r"$(6 - 2) \times 6$", [2, 6, 6], 24, 1.0, "correct"),  # LaTeX operators and delimiters
    ("48 ÷ 2", [2, 48], 24, 1.0, "correct"),
    ("(" * 200 + "1" + ")" * 200, [1], 1, 0.0, "too_long"),
]


@pytest.mark.parametrize(("answer", "numbers", "target", "score", "reason"), COUNTDOWN)
def test_countdown_audit(answer, numbers, target, score, reason):
    completion = f"<think>try</think><answer>{answer}</answer>"
    assert scored(countdown, completion, numbers=numbers, target=target) == (score, reason)


FORMAT = [
    # (completion, params, score, reason)
    ("<think>a</think><answer>4</answer>", {}, 1.0, "ok"),
    ("  \n<think>a</think>\n\n<answer> 4 </answer>\n ", {}, 1.0, "ok"),  # whitespace around blocks
    ("a</think><answer>4</answer>", {"prefilled_think": True}, 1.0, "ok"),
    ("<think>a</think><answer>4</answer>", {"prefilled_think": True}, 0.0, "multiple_think"),  # opened twice
    ("<think>a<think>b</think></think><answer>4</answer>", {}, 0.0, "multiple_think"),  # nested
    ("<think>a <answer>3</answer></think><answer>4</answer>", {}, 0.0, "multiple_answer"),
    ("<think>a</think><answer><answer>4</answer></answer>", {}, 0.0, "multiple_answer"),
    ("<think></think><answer>4</answer>", {}, 0.0, "empty_think"),
    ("<think>a</think><answer>4</answer> extra", {}, 0.0, "text_after_answer"),
    ("<THINK>a</THINK><ANSWER>4</ANSWER>", {}, 0.0, "missing_think"),  # tags are case-sensitive
    ("<think>a</think> 4", {"partial": True}, 0.25, "missing_answer"),
    ("...within <think> </think> and <answer> </answer> tags", {"partial": True}, 0.0, "text_before_think"),
]


@pytest.mark.parametrize(("completion", "params", "score", "reason"), FORMAT)
def test_format_reward_audit(completion, params, score, reason):
    logged = {}
    assert format_reward([completion], log_extra=logged.__setitem__, **params) == [score]
    assert logged["reason/format_reward"] == [reason]


ENTRY = json.dumps({"question": "?", "answer": "30", "metadata": {}, "source": None})
REASONING_GYM = [
    # (completion, mode, score, reason)
    ("<answer>30</answer>", "strict", 1.0, "correct"),
    ("<answer> 30 </answer>", "strict", 1.0, "correct"),
    ("<answer>x 30</answer>", "strict", 0.0, "partial credit 0.5 not counted (strict)"),
    ("<answer>x 30</answer>", "native", 0.5, "partial credit 0.5"),
    ("<answer>30</answer><answer>31</answer>", "strict", 0.0, "wrong"),  # the final block counts
    ("30", "strict", 0.0, "no final <answer> block"),
]


@pytest.mark.parametrize(("completion", "mode", "score", "reason"), REASONING_GYM)
def test_reasoning_gym_audit(completion, mode, score, reason):
    pytest.importorskip("reasoning_gym")
    logged = {}
    result = reasoning_gym_reward([completion], ["leg_counting"], [ENTRY], mode=mode, log_extra=logged.__setitem__)
    assert (result, logged["reason/reasoning_gym"]) == ([score], [reason])


def test_reasoning_gym_unreadable_entry_is_none():
    pytest.importorskip("reasoning_gym")
    logged = {}
    assert reasoning_gym_reward(["<answer>30</answer>"], ["leg_counting"], ["{not json"], log_extra=logged.__setitem__) == [None]
    assert logged["reason/reasoning_gym"][0].startswith("entry not scorable")
