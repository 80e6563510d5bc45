"""The exact fast path of the math reward: answers made of plain numbers, compared without sympy.

Most gold answers in RL math data are plain numbers, and many others are percentages, sets or
intervals of plain numbers, radicals or polynomials. Those are read here into exact values
(`fractions.Fraction`, or the canonical forms of `rewards.algebra`) and compared with the meaning
math-verify gives them — a test checks the two agree — in microseconds instead of the tens of
milliseconds math-verify's LaTeX parser and sympy need. Anything else (`None` here) goes to math-verify.

Meanings (those of math-verify): `50\\%` equals `50` and `0.5`; a set ignores order and repeats; an
interval compares its brackets and endpoints, a tuple `(a, b, c)` its elements in order; a number may
carry units (`12 \\text{ cm}`); expressions (with `\\pi`) are equal when they are equal as functions, and
`y = <expression>` compares the expressions when both sides name the same variable. One deliberate difference: numbers are exact, so `0.3333333`
is not `\\frac{1}{3}` (math-verify rounds and accepts it); a decimal against an irrational gold
(`1.4142` against `\\sqrt{2}`) is left to math-verify.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from rewards.algebra import is_rational, polynomial

_NUMBER = r"[+-]?(?:[1-9]\d{0,2}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+"  # `0,500` is a decimal comma: not here
_PLAIN_NUMBER = re.compile(rf"^(?:\\?\$)?\s*({_NUMBER})$")
_PLAIN_FRACTION = re.compile(r"^([+-]?)\s*(\d{1,50})\s*/\s*(\d{1,50})$")
_LATEX_FRACTION = re.compile(r"^([+-]?)\s*\\[dtc]?frac\s*(?:\{\s*(\d{1,50})\s*\}|(\d))\s*(?:\{\s*(\d{1,50})\s*\}|(\d))$")
_UNITS = re.compile(r"^(.*?)\s*(?:\\(?:text|mbox|mathrm)\s*\{[A-Za-z\s.]*\}\s*)+$")
_PERCENT = re.compile(r"^(.*?)\s*\\?%$")
_SET = re.compile(r"^\\\{(.*)\\\}$")
_INTERVAL = re.compile(r"^([\[(])\s*([^,\[\]()]+?)\s*,\s*([^,\[\]()]+?)\s*([\])])$")
_TUPLE = re.compile(r"^\(([^()]*,[^()]*,[^()]*)\)$")
_EQUATION = re.compile(r"^([a-z])\s*=\s*([^=]+)$")
_INFINITY = {"\\infty": 1, "+\\infty": 1, "-\\infty": -1}
_DIGIT_GROUPS = re.compile(r"^([+-]?\d{1,3})((?:[ \u00a0]\d{3})+)(\.\d+)?$")
_NUMBER_FORM = re.compile(r"^[+-]?[\d.,]*\d[\d.,]*\s*(?:\\?%)?$")
_DECIMAL_COMMA = re.compile(r"^([+-]?0|[+-]?\d+(?=,(?:\d{1,2}|\d{4,})$)),(\d+)$")
_CURRENCY = re.compile(r"^(?:\\\$|\$)\s*(?=[+-]?[\d.])|(?<=\d)\s*(?:\\\$|\$)$")
MAX_LENGTH = 200
"""Longer answers are left to math-verify."""


@dataclass(frozen=True)
class Percent:
    """`p%`: math-verify reads it as `p` or as `p/100`."""

    value: Fraction


@dataclass(frozen=True)
class Algebraic:
    """A polynomial with radicals in canonical form (see `rewards.algebra`), e.g. `(x+1)^2` or `2\\sqrt{3}`."""

    terms: frozenset

    @property
    def rational(self) -> Fraction | None:
        """Its value when it is a plain fraction, else `None`."""
        polynomial = dict(self.terms)
        return polynomial.get(((), 1), Fraction(0)) if is_rational(polynomial) else None


@dataclass(frozen=True)
class Equation:
    """`y = <expression>`: math-verify compares the right-hand sides when the variables match."""

    variable: str
    value: Fraction | Algebraic


@dataclass(frozen=True)
class Interval:
    """An interval of plain numbers (`None` endpoints are infinite), with `low < high`."""

    low: Fraction | None
    high: Fraction | None
    closed_low: bool
    closed_high: bool


ExactValue = Fraction | Percent | frozenset | Interval | Algebraic | Equation | tuple


def normalize_number(answer: str) -> str:
    """Number formats written out: `14{,}916`, `16,\\!386`, `1\\,000` and `1 000` as `1,000`-style digits; currency signs off.

    Only whole-answer forms change (`1 000` is one thousand, never `1 · 000`); anything else is returned as is.

    >>> normalize_number("14{,}916"), normalize_number("\\\\$16,\\\\!386.20"), normalize_number("1 000"), normalize_number("1,000.99$")
    ('14,916', '16,386.20', '1000', '1,000.99')
    >>> normalize_number("0,111"), normalize_number("1000,99"), normalize_number("1,000"), normalize_number("11,\\\\! 111")
    ('0.111', '1000.99', '1,000', '11,111')
    >>> normalize_number("2 3"), normalize_number("x + 1"), normalize_number("$x >= 5$")
    ('2 3', 'x + 1', '$x >= 5$')
    """
    if len(answer) > 100:
        return answer
    text = re.sub(r",\s*\\!\s*", ",", answer.strip().replace("{,}", ",")).replace("\\!", "")
    decimal_comma = _DECIMAL_COMMA.match(text)
    if decimal_comma is not None:  # `1000,99`, `0,111`: a comma that cannot separate thousands
        text = f"{decimal_comma.group(1)}.{decimal_comma.group(2)}"
    text = re.sub(r"(?<=\d)\\[,;: ](?=\d{3}\b)", "", text)
    text = _CURRENCY.sub("", text).strip()
    groups = _DIGIT_GROUPS.match(text)
    if groups is not None:
        text = groups.group(1) + groups.group(2).replace(" ", "").replace("\u00a0", "") + (groups.group(3) or "")
    if text == answer.strip() or _NUMBER_FORM.match(text) is None:
        return answer
    return text


def plain_number(answer: str) -> Fraction | None:
    """The exact value of a plain number (`-12`, `1,000`, `0.25`, `$3.50`, `3/4`, `\\frac{3}{4}`), else `None`.

    >>> plain_number("1,000"), plain_number("-0.50"), plain_number("\\\\dfrac{3}{4}"), plain_number("\\\\frac12")
    (Fraction(1000, 1), Fraction(-1, 2), Fraction(3, 4), Fraction(1, 2))
    >>> plain_number("x+1") is None, plain_number("1/0") is None
    (True, True)
    """
    if len(answer) > 100:
        return None
    answer = answer.strip()
    match = _PLAIN_NUMBER.match(answer)
    if match is not None:
        return Fraction(match.group(1).replace(",", ""))
    match = _PLAIN_FRACTION.match(answer)
    if match is not None:
        sign, numerator, denominator = match.groups()
    else:
        match = _LATEX_FRACTION.match(answer)
        if match is None:
            return None
        sign, numerator_braced, numerator_digit, denominator_braced, denominator_digit = match.groups()
        numerator, denominator = numerator_braced or numerator_digit, denominator_braced or denominator_digit
    if int(denominator) == 0:
        return None
    value = Fraction(int(numerator), int(denominator))
    return -value if sign == "-" else value


def exact_value(answer: str) -> ExactValue | None:
    """The exact value of an answer made of plain numbers, or `None` when math-verify must read it.

    >>> exact_value("12 \\\\text{ cm}"), exact_value("25\\\\%")
    (Fraction(12, 1), Percent(value=Fraction(25, 1)))
    >>> sorted(exact_value("\\\\{3, 1, 3\\\\}"))
    [Fraction(1, 1), Fraction(3, 1)]
    >>> exact_value("(-\\\\infty, 2]")
    Interval(low=None, high=Fraction(2, 1), closed_low=False, closed_high=True)
    >>> exact_value("(x+1)^2") == exact_value("x^2 + 2x + 1"), exact_value("\\\\frac{6}{\\\\sqrt{4}}")
    (True, Fraction(3, 1))
    >>> exact_value("\\\\sin x") is None
    True
    """
    answer = answer.strip()
    if len(answer) > MAX_LENGTH:
        return None
    units = _UNITS.match(answer)
    if units is not None and units.group(1):
        answer = units.group(1)
    percent = _PERCENT.match(answer)
    if percent is not None:
        value = plain_number(percent.group(1))
        return None if value is None else Percent(value)
    number = plain_number(answer)
    if number is not None:
        return number
    braced = _SET.match(answer)
    if braced is not None:
        inside = braced.group(1).strip()
        elements = [plain_number(part) for part in inside.split(",")] if inside else []
        return None if any(element is None for element in elements) else frozenset(elements)
    interval = _INTERVAL.match(answer)
    if interval is not None:
        opening, low_text, high_text, closing = interval.groups()
        low, high = _endpoint(low_text, -1), _endpoint(high_text, +1)
        if low is False or high is False:
            return None
        if (low is None and opening == "[") or (high is None and closing == "]"):
            return None  # a closed infinite end: leave such oddities to math-verify
        if low is not None and high is not None and not low < high:
            return None  # (2, 1) is a point, not an interval
        return Interval(low, high, opening == "[", closing == "]")
    values = _TUPLE.match(answer)
    if values is not None:
        elements = tuple(_algebraic(part) for part in values.group(1).split(","))
        return None if None in elements else elements
    equation = _EQUATION.match(answer)
    if equation is not None:
        right = _algebraic(equation.group(2))
        return None if right is None else Equation(equation.group(1), right)
    return _algebraic(answer)


def _algebraic(text: str) -> Fraction | Algebraic | None:
    """A fraction or a canonical polynomial (`rewards.algebra`), or `None` outside that grammar."""
    number = plain_number(text)
    if number is not None:
        return number
    algebraic = polynomial(text)
    if algebraic is None:
        return None
    value = Algebraic(frozenset(algebraic.items()))
    return value.rational if value.rational is not None else value


def _endpoint(text: str, infinite_side: int) -> Fraction | None | bool:
    """A finite endpoint, `None` for the infinity on its own side, `False` for anything else."""
    if text.replace(" ", "") in _INFINITY:
        return None if _INFINITY[text.replace(" ", "")] == infinite_side else False
    value = plain_number(text)
    return False if value is None else value


def exact_verdict(gold: str, answer: str) -> bool | None:
    """Whether `answer` equals `gold`, when both are made of plain numbers of the same kind; else `None`.

    >>> exact_verdict("0.5", "50\\\\%"), exact_verdict("\\\\{1, 2\\\\}", "\\\\{2, 1\\\\}"), exact_verdict("[1, 2)", "(1, 2)")
    (True, True, False)
    >>> exact_verdict("(x+1)^2", "x^2+2x+1"), exact_verdict("\\\\sqrt{2}", "1.4142") is None
    (True, True)
    """
    gold_value, answer_value = exact_value(gold), exact_value(answer)
    if gold_value is None or answer_value is None:
        return None
    if isinstance(gold_value, Percent) and isinstance(answer_value, Percent):
        return gold_value.value == answer_value.value
    if isinstance(gold_value, Percent) and isinstance(answer_value, Fraction):
        return answer_value in (gold_value.value, gold_value.value / 100)
    if isinstance(answer_value, Percent) and isinstance(gold_value, Fraction):
        return gold_value in (answer_value.value, answer_value.value / 100)
    if {type(gold_value), type(answer_value)} == {Fraction, Algebraic}:  # a rational against an irrational or x
        written_as_decimal = gold if isinstance(gold_value, Fraction) else answer
        return None if "." in written_as_decimal else False  # 1.4142 against \sqrt{2}: math-verify rounds
    if type(gold_value) is not type(answer_value):
        return None  # e.g. {1} against 1: math-verify has its own rules
    if isinstance(gold_value, Equation) and gold_value.variable != answer_value.variable:
        return None  # y = 2x against x = y/2: math-verify may solve for the variable
    equal = gold_value == answer_value
    if not equal and isinstance(gold_value, (Algebraic, Equation, tuple)) and "." in gold + answer:
        return None  # decimals inside expressions: math-verify compares with rounding
    return equal
