"""The reward registry: names → reward functions, and `build(spec)` → a reward with its params bound.

Three ways to find a reward:

- by a registered name: `@register("my_reward")` on a function with TRL's reward signature;
- by import path: `"package.module:function"`;
- from another installed package, through the entry-point group `rl_reasoner.rewards`
  (`my_reward = "my_package.rewards:my_reward"` in its `pyproject.toml`).

A *factory* (`@register("name", factory=True)`) is a function that takes the params and returns the
reward function: this is how TRL's shaping rewards (`get_soft_overlong_punishment(...)`) are reused.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any, TypeVar

from rewards.user_values import BadValue, coerce, did_you_mean

ENTRY_POINT_GROUP = "rl_reasoner.rewards"
TRL_EXTRAS = frozenset({"completions", "prompts", "completion_ids", "trainer_state", "log_extra", "log_metric"})
"""Arguments TRL passes to every reward; they cannot be set from a config."""
ANSWER_READERS = ("canonical_answer", "lenient_scores")
"""Optional attributes of a reward that evaluation reads (see `rewards/answers.py`); `build` binds the params."""
_OPTIONAL_BUILTINS = ("rewards.reasoning_gym",)
"""Modules of this package that register rewards, imported on the first lookup if they exist."""

RewardFunction = Callable[..., list]
F = TypeVar("F", bound=Callable)


@dataclass(frozen=True)
class RewardEntry:
    """One registered reward."""

    name: str
    """The name configs use; also TRL's metric name (`rewards/<name>/mean`)."""
    function: Callable
    """The reward function, or for a factory the function that makes it from the params."""
    factory: bool = False
    """True when `function(**params)` returns the reward function."""


class UnknownRewardError(KeyError, ValueError):
    """No reward has this name; the message lists the names there are."""

    def __str__(self) -> str:
        return str(self.args[0])


_REGISTRY: dict[str, RewardEntry] = {}
_PLUGIN_ERRORS: dict[str, Exception] = {}
_LOADED_ENTRY_POINTS: set[tuple[str, str]] = set()
_LOCK = threading.RLock()
_BUILTINS_LOADED = False


def register(name: str | None = None, *, factory: bool = False) -> Callable[[F], F]:
    """Decorator: register a reward function (or a factory of one) under `name` (default: its `__name__`).

    >>> @register("demo_always_one")
    ... def always_one(completions, **kwargs):
    ...     return [1.0] * len(completions)
    >>> get("demo_always_one") is always_one
    True
    """

    def decorate(function: F) -> F:
        entry_name = name or getattr(function, "__name__", None)
        if not entry_name or not isinstance(entry_name, str):
            raise ValueError(f"cannot register {function!r}: give it a name, e.g. @register('my_reward')")
        if ":" in entry_name:
            raise ValueError(f"reward name {entry_name!r} must not contain ':' (that marks an import path)")
        if not callable(function):
            raise TypeError(f"cannot register {entry_name!r}: {function!r} is not callable")
        with _LOCK:
            existing = _REGISTRY.get(entry_name)
            if existing is not None and not _same_function(existing.function, function):
                raise ValueError(
                    f"reward name {entry_name!r} is already registered to "
                    f"{_describe(existing.function)}; pick another name for {_describe(function)}"
                )
            _REGISTRY[entry_name] = RewardEntry(entry_name, function, factory)
        return function

    return decorate


def get(name: str) -> Callable:
    """The reward registered as `name` (for a factory: the factory), or the function at `"module:function"`.

    Raises `UnknownRewardError` (a `KeyError` and a `ValueError`) listing the available names.
    """
    return _entry(name).function


def available() -> list[str]:
    """Sorted names of all registered rewards, installed plugins included."""
    _load_builtins()
    _load_entry_points()
    with _LOCK:
        return sorted(_REGISTRY)


