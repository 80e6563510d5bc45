"""What an accuracy reward reads as *the answer*, for evaluation: a canonical answer and a lenient reading.

Evaluation needs two things from an accuracy reward besides its score, and a reward may provide them as attributes
(``rewards.build`` keeps them, with the reward's params bound):

* ``canonical_answer(completion, **row) -> str | None`` — the answer the reward reads, normalised so that two
  completions giving the same answer give the same string (maj@k votes on it); ``None`` when there is no answer.
* ``lenient_scores(completions, **columns) -> list[float | None]`` — the score by the most lenient reading, format
  ignored: any answer the grader can find (for math: the reward's own extraction with the last-number fallback, or
  the last number of the text, an unclosed ``<answer>`` block included). "Accuracy" against "lenient accuracy" tells
  "learned the task" from "learned the format".

This module gives both to ``math_accuracy`` and ``countdown``. A reward without them is voted on by its raw
extracted answer and has no lenient accuracy.

>>> canonical_answer_of(math_accuracy, "<answer>1/2</answer>"), canonical_answer_of(math_accuracy, "<answer>0.50</answer>")
('1/2', '1/2')
>>> math_accuracy.lenient_scores(["<answer> 3 + 6 = 9", "I got 9"], answer=["9", "9"]), math_accuracy(["I got 9"], ["9"])
([1.0, 1.0], [0.0])
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from rewards.countdown import countdown, numbers_used, parse_equation, _as_ints
from rewards.expression import InvalidExpression, exact_value
from rewards.extract import ANSWER_OPEN, completion_text, extract_answer, last_answer_block, last_number
from rewards.exact import plain_number
from rewards.math_reward import math_accuracy

_EXPRESSION_TAIL = re.compile(r"[\d+\-*/() ]+$")
"""The arithmetic expression that ends a piece of text (``so (6-2)*6`` → ``(6-2)*6``)."""
MATH_PARAMS = ("fallback_last_number", "plain_number_answer", "timeout", "max_answer_length")
"""math_accuracy's params that change how it reads or judges an answer."""


def has_answers(reward: Callable) -> bool:
    """Whether a reward's completions have an answer to vote on (maj@k). A reward that judges something else, a
    program run against tests, says so with ``reward.canonical_answer = None``.

    >>> from rewards import code_tests, math_accuracy
    >>> has_answers(math_accuracy), has_answers(code_tests), has_answers(lambda c, **k: [0.0])
    (True, False, True)
    """
    return not hasattr(reward, "canonical_answer") or reward.canonical_answer is not None


def canonical_answer_of(reward: Callable, completion: Any, **row) -> str | None:
    """The reward's canonical answer of a completion; without one, its generic extracted answer.

    >>> canonical_answer_of(lambda c, **k: [0.0], "so \\\\boxed{ 12 }")
    '12'
    """
    reader = getattr(reward, "canonical_answer", None)
    if reader is not None:
        return reader(completion, **row)
    answer = extract_answer(completion_text(completion))
    return " ".join(answer.split()) if answer else None


def math_canonical_answer(completion: Any, *, fallback_last_number: bool = False, **_) -> str | None:
    """math_accuracy's extracted answer, normalised: a plain number as its exact value (``0.50`` and ``1/2`` give
    ``1/2``), anything else with its whitespace collapsed.

    >>> math_canonical_answer("it is 12"), math_canonical_answer("it is 12", fallback_last_number=True)
    (None, '12')
    """
    answer = extract_answer(completion_text(completion), fallback_last_number=fallback_last_number)
    if answer is None:
        return None
    value = plain_number(answer)
    return str(value) if value is not None else " ".join(answer.split())


def math_lenient_scores(completions: list, answer: Sequence[Any], **params) -> list[float | None]:
    """1.0 when any answer the grader can read is right: the reward with the last-number fallback, or the last
    number of the whole text (an unclosed answer block included). ``None`` where the gold is unscorable."""
    kept = {key: value for key, value in params.items() if key in MATH_PARAMS}
    kept["fallback_last_number"] = True
    by_reward = math_accuracy(completions, answer, **kept)
    lasts = [last_number(completion_text(c)) for c in completions]
    by_last = math_accuracy([f"<answer>{n}</answer>" if n else "" for n in lasts], answer, **kept)
    return [None if a is None else max(a, b or 0.0) for a, b in zip(by_reward, by_last)]


def countdown_canonical_answer(completion: Any, *, numbers: Sequence[int] = (), target: int = 0, **_) -> str | None:
    """The value of the equation in the final answer block, when it uses exactly the given numbers (an equation
    that uses others is no vote).

    >>> countdown_canonical_answer("<answer>(6 - 2) * 6</answer>", numbers=[2, 6, 6], target=24)
    '24'
    >>> countdown_canonical_answer("<answer>6 * 4</answer>", numbers=[2, 6, 6], target=24) is None
    True
    """
    return _countdown_value(last_answer_block(completion_text(completion)), numbers, target)


def countdown_lenient_scores(completions: list, numbers: Sequence[Sequence[int]], target: Sequence[int],
                             **_) -> list[float]:
    """1.0 when the final answer block, an unclosed final ``<answer>``, or the left side of the last line with an
    ``=`` (its arithmetic tail) holds a right equation.

    >>> countdown_lenient_scores(["<answer>(6 - 2) * 6", "so (6-2)*6 = 24"], [[2, 6, 6]] * 2, [24, 24])
    [1.0, 1.0]
    """
    scores = []
    for completion, given, goal in zip(completions, numbers, target):
        text = completion_text(completion)
        candidates = [last_answer_block(text)]
        if ANSWER_OPEN in text:
            candidates.append(text[text.rfind(ANSWER_OPEN) + len(ANSWER_OPEN):])
        lines = [line for line in text.splitlines() if "=" in line]
        if lines:
            tail = _EXPRESSION_TAIL.search(lines[-1].split("=")[0])
            candidates.append(tail.group(0) if tail else None)
        goal = _as_ints([goal])[0]
        scores.append(float(any(_countdown_value(c, given, goal) == str(goal) for c in candidates)))
    return scores


def _countdown_value(expression: str | None, numbers: Sequence[int], target: int) -> str | None:
    if not expression or not expression.strip():
        return None
    try:
        parsed = parse_equation(expression.strip(), int(target))
        if sorted(numbers_used(parsed)) != sorted(_as_ints(list(numbers))):
            return None
        return str(exact_value(parsed))
    except (InvalidExpression, ValueError, TypeError):
        return None


math_accuracy.canonical_answer = math_canonical_answer
math_accuracy.lenient_scores = math_lenient_scores
countdown.canonical_answer = countdown_canonical_answer
countdown.lenient_scores = countdown_lenient_scores
