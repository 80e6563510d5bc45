"""``rl-reasoner tasks NAME``: one task's parameters, their defaults and their documentation.

The documentation of a parameter is the string under its field in the task's params dataclass (the project's
convention for every config field), read from the source.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
import typing


def field_docs(cls: type) -> dict[str, str]:
    """``{field name: docstring}`` of a dataclass whose fields are each followed by a string literal.

    >>> from rl_reasoner.config import RunConfig
    >>> field_docs(RunConfig)["steps"]
    'Optimiser steps (``GRPOConfig.max_steps``).'
    """
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs = {}
    for node, after in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def describe_task(name: str) -> str:
    """The task's description, columns, defaults (template, rewards) and every parameter with its default.

    >>> print(describe_task("arithmetic"))  # doctest: +ELLIPSIS
    arithmetic
    ...
    params (task.params.<name>, default in brackets):
      min_value: int [0]
    ...
    """
    from rl_reasoner import tasks

    spec = tasks.get(name)
    rewards = ", ".join(f"{r['name']} x{r.get('weight', 1.0):g}" for r in spec.default_rewards)
    lines = [name, f"  {spec.description}", f"  columns: {', '.join(spec.columns) or '-'}",
             f"  default template: {spec.default_template}", f"  default rewards: {rewards}"]
    if spec.params_type is None:
        return "\n".join(lines + ["params: none"])
    docs = field_docs(spec.params_type)
    hints = typing.get_type_hints(spec.params_type)
    lines.append("params (task.params.<name>, default in brackets):")
    for field in dataclasses.fields(spec.params_type):
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = "required"
        kind = getattr(hints[field.name], "__name__", None) or str(hints[field.name]).replace("typing.", "")
        lines.append(f"  {field.name}: {kind} [{default!r}]" if default != "required"
                     else f"  {field.name}: {kind} [required]")
        if docs.get(field.name):
            lines += textwrap.wrap(docs[field.name], 100, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)
