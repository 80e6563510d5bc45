"""Values a user writes in a job file, checked one way everywhere: the type a value must have and the name
that was meant.

Reward params (`rewards.registry`), task params (`rl_reasoner.tasks`), config fields and TRL's GRPO arguments
(`rl_reasoner.config`) all check their values with `coerce` and their names with `did_you_mean`, and read a
value given on the command line with `read_value`; each caller words its own error around them (which file,
which key, what to fix). The module lives in `rewards/` because the rewards need it and `rewards` never imports
`rl_reasoner`.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any

# What YAML 1.2 reads as a float but YAML 1.1 (PyYAML) leaves a string: "1e-5", "3E4" (no dot before the exponent).
_FLOAT_WITH_EXPONENT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class BadValue(ValueError):
    """A value of the wrong type. `expected` names the type, `value` is what came, `path` where (``a.b[2]``)."""

    def __init__(self, expected: str, value: Any, path: str = ""):
        super().__init__(f"expected {expected}, got {value!r}")
        self.expected, self.value, self.path = expected, value, path


def read_value(text: str) -> Any:
    """A value written on the command line (`--set key=VALUE`, `--param key=VALUE`), read as YAML reads it:
    nothing is null; a value that is not YAML is a `ValueError` that says so.

    >>> read_value("5"), read_value("[3, 5]"), read_value("false"), read_value(""), read_value("1e-5")
    (5, [3, 5], False, None, '1e-5')
    """
    import yaml

    if not text.strip():
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"{text!r} is not a YAML value ({' '.join(str(error).split())[:120]})") from None


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A " Did you mean 'x'?" hint for a misspelt `name`, or "" when nothing is close.

    >>> did_you_mean("arithmetc", ["arithmetic", "countdown"])
    " Did you mean 'arithmetic'?"
    >>> did_you_mean("zzz", ["arithmetic"])
    ''
    """
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def coerce(value: Any, hint: Any, path: str = "", build: Callable[[type, Any, str], Any] | None = None) -> Any:
    """`value` as the annotation `hint` asks, or `BadValue`.

    Checked, never guessed: an int is a float (and becomes one), a bool is not an int, a float written with an
    exponent and no dot (``1e-5``, which YAML 1.1 reads as a string) is a float; lists and tuples are
    interchangeable; an empty mapping may be written as nothing (None). A union takes the first member that fits;
    a `Literal` its listed values. A dataclass is built by `build(cls, value, path)` (the config's sections);
    a hint this function does not know (a class it cannot check) accepts the value as it is.

    >>> coerce(3, float), coerce("1e-5", float), coerce(None, int | None), coerce([1, 2], list[float])
    (3.0, 1e-05, None, [1.0, 2.0])
    >>> coerce(True, int)
    Traceback (most recent call last):
    rewards.user_values.BadValue: expected int, got True
    >>> try:
    ...     coerce(["a", 2], list[str], "names")
    ... except BadValue as error:
    ...     print(error.path, error)
    names[1] expected str, got 2
    """
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(hint)
        if value is None and type(None) in members:
            return None
        errors = []
        for member in members:
            if member is type(None):
                continue
            try:
                return coerce(value, member, path, build)
            except ValueError as error:  # BadValue, or the caller's own error from `build`
                errors.append(error)
        raise errors[0]
    if origin is typing.Literal:
        if value in typing.get_args(hint):
            return value
        raise BadValue(f"one of {', '.join(map(repr, typing.get_args(hint)))}", value, path)
    if hint is type(None):
        if value is None:
            return None
        raise BadValue("nothing (null)", value, path)
    if dataclasses.is_dataclass(hint):
        if build is None:
            raise BadValue(f"a {hint.__name__}", value, path)
        return build(hint, value, path)
    if hint in (list, tuple) or origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise BadValue("a list", value, path)
        items = [arg for arg in typing.get_args(hint) if arg is not Ellipsis]
        if len(items) != 1:  # bare list, or a fixed-shape tuple: the container is checked, not its items
            return value
        return type(value)(coerce(item, items[0], f"{path}[{i}]", build) for i, item in enumerate(value))
    if hint is dict or origin is dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise BadValue("a mapping", value, path)
        return value
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _FLOAT_WITH_EXPONENT.fullmatch(value.strip()):
            return float(value)
        raise BadValue("float", value, path)
    if hint is int and isinstance(value, bool):
        raise BadValue("int", value, path)
    if isinstance(hint, type):
        if isinstance(value, hint):
            return value
        raise BadValue(hint.__name__, value, path)
    return value
