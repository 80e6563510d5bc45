"""Countdown: reach `target` with an equation that uses each of `numbers` exactly once.

The equation is read from the final `<answer>` block; a trailing `= target` is allowed. Only integer
literals, `+ - * /` (also written `\\times`, `\\cdot`, `×`, `\\div`, `÷`; math delimiters are dropped) and
parentheses are accepted (no unary minus: a negated number is not one of the
given numbers). The expression is checked by walking its Python AST (`rewards.expression`) — never `eval`,
never sympy's `parse_expr` — and computed in exact rational arithmetic, so `(10 / 3) * 3` is exactly 10 and
`7 / 2` is never rounded to 3 or 4.
"""

from __future__ import annotations

import ast
import operator
import re
from collections import Counter
from collections.abc import Callable, Sequence

from rewards.expression import InvalidExpression, exact_value, parse_arithmetic
from rewards.extract import completion_text, last_answer_block
from rewards.registry import register

MAX_EXPRESSION_LENGTH = 300
"""Longer answers are refused before parsing; a real countdown equation is a few dozen characters."""

_SPELLED = {"\\times": "*", "\\cdot": "*", "×": "*", "·": "*", "\\div": "/", "÷": "/", "$": "", "\\(": "", "\\)": ""}
_OPERATOR_SPELLINGS = re.compile("|".join(re.escape(spelling) for spelling in _SPELLED))
"""A correct equation written with LaTeX or typographic operators (`6 \\times 4`, `8 ÷ 2`, `$…$`) is the same equation."""
_ALLOWED_CHARACTERS = re.compile(r"^[\d\s+\-*/()]*$")


def parse_equation(answer: str, target: int) -> ast.expr:
    """The AST of the expression in `answer`, after dropping a trailing `= target`.

    >>> ast.unparse(parse_equation("(1 + 2) * 4 = 12", 12))
    '(1 + 2) * 4'
    >>> ast.unparse(parse_equation("$(1 + 2) \\\\times 8 \\\\div 2$", 12))
    '(1 + 2) * 8 / 2'
    >>> parse_equation("__import__('os')", 12)
    Traceback (most recent call last):
    ...
    rewards.expression.InvalidExpression: characters other than digits, + - * / ( ) and spaces
    """
    expression = answer.strip()
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise InvalidExpression("too_long", f"longer than {MAX_EXPRESSION_LENGTH} characters")
    expression = _OPERATOR_SPELLINGS.sub(lambda match: _SPELLED[match.group(0)], expression).strip()
    if "=" in expression:
        expression, _, result = expression.partition("=")
        if result.strip() != str(target):
            raise InvalidExpression("invalid_expression", f"'= {result.strip()}' is not '= {target}'")
    if not _ALLOWED_CHARACTERS.match(expression):
        raise InvalidExpression("invalid_expression", "characters other than digits, + - * / ( ) and spaces")
    return parse_arithmetic(expression)


def numbers_used(expression: ast.expr) -> list[int]:
    """The integer literals of an expression, sorted.

    >>> numbers_used(parse_equation("7 * (3 + 3)", 42))
    [3, 3, 7]
    """
    return sorted(node.value for node in ast.walk(expression) if isinstance(node, ast.Constant))


def check_countdown(answer: str | None, numbers: Sequence[int], target: int) -> str:
    """`"correct"`, or why not: `no_answer`, `too_long`, `invalid_expression`, `uses_wrong_numbers`,
    `division_by_zero`, `not_equal`.

    >>> check_countdown("(6 - 2) * 6", [2, 6, 6], 24), check_countdown("6 * 4", [2, 6, 6], 24)
    ('correct', 'uses_wrong_numbers')
    """
    if answer is None or not answer.strip():
        return "no_answer"
    try:
        expression = parse_equation(answer, target)
        if Counter(numbers_used(expression)) != Counter(numbers):
            return "uses_wrong_numbers"
        value = exact_value(expression)
    except InvalidExpression as error:
        return error.reason
    return "correct" if value == target else "not_equal"


def _as_ints(values: Sequence) -> list[int]:
    """Integers from a dataset column (Python or numpy ints); anything else is a clear error."""
    try:
        if any(isinstance(value, bool) for value in values):
            raise TypeError("booleans are not numbers here")
        return [operator.index(value) for value in values]
    except TypeError as error:
        raise ValueError(f"countdown: 'numbers' must be lists of ints and 'target' an int, got {values!r}") from error


@register("countdown")
def countdown(
    completions: list,
    numbers: Sequence[Sequence[int]],
    target: Sequence[int],
    *,
    log_extra: Callable[[str, list], None] | None = None,
    **kwargs,
) -> list[float]:
    """1.0 if the final `<answer>` holds an equation that uses each of `numbers` once and equals `target`.

    Args:
        completions: strings or chat messages.
        numbers: the dataset column: for each completion, the list of integers to use.
        target: the dataset column: for each completion, the integer to reach.
        log_extra: TRL's logger; receives `reason/countdown` for each completion (see `check_countdown`).

    >>> countdown(["<answer>(6 - 2) * 6</answer>", "<answer>6 * 6 - 2</answer>"], [[2, 6, 6]] * 2, [24, 24])
    [1.0, 0.0]
    """
    if not (len(completions) == len(numbers) == len(target)):
        raise ValueError(
            f"countdown: {len(completions)} completions but {len(numbers)} 'numbers' and {len(target)} 'target'"
        )
    reasons = []
    for completion, given, goal in zip(completions, numbers, target):
        given, goal = _as_ints(given), _as_ints([goal])[0]
        reasons.append(check_countdown(last_answer_block(completion_text(completion)), given, goal))
    if log_extra is not None:
        log_extra("reason/countdown", reasons)
    return [1.0 if reason == "correct" else 0.0 for reason in reasons]
