"""The report's reasoning-growth plots: intermediate results during training, and held-out metrics per difficulty.

Two panel builders for ``rl_reasoner.report.FIGURES`` (a run without these metrics simply has no such plot):

- :func:`steps_panels`: correct running totals written per training completion and the equations written / wrong
  (``behaviour/intermediate_*``, ``behaviour/equations*`` from ``rl_reasoner.chain_steps``);
- :func:`strata_panels`: held-out accuracy, mean length of terminated completions and correct running totals, one
  line per difficulty stratum (``accuracy[terms=N]`` ... from ``rl_reasoner.strata``).
"""

from __future__ import annotations

import re

_STRATUM_METRIC = re.compile(r"(?P<metric>[a-z_]+)\[(?P<stratum>[^\]]+)\]")

STRATA_TITLES = {
    "accuracy": "held-out accuracy per stratum",
    "length_terminated": "held-out length of terminated completions (tokens)",
    "intermediate_correct": "held-out correct running totals per completion",
}


def steps_panels(run) -> dict:
    """Training-time intermediate results of one run (``Run`` of ``rl_reasoner.report``)."""
    from rl_reasoner.report import metric_curve

    return {
        "correct running totals (training)": [
            metric_curve(run.metrics, "behaviour/intermediate_correct", "per completion"),
            metric_curve(run.metrics, "behaviour/intermediate_share", "share of the chain's totals"),
        ],
        "equations written (training)": [
            metric_curve(run.metrics, "behaviour/equations", "per completion"),
            metric_curve(run.metrics, "behaviour/equations_wrong", "wrong per completion"),
        ],
    }


def strata_panels(run) -> dict:
    """Held-out metrics per difficulty stratum of one run: one panel per metric, one curve per stratum."""
    from rl_reasoner.report import Curve
    from rl_reasoner.strata import natural_order

    points: dict[tuple[str, str], dict[int, float]] = {}
    for record in run.evals:
        match = _STRATUM_METRIC.fullmatch(str(record.get("metric", "")))
        value, step = record.get("value"), record.get("step")
        if match and match["metric"] in STRATA_TITLES and isinstance(value, (int, float)) and isinstance(step, int):
            points.setdefault((match["metric"], match["stratum"]), {})[step] = float(value)
    panels: dict[str, list] = {}
    for (metric, stratum), by_step in sorted(points.items(), key=lambda item: (
            list(STRATA_TITLES).index(item[0][0]), natural_order(item[0][1].split("=")[-1]))):
        steps = sorted(by_step)
        panels.setdefault(STRATA_TITLES[metric], []).append(Curve(stratum, steps, [by_step[s] for s in steps]))
    return panels
