"""Task registry: a task name (the `task.name` line of a config) → its `TaskSpec`.

>>> from rl_reasoner.tasks import get
>>> data = get("arithmetic").load({"num_train": 4, "num_eval": 2}, seed=0)
>>> len(data.train), len(data.eval), sorted(data.train[0])
(4, 2, ['answer', 'id', 'question'])
"""

from __future__ import annotations

from collections.abc import Callable

from rewards.user_values import did_you_mean
from rl_reasoner.tasks.base import TaskData, TaskError, TaskSpec

__all__ = ["TaskData", "TaskError", "TaskSpec", "available", "describe_all", "get", "register"]

_REGISTRY: dict[str, TaskSpec] = {}
_FAMILIES: dict[str, tuple[Callable[[str], TaskSpec], str, Callable[[], list[str]]]] = {}
"""Parametrised names `<family>:<member>` (e.g. `reasoning_gym:leg_counting`) → factory of the spec."""


def register(spec: TaskSpec) -> TaskSpec:
    """Add `spec` under `spec.name`; a second task with the same name is an error."""
    if spec.name in _REGISTRY:
        raise TaskError(f"task {spec.name!r} is registered twice.")
    _REGISTRY[spec.name] = spec
    return spec


def register_family(prefix: str, factory: Callable[[str], TaskSpec], example: str,
                    members: Callable[[], list[str]]) -> None:
    """Make `get("<prefix>:<member>")` return `factory(member)`; `members()` lists the valid members and
    `example` is the one `describe_all` describes."""
    _FAMILIES[prefix] = (factory, example, members)


def available() -> list[str]:
    """Every valid task name, each member of a family included (`reasoning_gym:leg_counting`, ...)."""
    names = sorted(_REGISTRY)
    for prefix, (_, _, members) in sorted(_FAMILIES.items()):
        names += [f"{prefix}:{member}" for member in members()]
    return names


def _summary() -> list[str]:
    """Task names with each family shown once as `<prefix>:<name>`."""
    return sorted(_REGISTRY) + sorted(f"{prefix}:<name>" for prefix in _FAMILIES)


def get(name: str) -> TaskSpec:
    """The spec of task `name`; an unknown name raises `TaskError` listing the known ones."""
    if not isinstance(name, str) or not name:
        raise TaskError(f"task name must be a non-empty string, got {name!r}. Known tasks: {_summary()}.")
    if name in _REGISTRY:
        return _REGISTRY[name]
    prefix, sep, member = name.partition(":")
    if sep and prefix in _FAMILIES:
        return _FAMILIES[prefix][0](member)
    raise TaskError(
        f"unknown task {name!r}.{did_you_mean(name, list(_REGISTRY) + list(_FAMILIES))} Known tasks: {_summary()}."
    )


def describe_all() -> str:
    """A readable table of the tasks: name, description, columns, default template and rewards."""
    entries = [(name, _REGISTRY[name]) for name in sorted(_REGISTRY)]
    entries += [(f"{prefix}:<name>", factory(example)) for prefix, (factory, example, _) in sorted(_FAMILIES.items())]
    lines = []
    for name, spec in entries:
        rewards = ", ".join(f"{r['name']} x{r.get('weight', 1.0):g}" for r in spec.default_rewards)
        lines += [
            name,
            f"    {spec.description}",
            f"    columns: {', '.join(spec.columns) or '-'} | template: {spec.default_template} | rewards: {rewards}",
        ]
    return "\n".join(lines)


def _register_builtins() -> None:
    from rl_reasoner.tasks import arithmetic, chain_sum, code_data, code_functions, countdown, math_data, reasoning_gym

    register(arithmetic.SPEC)
    register(chain_sum.SPEC)
    register(countdown.SPEC)
    register(code_functions.SPEC)
    for spec in math_data.SPECS + code_data.SPECS:
        register(spec)
    register_family("reasoning_gym", reasoning_gym.spec, example="leg_counting", members=reasoning_gym.dataset_names)


_register_builtins()
