"""`rl-reasoner score`: explain one verdict of a reward, for the researcher who doubts it.

    rl-reasoner score --reward math_accuracy --gold '\\frac12' '<think>…</think><answer>0.5</answer>'

prints what the reward read and why it scored what it did. For `math_accuracy`: the extracted answer,
the path that decided (extraction, fast path, cache, math-verify), the reason and the score. For any
other reward: the score and the reason it logs. `--param key=value` sets a reward parameter (YAML
values, as in a config), `--column key=value` a dataset column (`--column numbers='[3, 5, 7]'`).
"""

from __future__ import annotations

import sys
from typing import Any

from rewards.user_values import read_value


def parse_assignments(items: list[str], what: str) -> dict[str, Any]:
    """`["a=1", "b=[1, 2]"]` → `{"a": 1, "b": [1, 2]}` (values read as YAML: `rewards.user_values.read_value`).

    >>> parse_assignments(["timeout=5", "numbers=[3, 5]", "strict=false"], "param")
    {'timeout': 5, 'numbers': [3, 5], 'strict': False}
    """
    values = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--{what} {item!r}: write it as KEY=VALUE, e.g. --{what} timeout=5")
        try:
            values[key.strip()] = read_value(raw)
        except ValueError as error:
            raise ValueError(f"--{what} {key.strip()}: {error}") from None
    return values


def explain(reward: str, completion: str, gold: Any = None, params: dict | None = None,
            columns: dict | None = None) -> dict[str, Any]:  # fmt: skip
    """What `reward` makes of one completion: score and reason (and, for math_accuracy, answer and path).

    >>> explain("math_accuracy", "<think>x</think><answer>0.5</answer>", gold=r"\\frac12")
    {'reward': 'math_accuracy', 'answer': '0.5', 'path': 'fast path', 'reason': 'correct', 'score': 1.0}
    >>> explain("countdown", "<answer>(3 + 5) * 7</answer>", columns={"numbers": [3, 5, 7], "target": 56})["reason"]
    'correct'
    """
    import rewards

    params, columns = dict(params or {}), dict(columns or {})
    if gold is not None:
        columns["answer"] = gold
    function = rewards.build({"name": reward, "params": params})  # checks the names and types of the params
    if reward == "math_accuracy":
        from rewards.math_reward import grade

        if "answer" not in columns:
            raise ValueError("math_accuracy needs the gold answer: pass --gold ANSWER")
        verdict = grade([completion], [columns["answer"]], **params)[0]
        return {"reward": reward, "answer": verdict.answer, "path": verdict.path, "reason": verdict.reason,
                "score": verdict.score}  # fmt: skip
    logged: dict[str, list] = {}
    batch = {key: [value] for key, value in columns.items()}
    score = function([completion], log_extra=logged.__setitem__, **batch)[0]
    reasons = next(iter(logged.values()), [None])
    return {"reward": reward, "reason": reasons[0], "score": score}


def format_explanation(result: dict[str, Any]) -> str:
    """One `key: value` line per field, the answer quoted so that spaces and emptiness show.

    >>> print(format_explanation({"reward": "math_accuracy", "answer": "0.5", "path": "fast path", "reason": "correct", "score": 1.0}))
    reward:  math_accuracy
    answer:  '0.5'
    path:    fast path
    reason:  correct
    score:   1.0
    """
    lines = []
    for key, value in result.items():
        shown = repr(value) if key == "answer" and value is not None else value
        lines.append(f"{key + ':':<8} {'None (no answer)' if key == 'answer' and value is None else shown}")
    return "\n".join(lines)


def run(args) -> int:
    """The `score` command: explain one completion (`-` reads it from stdin)."""
    completion = sys.stdin.read() if args.completion == "-" else args.completion
    try:
        result = explain(args.reward, completion, gold=args.gold, params=parse_assignments(args.param, "param"),
                         columns=parse_assignments(args.column, "column"))  # fmt: skip
    except ValueError as error:
        print(f"rl-reasoner score: error: {error}", file=sys.stderr)
        return 2
    print(format_explanation(result))
    return 0
