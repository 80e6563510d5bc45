"""Integer arithmetic read safely: text → a checked Python AST → its exact value. Never `eval`.

The one evaluator of arithmetic in the project: the countdown reward reads a model's equation with it
(`rewards.countdown.parse_equation` adds what countdown asks of the text), the arithmetic task computes its gold
answers with it. Only integer literals, `+ - * /` and parentheses pass the check (unary minus only when asked);
values are exact fractions, so `(10 / 3) * 3` is exactly 10 and `7 / 2` is never rounded.
"""

from __future__ import annotations

import ast
import operator
from fractions import Fraction

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


class InvalidExpression(ValueError):
    """Text that is not an expression of integers, `+ - * /` and parentheses; `reason` is a short code
    (`invalid_expression`, `too_long`, `division_by_zero`, ...) and the message says why."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


def parse_arithmetic(text: str, *, negation: bool = False) -> ast.expr:
    """The AST of `text`, checked: integer literals, `+ - * /`, parentheses, and `-x` when `negation` is True.

    >>> ast.unparse(parse_arithmetic("(1 + 2) * 4"))
    '(1 + 2) * 4'
    >>> parse_arithmetic("3 - -2")
    Traceback (most recent call last):
    rewards.expression.InvalidExpression: UnaryOp is not allowed
    >>> parse_arithmetic("__import__('os').system('x')")
    Traceback (most recent call last):
    rewards.expression.InvalidExpression: Call is not allowed
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise InvalidExpression("invalid_expression", f"not an expression: {error}") from None
    for node in ast.walk(tree.body):
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            continue
        if negation and isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            continue
        if isinstance(node, ast.Constant) and type(node.value) is int:
            continue
        if type(node) in _BINARY or (negation and isinstance(node, ast.USub)):
            continue
        raise InvalidExpression("invalid_expression", f"{type(node).__name__} is not allowed")
    return tree.body


def exact_value(expression: ast.expr) -> Fraction:
    """The exact value of an expression checked by `parse_arithmetic`; division by zero raises.

    >>> exact_value(parse_arithmetic("10 / 3 * 3")), exact_value(parse_arithmetic("7 + 5 * -2", negation=True))
    (Fraction(10, 1), Fraction(-3, 1))
    """
    if isinstance(expression, ast.Constant):
        return Fraction(expression.value)
    if isinstance(expression, ast.UnaryOp):
        return -exact_value(expression.operand)
    assert isinstance(expression, ast.BinOp)
    left, right = exact_value(expression.left), exact_value(expression.right)
    if isinstance(expression.op, ast.Div) and right == 0:
        raise InvalidExpression("division_by_zero", "division by zero")
    return _BINARY[type(expression.op)](left, right)
