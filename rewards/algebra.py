"""Exact algebra for the math reward's fast path: polynomials with radicals, in a canonical form.

`polynomial("(3x+5)^2")` and `polynomial("9x^2+30x+25")` give the same value, so the two answers can be
compared without sympy. A value is a sum of monomials `c * x^a * y^b * sqrt(r)` with `c` a fraction and
`r` a square-free integer; square roots of distinct square-free integers are linearly independent over
the rationals, so two expressions are equal exactly when their canonical forms are.

The grammar is deliberately small; anything outside it returns `None` and goes to math-verify:
integers and decimals, single-letter lowercase variables (not `e` or `i`, which LaTeX readers take for
constants; no two letters in a row, which may be a unit or a word), `\\pi`, `+ - * /`, `\\cdot`, `\\times`,
implicit multiplication (`3x`, `2(x+1)`, `(x+1)(x-1)`), powers with a literal integer exponent up to
`MAX_EXPONENT`, parentheses and braces, `\\frac`/`\\dfrac`/`\\tfrac` and `\\sqrt` of a non-negative
rational. Division is by constants only. Results are capped at `MAX_TERMS` terms, so `(x+1)^{100000}`
is refused in microseconds rather than expanded.
"""

from __future__ import annotations

import re
from fractions import Fraction
from math import gcd

MAX_EXPONENT = 32
MAX_TERMS = 256
MAX_RADICAND = 10**8

Monomial = tuple[tuple[tuple[str, int], ...], int]
"""((variable, exponent), ...) sorted by variable, and the square-free radicand (1: no root)."""
Polynomial = dict[Monomial, Fraction]

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([a-zA-Z])|(\\[a-zA-Z]+|\\[,;!: ])|([-+*/^(){}]))")
_IGNORED_COMMANDS = frozenset({"\\left", "\\right", "\\,", "\\;", "\\!", "\\:", "\\ "})
_TIMES = frozenset({"\\cdot", "\\times"})
_FRACTIONS = frozenset({"\\frac", "\\dfrac", "\\tfrac"})
_CONSTANT_LETTERS = frozenset("ei")
_ONE: Monomial = ((), 1)
PI = "\\pi"
"""π is transcendental, so it behaves as a variable: 2π + π = 3π, and no polynomial in π is rational."""


class _Unsupported(Exception):
    """The text is outside the grammar: math-verify must read it."""


def polynomial(text: str) -> Polynomial | None:
    """The canonical form of an expression, or `None` if it is outside the grammar.

    >>> polynomial("(3x+5)^2") == polynomial("9x^2 + 30x + 25")
    True
    >>> polynomial("\\\\frac{\\\\sqrt{2}}{2}") == polynomial("\\\\frac{1}{\\\\sqrt{2}}")
    True
    >>> polynomial("2\\\\sqrt{3}") == polynomial("\\\\sqrt{12}"), polynomial("\\\\frac{4\\\\pi}{2}") == polynomial("2\\\\pi")
    (True, True)
    >>> polynomial("\\\\sin x") is None
    True
    """
    try:
        tokens = _tokenize(text)
        parser = _Parser(tokens)
        value = parser.expression()
        if parser.position != len(tokens):
            return None
        return value
    except (_Unsupported, ZeroDivisionError, RecursionError):
        return None


def is_rational(value: Polynomial) -> bool:
    """True for a constant without roots (a plain fraction).

    >>> is_rational(polynomial("3/4")), is_rational(polynomial("x")), is_rational(polynomial("\\\\sqrt{2}"))
    (True, False, False)
    """
    return all(monomial == _ONE for monomial in value)


def _tokenize(text: str) -> list[str]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _Unsupported(text[position:])
        position = match.end()
        token = match.group(match.lastindex)
        if match.group(3) is not None:
            if token in _IGNORED_COMMANDS:
                continue
            if token in _TIMES:
                token = "*"
        if match.group(2) is not None and (token in _CONSTANT_LETTERS or not token.islower()):
            raise _Unsupported(token)
        if tokens and match.group(2) is not None and _is_letter(tokens[-1]):
            raise _Unsupported("two letters in a row")
        if tokens and match.group(1) is not None and _is_number(tokens[-1]):
            raise _Unsupported("two numbers in a row")
        tokens.append(token)
    return tokens


def _is_letter(token: str) -> bool:
    return len(token) == 1 and token.isalpha()


def _is_number(token: str) -> bool:
    return token[0].isdigit()