def build(spec: str | Mapping[str, Any] | Any) -> BoundReward:
    """A ready-to-use reward from a config entry: `"name"` or `{"name": ..., "weight": ..., "params": {...}}`.

    `weight` is the trainer's business and is ignored here. The result is a `BoundReward` whose
    `__name__` is the reward's name. Unknown names and parameters, and parameters of the wrong type,
    raise `ValueError`s that name the reward and the parameter.

    >>> reward = build({"name": "format_reward", "params": {"partial": True}})
    >>> reward.__name__, reward(["<think>x</think><answer>4</answer>", "<answer>4</answer>"])
    ('format_reward', [1.0, 0.25])
    """
    name, params = _read_spec(spec)
    entry = _entry(name)
    params = _check_params(entry, params)
    if entry.factory:
        try:
            function = entry.function(**params)
        except (TypeError, ValueError) as error:
            raise ValueError(f"reward {entry.name!r}: bad params {params!r}: {error}") from error
        return BoundReward(entry.name, function, {})
    return BoundReward(entry.name, entry.function, params)


class BoundReward:
    """A reward function with params bound from a config; picklable, and named for TRL's metrics.

    Calling it passes the params as keyword arguments (they win over dataset columns of the same name),
    and files the reasons the reward logs under `reason/<its name>`, so the same reward used twice under
    two names keeps two separate reason columns.
    """

    def __init__(self, name: str, function: Callable, params: Mapping[str, Any]):
        functools.update_wrapper(self, function)
        self.__name__ = name
        self.__qualname__ = name
        self.function = function
        self.params = dict(params)
        for reader in ANSWER_READERS:  # kept with the params bound, as the call binds them (rewards/answers.py)
            if callable(getattr(function, reader, None)):
                setattr(self, reader, functools.partial(_with_params, getattr(function, reader), self.params))
            elif hasattr(function, reader) and getattr(function, reader) is None:  # declared absent: no answers
                setattr(self, reader, None)

    def __call__(self, completions: list, **kwargs: Any) -> list[float | None]:
        log_extra = kwargs.get("log_extra")
        if log_extra is not None:
            kwargs["log_extra"] = functools.partial(_log_reason_as, self.__name__, log_extra)
        return self.function(completions=completions, **{**kwargs, **self.params})  # keywords, as TRL calls it

    def __repr__(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"<reward {self.__name__}({params})>"

    def __reduce__(self):
        return (BoundReward, (self.__name__, self.function, self.params))


def _with_params(function: Callable, params: Mapping[str, Any], *args: Any, **kwargs: Any) -> Any:
    return function(*args, **{**kwargs, **params})


def _log_reason_as(name: str, log_extra: Callable[[str, list], None], column: str, values: list) -> None:
    log_extra(f"reason/{name}" if column.startswith("reason/") else column, values)


def _read_spec(spec: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"name", "weight", "params"}
        if unknown:
            raise ValueError(f"reward spec {dict(spec)!r} has unknown keys {sorted(unknown)}; use name, weight, params")
        name, params = spec.get("name"), spec.get("params")
    elif hasattr(spec, "name"):  # a config dataclass with name/params attributes
        name, params = spec.name, getattr(spec, "params", None)
    else:
        raise TypeError(f"a reward spec is a name or a mapping with 'name' and 'params', got {type(spec).__name__}")
    if not isinstance(name, str) or not name:
        raise ValueError(f"reward spec {spec!r} needs a 'name' (a string)")
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise ValueError(f"reward {name!r}: 'params' must be a mapping, got {type(params).__name__}")
    return name, dict(params)


def _entry(name: str) -> RewardEntry:
    if not isinstance(name, str):
        raise TypeError(f"a reward name is a string, got {type(name).__name__}")
    if ":" in name:
        return RewardEntry(name.rpartition(":")[2], _import_path(name))
    _load_builtins()
    with _LOCK:
        if name in _REGISTRY:
            return _REGISTRY[name]
    _load_entry_points()  # a plugin may have been installed since the last look
    with _LOCK:
        if name in _REGISTRY:
            return _REGISTRY[name]
        if name in _PLUGIN_ERRORS:
            raise RuntimeError(f"the plugin that provides reward {name!r} failed to load") from _PLUGIN_ERRORS[name]
        names = sorted(_REGISTRY)
    raise UnknownRewardError(
        f"unknown reward {name!r}.{did_you_mean(name, names)} Available: {', '.join(names)}; "
        "or give an import path 'package.module:function'."
    )


def _import_path(path: str) -> Callable:
    module_name, _, attribute = path.rpartition(":")
    if not module_name or not attribute:
        raise ValueError(f"reward path {path!r} must look like 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"reward path {path!r}: cannot import module {module_name!r}: {error}") from error
    function = module
    for part in attribute.split("."):
        if not hasattr(function, part):
            raise ValueError(f"reward path {path!r}: {module_name!r} has no attribute {attribute!r}")
        function = getattr(function, part)
    if not callable(function):
        raise ValueError(f"reward path {path!r} names {type(function).__name__}, not a function")
    return function


def _check_params(entry: RewardEntry, params: dict[str, Any]) -> dict[str, Any]:
    """`params` checked: unknown names, missing factory arguments and values of the wrong type fail at build
    time; an int given for a float param comes back a float."""
    try:
        signature = inspect.signature(entry.function)
    except (TypeError, ValueError):  # a builtin or C callable: nothing to check
        return params
    settable = {
        name: parameter
        for name, parameter in signature.parameters.items()
        if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
        and (entry.factory or name not in TRL_EXTRAS)
    }
    checked = {}
    for name, value in params.items():
        if name not in settable:
            raise ValueError(
                f"reward {entry.name!r} has no parameter {name!r}.{did_you_mean(name, settable)} "
                f"Its parameters: {', '.join(settable) or '(none)'}"
            )
        checked[name] = _check_type(entry.name, name, value, settable[name].default)
    if entry.factory:
        missing = [
            name for name, parameter in settable.items() if parameter.default is parameter.empty and name not in params
        ]
        if missing:
            raise ValueError(f"reward {entry.name!r} needs the parameter(s) {', '.join(missing)} in its params")
    return checked


def _check_type(reward: str, name: str, value: Any, default: Any) -> Any:
    """`value` as the type of the param's default asks (`rewards.user_values.coerce`: an int where a float is
    expected becomes one, a bool is not an int); a param without a plain default is taken as it is."""
    if default is inspect.Parameter.empty or default is None or type(default) not in (bool, int, float, str):
        return value
    try:
        return coerce(value, type(default))
    except BadValue:
        raise ValueError(
            f"reward {reward!r}: parameter {name!r} must be {type(default).__name__}, "
            f"got {type(value).__name__} {value!r}"
        ) from None


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    with _LOCK:
        if _BUILTINS_LOADED:
            return
        _BUILTINS_LOADED = True
        for module_name in _OPTIONAL_BUILTINS:
            try:
                importlib.import_module(module_name)
            except ModuleNotFoundError as error:
                if error.name != module_name:
                    raise


def _load_entry_points() -> None:
    importlib.invalidate_caches()
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        key = (entry_point.name, entry_point.value)
        with _LOCK:
            if key in _LOADED_ENTRY_POINTS:
                continue
            _LOADED_ENTRY_POINTS.add(key)
        try:
            loaded = entry_point.load()
        except Exception as error:  # noqa: BLE001 - one broken plugin must not break the others
            _PLUGIN_ERRORS[entry_point.name] = error
            warnings.warn(
                f"reward plugin {entry_point.name!r} ({entry_point.value}) failed to load: {error}", stacklevel=2
            )
            continue
        with _LOCK:
            registered = _REGISTRY.get(entry_point.name)
        if inspect.ismodule(loaded) or (registered is not None and _same_function(registered.function, loaded)):
            continue  # importing it ran its @register decorators
        register(entry_point.name)(loaded)


def _same_function(a: Callable, b: Callable) -> bool:
    """Same object, or the same function re-imported (module reloads, `python -m` running a reward module)."""
    return a is b or (
        getattr(a, "__qualname__", None) == getattr(b, "__qualname__", None)
        and getattr(a, "__module__", None) == getattr(b, "__module__", None)
        and getattr(a, "__module__", None) is not None
    )


def _describe(function: Callable) -> str:
    return f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', repr(function))}"
