"""The report's plots: one :class:`FigureSpec` per PNG (panels of curves, one colour per run), drawn by
:func:`build_figure`."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rl_reasoner.report.runs import (ACCURACY_METRIC, Curve, Run, _categories, _eval_curve, _eval_metrics, _eval_tasks,
                                     _metric_keys, _training_samples, metric_curve, share_curve)

# -- figures ---------------------------------------------------------------------------------------------------

Panels = dict[str, list[Curve]]
"""Panel title -> the curves of one run in that panel."""


def _reward_panels(run: Run) -> Panels:
    keys = _metric_keys(run)
    per_reward = [metric_curve(run.metrics, k, k.split("/")[1]) for k in keys if re.fullmatch(r"rewards/[^/]+/mean", k)]
    return {
        "total reward": [metric_curve(run.metrics, "reward")],
        "reward functions (mean)": per_reward,
        "sampled accuracy (training completions)": [share_curve(_training_samples(run), "accuracy"),
                                                     share_curve(_training_samples(run), "undecided", undecided=True)],
    }


def _heldout_panels(run: Run) -> Panels:
    return {
        f"held-out {task}": [
            _eval_curve(run, task, m) for m in _eval_metrics(run, task) if ACCURACY_METRIC.fullmatch(m)
        ]
        for task in _eval_tasks(run)
    }


def _length_panels(run: Run) -> Panels:
    curves = [metric_curve(run.metrics, f"behaviour/length_{part}", part) for part in ("mean", "correct", "incorrect")]
    if not curves[0].steps:
        curves[0] = metric_curve(run.metrics, "completions/mean_length", "mean")
    return {"completion length (tokens)": curves}


def _behaviour_panels(run: Run) -> Panels:
    categories = _categories(run)
    return {
        "share of completions with a marker": [metric_curve(run.metrics, f"behaviour/{c}_rate", c) for c in categories],
        "markers per 1k tokens": [metric_curve(run.metrics, f"behaviour/{c}_per_1k", c) for c in categories],
        "accuracy: reflective vs not": [
            metric_curve(run.metrics, "behaviour/accuracy_reflective", "reflective"),
            metric_curve(run.metrics, "behaviour/accuracy_non_reflective", "non-reflective"),
        ],
    }


def _format_panels(run: Run) -> Panels:
    return {
        "truncation and format": [
            metric_curve(run.metrics, "behaviour/truncation_rate", "truncated"),
            metric_curve(run.metrics, "completions/clipped_ratio", "clipped (TRL)"),
            metric_curve(run.metrics, "behaviour/format_adherence", "format adherence"),
        ]
    }


def _repetition_panels(run: Run) -> Panels:
    return {
        "repetition (4-gram repeat ratio)": [metric_curve(run.metrics, "behaviour/repetition", "repetition")],
        "language mixing (foreign-script letters)": [metric_curve(run.metrics, "behaviour/language_mixing", "mixing")],
    }


def _entropy_kl_panels(run: Run) -> Panels:
    return {"entropy": [metric_curve(run.metrics, "entropy")], "KL to the reference": [metric_curve(run.metrics, "kl")]}


@dataclass(frozen=True)
class FigureSpec:
    """One PNG of the report."""

    file_name: str
    title: str
    panels: Callable[[Run], Panels]
    source: str
    """Where the data comes from, for the "no data yet" note."""


FIGURES = (
    FigureSpec(
        "reward.png",
        "Reward and accuracy",
        _reward_panels,
        "metrics.jsonl (reward, rewards/*/mean) or samples.jsonl (correct)",
    ),
    FigureSpec("heldout.png", "Held-out accuracy", _heldout_panels, "eval.jsonl (accuracy, pass@k, maj@k)"),
    FigureSpec(
        "length.png", "Length of correct vs incorrect completions", _length_panels, "metrics.jsonl (behaviour/length_*)"
    ),
    FigureSpec(
        "behaviour.png",
        "Reflection and the behaviour categories",
        _behaviour_panels,
        "metrics.jsonl (behaviour/<category>_rate, _per_1k)",
    ),
    FigureSpec(
        "format.png",
        "Truncation and format",
        _format_panels,
        "metrics.jsonl (behaviour/truncation_rate, behaviour/format_adherence)",
    ),
    FigureSpec(
        "repetition.png",
        "Repetition and language mixing",
        _repetition_panels,
        "metrics.jsonl (behaviour/repetition, behaviour/language_mixing)",
    ),
    FigureSpec("entropy_kl.png", "Entropy and KL", _entropy_kl_panels, "metrics.jsonl (entropy, kl)"),
)


def build_figure(spec: FigureSpec, runs: list[Run]):
    """The matplotlib ``Figure`` of ``spec`` for all runs (one colour per run when several), or None when no run
    has data for it."""
    from matplotlib.figure import Figure  # the object API draws with Agg and leaves pyplot's global state alone

    per_run = [spec.panels(run) for run in runs]
    titles = list(dict.fromkeys(title for panels in per_run for title in panels))
    titles = [t for t in titles if any(c.steps for panels in per_run for c in panels.get(t, []))]
    if not titles:
        return None
    several_runs = len(runs) > 1
    figure = Figure(figsize=(4.6 * len(titles), 3.4), layout="constrained")
    figure.suptitle(spec.title)
    for axes, title in zip(figure.subplots(1, len(titles), squeeze=False)[0], titles):
        for run_index, (run, panels) in enumerate(zip(runs, per_run)):
            curves = [c for c in panels.get(title, []) if c.steps]
            for curve_index, curve in enumerate(curves):
                color = f"C{(run_index if several_runs else curve_index) % 10}"
                if curve.low is not None and curve.high is not None:  # its 95% interval
                    axes.fill_between(curve.steps, curve.low, curve.high, color=color, alpha=0.15, linewidth=0)
                axes.plot(
                    curve.steps,
                    curve.values,
                    marker="." if len(curve.steps) < 30 else None,
                    color=color,
                    linestyle=("-", "--", ":", "-.")[curve_index % 4] if several_runs else "-",
                    label=f"{run.name}: {curve.label}" if several_runs else curve.label,
                )
        axes.set_title(title, fontsize=10)
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    return figure
