"""Difficulty strata: every held-out metric split by the rows' difficulty (`terms` of `chain_sum`, or `difficulty`).

A mixed-difficulty task can hide what happens on its hardest items in the overall mean, so the held-out evaluation
also records, per stratum, accuracy, the mean length of the *terminated* completions (those not cut off at the
budget) and the correct running totals written per completion (`rl_reasoner.chain_steps`). The names put the
stratum in brackets: ``accuracy[terms=5]``; tasks without a stratum column add nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from rl_reasoner import chain_steps

STRATUM_COLUMNS = ("terms", "difficulty")
"""Row columns that name a difficulty stratum; the first one a row has wins."""

METRIC_RANGES = {"accuracy": (0.0, 1.0), "length_terminated": (0.0, float("inf")),
                 "intermediate_correct": (0.0, float("inf"))}
"""The range each per-stratum metric cannot leave: an interval over few seeds (Student t = 12.7 for two) is clipped
to it (``rl_reasoner.seeds.across_seeds``)."""


def metric_range(name: str) -> tuple[float, float] | None:
    """The range of one of these metrics, per stratum or overall; ``None`` for other names.

    >>> metric_range("accuracy[terms=5]"), metric_range("intermediate_correct"), metric_range("reward")
    ((0.0, 1.0), (0.0, inf), None)
    """
    return METRIC_RANGES.get(name.partition("[")[0])


def stratum_column(row: dict) -> str | None:
    """The column that holds a row's stratum, or None.

    >>> stratum_column({"terms": 3}), stratum_column({"answer": "4"})
    ('terms', None)
    """
    return next((column for column in STRATUM_COLUMNS if row.get(column) is not None), None)


def stratum_of(row: dict) -> str:
    """The difficulty stratum of a row, as text ("all" when the task has no stratum column).

    >>> stratum_of({"terms": 3}), stratum_of({"difficulty": "hard"}), stratum_of({})
    ('3', 'hard', 'all')
    """
    column = stratum_column(row)
    return "all" if column is None else str(row[column])


def natural_order(key: str) -> tuple:
    """Sort key that puts numeric strata in numeric order ("2" before "10") and named ones after.

    >>> sorted(["10", "easy", "2"], key=natural_order)
    ['2', '10', 'easy']
    """
    return (0, int(key), "") if key.lstrip("-").isdigit() else (1, 0, key)


def group_rows(rows: Sequence[dict], per_stratum: int = 0) -> dict[str, list[dict]]:
    """The rows of each stratum, at most ``per_stratum`` of each (0: all, first ones kept), strata in natural order.

    >>> groups = group_rows([{"terms": 3}, {"terms": 2}, {"terms": 3}], per_stratum=1)
    >>> list(groups), groups["3"]
    (['2', '3'], [{'terms': 3}])
    """
    groups: dict[str, list[dict]] = {}
    for row in rows:
        group = groups.setdefault(stratum_of(row), [])
        if not per_stratum or len(group) < per_stratum:
            group.append(row)
    return dict(sorted(groups.items(), key=lambda item: natural_order(item[0])))


def eval_metrics(rows: Sequence[dict], records: Sequence[dict]) -> dict[str, float]:
    """Per-stratum held-out metrics from the rows and their evaluation records (same order: ``completion``,
    ``correct``, ``num_tokens``, ``truncated``), plus the overall ``intermediate_correct`` for chained sums.

    >>> rows = [{"terms": 2, "operands": [1, 2]}, {"terms": 3, "operands": [1, 2, 3]}]
    >>> records = [{"completion": "3", "correct": True, "num_tokens": 2, "truncated": False},
    ...            {"completion": "1 + 2 = 3, 3 + 3 = 6", "correct": True, "num_tokens": 12, "truncated": False}]
    >>> m = eval_metrics(rows, records)
    >>> m["accuracy[terms=3]"], m["length_terminated[terms=3]"], m["intermediate_correct[terms=3]"]
    (1.0, 12.0, 1.0)
    """
    if len(rows) != len(records):
        raise ValueError(f"strata.eval_metrics: {len(rows)} rows but {len(records)} records")
    metrics: dict[str, float] = {}
    steps = [
        (stratum_of(row), chain_steps.step_counts(record["completion"], ops)["intermediate_correct"])
        for row, record in zip(rows, records) if (ops := chain_steps.row_operands(row))
    ]
    if steps:
        metrics["intermediate_correct"] = sum(count for _, count in steps) / len(steps)
    columns = {stratum_column(row) for row in rows} - {None}
    if not columns:
        return metrics
    column = sorted(columns, key=STRATUM_COLUMNS.index)[0]
    for name, _ in group_rows(rows).items():
        picked = [record for row, record in zip(rows, records) if stratum_of(row) == name]
        key = f"[{column}={name}]"
        metrics["accuracy" + key] = sum(bool(r["correct"]) for r in picked) / len(picked)
        terminated = [r["num_tokens"] for r in picked if not r["truncated"]]
        if terminated:
            metrics["length_terminated" + key] = sum(terminated) / len(terminated)
        counts = [count for stratum, count in steps if stratum == name]
        if counts:
            metrics["intermediate_correct" + key] = sum(counts) / len(counts)
    return metrics
