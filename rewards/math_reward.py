"""Math accuracy: is the final answer mathematically equivalent to the gold answer?

How a completion is scored:

1. Its final answer is extracted (`rewards.extract.extract_answer`): the last `<answer>` block, else the
   last `\\boxed{}`, else "the answer is …", else — only with `fallback_last_number=True` — the last
   number. Only that answer is read: an intermediate `\\boxed{}` never counts (math-verify alone would
   join every `\\boxed{}` of the text into one set and fail a correct final answer).
2. Fast path: when the gold and the answer are both made of plain numbers (`42`, `-1,000`, `0.25`,
   `\\frac{3}{4}`, `25\\%`, `12 \\text{ cm}`, `\\{1, 2\\}`, `[1, 2)`), they are compared exactly, without
   sympy (`rewards.exact`), with the meaning math-verify gives them.
3. Otherwise math-verify decides (fractions vs decimals, percentages, LaTeX, sets, intervals, matrices,
   units), in a pool of worker processes (`rewards._worker_pool`) that scores a batch in parallel and
   gives every verification a hard deadline: a pathological answer (`9^{9^{9^9}}`, deeply nested LaTeX)
   scores 0.0 with reason "timeout" once `timeout` seconds have passed, from any thread of any process.

For calculation tasks, `plain_number_answer=True` refuses an answer that merely restates the question:
with a numeric gold only a plain number can be correct, so `<answer>10 + 5</answer>` for 15 scores 0.0
(reason "not_a_number"). Without it the embedded default learned within ten steps to copy the question
into the answer block, which math-verify rightly finds equal to 15.

Equivalence follows math-verify, with one documented choice for percentages: `50\\%` matches a gold
of `50` *and* a gold of `0.5` (math-verify accepts both readings). Plain numbers are compared exactly:
`0.3333333` is not `1/3` (math-verify would round and accept it).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from rewards._worker_pool import shared_pool
from rewards.exact import exact_verdict, plain_number
from rewards.extract import completion_text, extract_answer, gold_text
from rewards.registry import register

DEFAULT_TIMEOUT_S = 3.0
"""Hard bound per verification. Real answers take math-verify a few ms (p99 ~0.1 s, see bench/rewards.py);
3 s leaves a wide margin on a loaded machine and caps what one pathological answer costs a step."""
MAX_ANSWER_LENGTH = 1000
"""Extracted answers longer than this are not verified (reason "answer_too_long"): no real answer is that long."""

VERIFY_FUNCTION = "rewards.math_reward:verify_equivalence"
_CACHE_SIZE = 65_536
_CACHEABLE_LENGTH = 200
_verdicts: OrderedDict[tuple[str, str], str] = OrderedDict()
_verdicts_lock = threading.Lock()


@register("math_accuracy")
def math_accuracy(
    completions: list,
    answer: Sequence[Any],
    *,
    fallback_last_number: bool = False,
    plain_number_answer: bool = False,
    timeout: float = DEFAULT_TIMEOUT_S,
    max_answer_length: int = MAX_ANSWER_LENGTH,
    log_extra: Callable[[str, list], None] | None = None,
    **kwargs,
) -> list[float | None]:
    """1.0 if the final answer equals the gold `answer` mathematically, else 0.0; `None` if the gold does not parse.

    Args:
        completions: strings or chat messages.
        answer: the dataset column: one gold answer (string or number) per completion.
        fallback_last_number: when no answer block, `\\boxed{}` or "the answer is" is found, read the last number.
        plain_number_answer: when the gold is a plain number, so must the answer be (`10 + 5` is not 15).
        timeout: hard bound in seconds on each math-verify verification (the fast path needs none).
        max_answer_length: longer extracted answers score 0.0 unverified.
        log_extra: TRL's logger; receives `reason/math_accuracy` for each completion: "correct", "wrong",
            "no_answer", "not_a_number", "answer_too_long", "answer_unparseable", "timeout", "gold_unparseable"
            or "error".

    >>> math_accuracy(["<answer>0.5</answer>", r"so \\boxed{\\frac{1}{3}}", "no idea"], ["1/2", "1/2", "2"])
    [1.0, 0.0, 0.0]
    >>> math_accuracy(["<answer>10 + 5</answer>", "<answer>15</answer>"], [15, 15], plain_number_answer=True)
    [0.0, 1.0]
    """
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"math_accuracy: parameter 'timeout' must be a number of seconds > 0, got {timeout!r}")
    if isinstance(max_answer_length, bool) or not isinstance(max_answer_length, int) or max_answer_length < 1:
        raise ValueError(f"math_accuracy: parameter 'max_answer_length' must be an int >= 1, got {max_answer_length!r}")
    if len(completions) != len(answer):
        raise ValueError(f"math_accuracy: {len(completions)} completions but {len(answer)} values in 'answer'")

    reasons: list[str | None] = [None] * len(completions)
    to_verify: dict[tuple[str, str], list[int]] = {}
    for index, (completion, gold) in enumerate(zip(completions, answer)):
        gold_string = gold_text(gold)
        predicted = extract_answer(completion_text(completion), fallback_last_number=fallback_last_number)
        if gold_string is None:
            reasons[index] = "gold_unparseable"
        elif predicted is None:
            reasons[index] = "no_answer"
        elif len(predicted) > max_answer_length:
            reasons[index] = "answer_too_long"
        elif plain_number_answer and plain_number(gold_string) is not None and plain_number(predicted) is None:
            reasons[index] = "not_a_number"
        else:
            reasons[index] = _fast_verdict(gold_string, predicted)
            if reasons[index] is None:
                to_verify.setdefault((gold_string, predicted), []).append(index)

    for pair, reason in _verify_pairs(list(to_verify), timeout).items():
        for index in to_verify[pair]:
            reasons[index] = reason

    if log_extra is not None:
        log_extra("reason/math_accuracy", list(reasons))
    return [None if reason == "gold_unparseable" else float(reason == "correct") for reason in reasons]


def _fast_verdict(gold: str, predicted: str) -> str | None:
    """The exact verdict for answers of plain numbers, or a cached one, or `None` if math-verify must decide."""
    exact = exact_verdict(gold, predicted)
    if exact is not None:
        return "correct" if exact else "wrong"
    with _verdicts_lock:
        return _verdicts.get((gold, predicted))


def _verify_pairs(pairs: list[tuple[str, str]], timeout: float) -> dict[tuple[str, str], str]:
    """Verdicts for (gold, answer) pairs from math-verify, computed in parallel worker processes."""
    if not pairs:
        return {}
    outcomes = shared_pool(VERIFY_FUNCTION).map(pairs, timeout=timeout)
    verdicts = {}
    for pair, outcome in zip(pairs, outcomes):
        verdicts[pair] = outcome.value if outcome.status == "ok" else outcome.status
        if outcome.status == "ok" and len(pair[0]) + len(pair[1]) <= _CACHEABLE_LENGTH:
            with _verdicts_lock:
                _verdicts[pair] = outcome.value
                if len(_verdicts) > _CACHE_SIZE:
                    _verdicts.popitem(last=False)
    return verdicts


def clear_cache() -> None:
    """Forget the verdicts remembered from earlier batches (for benchmarks and tests)."""
    with _verdicts_lock:
        _verdicts.clear()


# ---- runs inside the worker processes ------------------------------------------------------------


def verify_equivalence(gold: str, predicted: str) -> str:
    """math-verify's verdict on one pair: "correct", "wrong", "gold_unparseable" or "answer_unparseable".

    Runs in a worker process; math-verify's own `signal.alarm` timeouts are off (the pool bounds the time).
    A text that math-verify cannot turn into a sympy object counts as unparseable (math-verify would
    otherwise fall back to comparing raw strings).

    >>> verify_equivalence(r"\\frac{1}{2}", "0.5"), verify_equivalence("[1, 2)", "[1, 2]")
    ('correct', 'wrong')
    """
    from math_verify import verify

    gold_parsed = _parse(gold)
    if not gold_parsed:
        return "gold_unparseable"
    predicted_parsed = _parse(predicted)
    if not predicted_parsed:
        return "answer_unparseable"
    return "correct" if verify(gold_parsed, predicted_parsed, timeout_seconds=None) else "wrong"


@lru_cache(maxsize=4096)
def _parse(answer: str) -> list:
    from math_verify import parse

    for name in ("math_verify.parser", "math_verify.grader"):
        logging.getLogger(name).setLevel(logging.ERROR)  # "timeout is disabled": the pool bounds the time
    return parse(f"${answer}$", fallback_mode="no_fallback", parsing_timeout=None)