class _Parser:
    """Recursive descent over the tokens; every method returns a canonical polynomial."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise _Unsupported(f"expected {expected!r}, got {token!r}")
        self.position += 1
        return token

    def expression(self) -> Polynomial:
        value = self.term()
        while self.peek() in ("+", "-"):
            sign = self.take()
            right = self.term()
            value = _add(value, right if sign == "+" else _scale(right, Fraction(-1)))
        return value

    def term(self) -> Polynomial:
        value = self.signed()
        implicit = divided = False
        while True:
            token = self.peek()
            if token == "*":
                self.take()
                value = _multiply(value, self.signed())
            elif token == "/":
                self.take()
                divided = True
                value = _divide(value, self.power())
            elif token is not None and (token in ("(", "{", "\\sqrt", PI) or _is_letter(token) or token in _FRACTIONS):
                implicit = True
                value = _multiply(value, self.power())
            else:
                break
            if implicit and divided:
                raise _Unsupported("'/' next to implicit multiplication is ambiguous")
        return value

    def signed(self) -> Polynomial:
        if self.peek() in ("+", "-"):
            sign = self.take()
            value = self.signed()
            return value if sign == "+" else _scale(value, Fraction(-1))
        return self.power()

    def power(self) -> Polynomial:
        base = self.atom()
        if self.peek() != "^":
            return base
        self.take()
        if self.peek() == "{":
            self.take()
            exponent = self.take()
            self.take("}")
        else:
            exponent = self.take_one_character()
        if not exponent.isdigit() or int(exponent) > MAX_EXPONENT:
            raise _Unsupported(f"exponent {exponent!r}")
        result = {_ONE: Fraction(1)}
        for _ in range(int(exponent)):
            result = _multiply(result, base)
        return result

    def atom(self) -> Polynomial:
        token = self.take()
        if _is_number(token):
            return {_ONE: Fraction(token)}
        if _is_letter(token) or token == PI:
            return {(((token, 1),), 1): Fraction(1)}
        if token in ("(", "{"):
            value = self.expression()
            self.take(")" if token == "(" else "}")
            return value
        if token in _FRACTIONS:
            numerator = self.group()
            return _divide(numerator, self.group())
        if token == "\\sqrt":
            return _square_root(self.group())
        raise _Unsupported(token)

    def group(self) -> Polynomial:
        """A `{...}` argument, or a single digit or letter (`\\frac12`)."""
        if self.peek() == "{":
            self.take()
            value = self.expression()
            self.take("}")
            return value
        token = self.take_one_character()
        if token.isdigit():
            return {_ONE: Fraction(token)}
        if _is_letter(token):
            return {(((token, 1),), 1): Fraction(1)}
        raise _Unsupported(token)

    def take_one_character(self) -> str:
        """Like TeX, an argument without braces is one character: `\\frac12` is 1/2, `x^12` is x^1 2."""
        token = self.take()
        if _is_number(token) and len(token) > 1:
            if not token.isdigit():
                raise _Unsupported(token)
            self.position -= 1
            self.tokens[self.position] = token[1:]
            return token[0]
        return token


def _add(left: Polynomial, right: Polynomial) -> Polynomial:
    result = dict(left)
    for monomial, coefficient in right.items():
        total = result.get(monomial, Fraction(0)) + coefficient
        if total:
            result[monomial] = total
        else:
            result.pop(monomial, None)
    return result


def _scale(value: Polynomial, factor: Fraction) -> Polynomial:
    return {monomial: coefficient * factor for monomial, coefficient in value.items()} if factor else {}


def _multiply(left: Polynomial, right: Polynomial) -> Polynomial:
    result: Polynomial = {}
    for (left_vars, left_root), left_coefficient in left.items():
        for (right_vars, right_root), right_coefficient in right.items():
            exponents = dict(left_vars)
            for variable, exponent in right_vars:
                exponents[variable] = exponents.get(variable, 0) + exponent
            common = gcd(left_root, right_root)  # sqrt(a) sqrt(b) = g sqrt((a/g)(b/g)), both square-free
            monomial = (tuple(sorted(exponents.items())), (left_root // common) * (right_root // common))
            total = result.get(monomial, Fraction(0)) + left_coefficient * right_coefficient * common
            if total:
                result[monomial] = total
            else:
                result.pop(monomial, None)
    if len(result) > MAX_TERMS:
        raise _Unsupported("too many terms")
    return result


def _divide(numerator: Polynomial, denominator: Polynomial) -> Polynomial:
    """Division by a single constant monomial `c sqrt(r)`: multiply by `sqrt(r) / (c r)`."""
    if len(denominator) != 1:
        raise _Unsupported("division by a sum or by zero")
    [((variables, root), coefficient)] = denominator.items()
    if variables:
        raise _Unsupported("division by a variable")
    return _multiply(numerator, {((), root): 1 / (coefficient * root)})


def _square_root(value: Polynomial) -> Polynomial:
    """sqrt of a non-negative rational p/q = sqrt(p q) / q, with the square part of p q taken out."""
    if not value:
        return {}
    if not is_rational(value):
        raise _Unsupported("root of a non-rational")
    number = value[_ONE]
    if number < 0:
        raise _Unsupported("root of a negative number")
    radicand = number.numerator * number.denominator
    if radicand > MAX_RADICAND:
        raise _Unsupported("radicand too large")
    outside, factor = 1, 2
    while factor * factor <= radicand:
        while radicand % (factor * factor) == 0:
            radicand //= factor * factor
            outside *= factor
        factor += 1
    return {((), radicand): Fraction(outside, number.denominator)}
