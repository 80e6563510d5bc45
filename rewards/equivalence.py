"""Symbolic equivalence: math-verify's verdict on one (gold, answer) pair, run inside the worker processes.

`rewards.math_reward` decides what it can without sympy (extraction, the exact fast path, its cache) and sends
the rest here through the warm worker pool (`rewards._worker_pool`): `verify_equivalence` is the function each
worker calls, `warm_up` what it runs before its first deadline. Nothing here keeps state between calls but
math-verify's parse cache.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

from rewards.exact import normalize_number

_ANCHORS = ("$", "\\(", "\\[", "\\boxed", "\\fbox")
_TEXT_ARGUMENT = re.compile(r"\\(?:text|textbf|mathrm|mbox|operatorname|begin|end)\s*\{[^{}]*\}")
_COMMAND = re.compile(r"\\[A-Za-z]+")
WORD = re.compile(r"[A-Za-z]{3,}")
"""A word of three letters or more: prose around an answer, or a gold made of words."""


def math_verify_input(text: str) -> str:
    """The text as math-verify's extraction should see it: LaTeX in `$…$`, prose as it is.

    A bare answer (`\\frac12`, `x \\geq 5`) is wrapped in `$…$`; text that already has math delimiters or
    a `\\boxed{}`, and prose (a word of three letters or more outside `\\text{}` and commands) are left
    for math-verify to find the math in: wrapping prose would read its words as products of letters.

    >>> math_verify_input(r"\\frac12"), math_verify_input("Therefore $x = 5$."), math_verify_input("5 apples left")
    ('$\\\\frac12$', 'Therefore $x = 5$.', '5 apples left')
    """
    return text if is_prose(text) else f"${text}$"


def is_prose(text: str | None) -> bool:
    """Text in which math-verify must find the math: it has math delimiters or a box, or words."""
    if text is None:
        return False
    if any(anchor in text for anchor in _ANCHORS):
        return True
    return bool(WORD.search(_COMMAND.sub(" ", _TEXT_ARGUMENT.sub(" ", text))))


def verify_equivalence(gold: str, predicted: str, set_relation: bool = True) -> str:
    """math-verify's verdict on one pair: "correct", "wrong", "gold_unparseable" or "answer_unparseable".

    Runs in a worker process; math-verify's own `signal.alarm` timeouts are off (the pool bounds the time).
    A gold from which math-verify extracts nothing is unparseable; a gold that sympy cannot read ("(") is
    matched by its text only, and is unparseable for any other answer (a mismatch of texts decides nothing);
    where sympy fails on the answer, math-verify's string comparison decides (`12:00` equals `12:00`).

    >>> verify_equivalence(r"\\frac{1}{2}", "0.5"), verify_equivalence("[1, 2)", "[1, 2]")
    ('correct', 'wrong')
    >>> verify_equivalence("5", "Therefore $x = 5$ is the solution."), verify_equivalence("12:00", "12:00")
    ('correct', 'correct')
    """
    from math_verify import verify

    gold_parsed = _parse(math_verify_input(normalize_number(gold)))
    if not gold_parsed:
        return "gold_unparseable"
    predicted_parsed = _parse(math_verify_input(normalize_number(predicted)))
    gold_is_text = all(isinstance(value, str) for value in gold_parsed)
    if gold_is_text:  # sympy cannot read the gold: only its text can match, and a mismatch decides nothing
        same_text = bool(predicted_parsed) and verify(gold_parsed, predicted_parsed, timeout_seconds=None)
        return "correct" if same_text else "gold_unparseable"
    if not predicted_parsed:
        return "answer_unparseable"
    if _undefined(predicted_parsed) and not _undefined(gold_parsed):
        return "wrong"  # `4 0/0` is no number; sympy's verdict on it depends on its caches, so we decide here
    equal = verify(gold_parsed, predicted_parsed, allow_set_relation_comp=set_relation, timeout_seconds=None)
    return "correct" if equal else "wrong"


def _undefined(parsed: list) -> bool:
    """Whether a parsed value divides by zero (`0/0`, `4 0/0`, `x/(x-x)`), evaluated or not."""
    from sympy import Pow, S

    for value in parsed:
        if isinstance(value, str) or not hasattr(value, "has"):
            continue
        if value.has(S.NaN, S.ComplexInfinity):
            return True
        if any(power.base.is_zero and power.exp.is_negative for power in value.atoms(Pow)):
            return True
    return False


WARM_UP_PAIRS = [
    (r"\tan^2 y + 1", r"\sec^2 y"),
    (r"\frac{\sqrt{3}}{2}", r"The answer is $\dfrac{1}{2}\sqrt{3}$."),
    ("(0, 9]", r"\left[ 0, 9 \right)"),
    (r"\{1, 2\}", r"\boxed{1} and \boxed{2}"),
    (r"(3, \frac{\pi}{2})", r"\left( 3, \frac{\pi}{2} \right)"),
    (r"x \in [-2, 7]", r"-2 \le x \le 7"),
    (r"y = 2x + 1", r"$y=1+2x$"),
    (r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}"),
    (r"\text{(C)}", "C"),
    (r"25\%", "0.25"),
    (r"3 + 4i", r"4i + 3"),
    (r"x^2 + 2x + 1 = 0", r"(x+1)^2 = 0"),
]
"""Typical answer shapes: verifying them once builds the LaTeX parser's lazily built tables (its first parse of
each construct costs ~0.1-0.5 s), so that real answers do not pay it inside their deadline."""


def warm_up() -> None:
    """Import math-verify and sympy and verify the typical answer shapes, before the worker takes its first deadline."""
    for name in ("math_verify.parser", "math_verify.grader"):
        logging.getLogger(name).setLevel(logging.ERROR)  # "timeout is disabled": the pool bounds the time
    for gold, predicted in WARM_UP_PAIRS:
        verify_equivalence(gold, predicted)
    _parse.cache_clear()


@lru_cache(maxsize=1)
def _extraction_config() -> list:
    """LaTeX (boxes first) and plain expressions, as math-verify's tests read; one object, so its regexes are built once."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    return [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]


@lru_cache(maxsize=4096)
def _parse(text: str) -> list:
    from math_verify import parse

    return parse(text, _extraction_config(), parsing_timeout=None)
