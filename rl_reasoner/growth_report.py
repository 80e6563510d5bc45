"""The report's reasoning-growth plots: intermediate results during training, and held-out metrics per difficulty.

Two panel builders, drawn by :func:`figures_html` into the report only when a run has their metrics (other tasks
get no empty plot):

- :func:`steps_panels`: correct running totals written per training completion and the equations written / wrong
  (``behaviour/intermediate_*``, ``behaviour/equations*`` from ``rl_reasoner.chain_steps``);
- :func:`strata_panels`: held-out accuracy, mean length of terminated completions and correct running totals, one
  line per difficulty stratum (``accuracy[terms=N]`` ... from ``rl_reasoner.strata``).

For several seeds of one job (``train --seeds``), :func:`seeds_strata_html` draws the same three held-out panels as
the mean over seeds with a 95% band per stratum (``strata_seeds.png``).
"""

from __future__ import annotations

import html
import re

_STRATUM_METRIC = re.compile(r"(?P<metric>[a-z_]+)\[(?P<stratum>[^\]]+)\]")

STRATA_TITLES = {
    "accuracy": "held-out accuracy per stratum",
    "length_terminated": "held-out length of terminated completions (tokens)",
    "intermediate_correct": "held-out correct running totals per completion",
}


def steps_panels(run) -> dict:
    """Training-time intermediate results of one run (``rl_reasoner.report.Run``)."""
    from rl_reasoner.report.runs import metric_curve

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
    from rl_reasoner.report.runs import Curve
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


def seeds_strata_panels(runs: list) -> dict:
    """Held-out metrics per stratum across seeds: one panel per metric, one curve per stratum, each point the mean
    over seeds with its 95% interval (``rl_reasoner.seeds.across_seeds``: only steps every seed evaluated, each
    interval inside the metric's range)."""
    from rl_reasoner.report.runs import Curve
    from rl_reasoner.seeds import across_seeds
    from rl_reasoner.strata import natural_order

    found = []
    for (_, name), points in across_seeds([run.evals for run in runs]).items():
        match = _STRATUM_METRIC.fullmatch(name)
        if match and match["metric"] in STRATA_TITLES:
            found.append((match["metric"], match["stratum"], points))
    panels: dict[str, list] = {}
    for metric, stratum, points in sorted(found, key=lambda item: (
            list(STRATA_TITLES).index(item[0]), natural_order(item[1].split("=")[-1]))):
        panels.setdefault(STRATA_TITLES[metric], []).append(Curve(
            stratum, [step for step, _ in points], [i.value for _, i in points],
            low=[i.low for _, i in points], high=[i.high for _, i in points]))
    return panels


def seeds_strata_html(runs: list, out_dir) -> str:
    """Draw ``strata_seeds.png`` (:func:`seeds_strata_panels`) into ``out_dir``; its ``<figure>`` tag, or "" (and no
    stale file) when the runs have no per-stratum metrics at a step common to every seed."""
    from rl_reasoner.report.figures import FigureSpec, build_figure

    spec = FigureSpec("strata_seeds.png", f"Held-out per difficulty stratum across {len(runs)} seeds: mean and 95% "
                      "interval", lambda _: seeds_strata_panels(runs), "eval.jsonl of every seed")
    figure = build_figure(spec, runs[:1])  # one set of curves, already aggregated over the seeds
    if figure is None:
        (out_dir / spec.file_name).unlink(missing_ok=True)
        return ""
    figure.savefig(out_dir / spec.file_name, dpi=90)
    return f'<figure><img src="{spec.file_name}" alt="{html.escape(spec.title, quote=True)}"></figure>'


def figure_specs() -> tuple:
    """The growth plots as ``rl_reasoner.report.FigureSpec``s (drawn only when a run has their data)."""
    from rl_reasoner.report.figures import FigureSpec

    return (
        FigureSpec("steps.png", "Intermediate results (chained sums)", steps_panels,
                   "metrics.jsonl (behaviour/intermediate_correct, behaviour/equations)"),
        FigureSpec("strata.png", "Held-out per difficulty stratum", strata_panels,
                   "eval.jsonl (accuracy[terms=N], length_terminated[terms=N])"),
    )


def figures_html(runs: list, out_dir) -> list[str]:
    """Draw the growth plots that have data into ``out_dir``; their ``<figure>`` tags (none for other tasks)."""
    from rl_reasoner.report.figures import build_figure

    tags = []
    for spec in figure_specs():
        figure = build_figure(spec, runs)
        if figure is None:
            (out_dir / spec.file_name).unlink(missing_ok=True)  # a stale plot from an earlier report
            continue
        figure.savefig(out_dir / spec.file_name, dpi=90)
        tags.append(f'<figure><img src="{spec.file_name}" alt="{html.escape(spec.title, quote=True)}"></figure>')
    return tags


def correction_examples(run_dir, limit: int = 10) -> list[dict]:
    """The first completions, one per prompt and earliest first, whose think block writes a wrong result for a sum
    and later the right one (``chain_steps.corrections``): a self-corrected intermediate result. Each example has
    ``step``, ``source`` ("train", "probe", "eval"), ``prompt_id``, ``question``, ``answer``, ``correct``,
    ``completion`` and ``corrections`` (e.g. ``["3 + 8 = 12 -> 3 + 8 = 11"]``)."""
    from rl_reasoner import chain_steps
    from rl_reasoner.report.runs import Run, load_run

    run = run_dir if isinstance(run_dir, Run) else load_run(run_dir)
    attempts = [("probe" if r.get("probe") else "train", r) for r in run.samples] + [
        ("eval", r) for r in run.eval_samples]
    found: dict[str, dict] = {}
    for source, record in sorted(attempts, key=lambda pair: pair[1].get("step", 0)):
        key = str(record.get("prompt_id"))
        if key in found:
            continue
        completion = str(record.get("completion") or "")
        fixes = chain_steps.corrections(completion)
        if fixes:
            found[key] = {
                "step": record.get("step"), "source": source, "prompt_id": key,
                "question": str(record.get("question") or record.get("prompt") or ""), "answer": record.get("answer"),
                "correct": record.get("correct"), "completion": completion,
                "corrections": [f"{_sum(wrong)} -> {_sum(right)}" for wrong, right in fixes],
            }
    return sorted(found.values(), key=lambda e: (e["step"], e["prompt_id"]))[:limit]


def _sum(equation) -> str:
    addends, result = equation
    return " + ".join(map(str, addends)) + f" = {result}"


def format_corrections(examples: list[dict]) -> str:
    """A terminal view of :func:`correction_examples`.

    >>> print(format_corrections([]))
    no self-corrected intermediate result yet: no think block fixes a wrong sum
    """
    if not examples:
        return "no self-corrected intermediate result yet: no think block fixes a wrong sum"
    blocks = []
    for number, e in enumerate(examples, 1):
        blocks.append("\n".join([
            f"── correction {number}/{len(examples)} · step {e['step']} · {e['source']} · prompt {e['prompt_id']} "
            f"· final answer {'correct' if e['correct'] else 'wrong' if e['correct'] is False else 'unscored'}",
            f"fixed:    {'; '.join(e['corrections'])}",
            f"question: {e['question'][-400:]}",
            f"answer:   {e['answer']}",
            "completion:",
            "    " + e["completion"].replace("\n", "\n    "),
        ]))
    return "\n\n".join(blocks)
