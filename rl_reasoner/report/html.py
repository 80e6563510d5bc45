"""``rl-reasoner report``: run directories → ``report/index.html`` with the PNG plots (self-contained HTML, no
JavaScript, every model text escaped)."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable
from pathlib import Path

from rl_reasoner import growth_report
from rl_reasoner.report.figures import FIGURES, build_figure
from rl_reasoner.report.runs import (ACCURACY_METRIC, DATA_FILES, Curve, Run, _as_dict, _categories, _eval_curve,
                                     _eval_metrics, _eval_tasks, _fmt, _metric_keys, _number, _training_samples,
                                     load_run, metric_curve, share_curve)
from rl_reasoner.report.terminal import _tail, aha_examples

# -- the HTML page ---------------------------------------------------------------------------------------------


def write_report(run_dirs: list[Path], out_dir: Path | None = None) -> Path:
    """Write ``index.html`` and its PNG plots for one or more runs; returns the path of ``index.html``.

    The default output directory is ``<first run>/report/``. Raises ``FileNotFoundError`` when a run directory
    does not exist; anything missing inside a run becomes a note in the page.
    """
    if not run_dirs:
        raise ValueError("write_report needs at least one run directory")
    from rl_reasoner.seeds import seed_dirs

    seeds = len(run_dirs) == 1 and bool(seed_dirs(Path(run_dirs[0])))  # `train --seeds`: runs/<name>/seed-<s>/
    if seeds:
        out_dir = Path(out_dir) if out_dir is not None else Path(run_dirs[0]) / "report"
        run_dirs = seed_dirs(Path(run_dirs[0]))
    runs = [load_run(path) for path in run_dirs]
    if seeds:
        for run in runs:
            run.name = run.path.name
    _unique_names(runs)
    out_dir = Path(out_dir) if out_dir is not None else runs[0].path / "report"
    out_dir.mkdir(parents=True, exist_ok=True)

    sections = [_header_section(runs, out_dir)]
    if seeds:
        sections.append(_seeds_section(runs, out_dir))
    plots = []
    for spec in FIGURES:
        figure = build_figure(spec, runs)
        if figure is not None:
            figure.savefig(out_dir / spec.file_name, dpi=90)
            plots.append(f'<figure><img src="{spec.file_name}" alt="{_e(spec.title)}"></figure>')
        else:
            (out_dir / spec.file_name).unlink(missing_ok=True)  # a stale plot from an earlier report
            plots.append(_no_data(f"{spec.title}: {spec.source} has no data"))
    plots += growth_report.figures_html(runs, out_dir)  # task-specific plots, only where a run has their data
    sections.append("<h2>Training curves</h2>\n" + "\n".join(plots))
    sections.append(_before_after_section(runs))
    sections.append(_changes_section(runs))
    if any(run.posthoc for run in runs):
        sections.append(_posthoc_section(runs))
    sections.append(_probe_section(runs))
    sections.append(_aha_section(runs))
    title = "rl-reasoner report: " + ", ".join(run.name for run in runs)
    page = _PAGE.format(title=_e(title), body="\n\n".join(sections))
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def _unique_names(runs: list[Run]) -> None:
    names = [run.name for run in runs]
    for run in runs:
        if names.count(run.name) > 1:
            run.name = f"{run.name} ({run.path})"


def _header_section(runs: list[Run], out_dir: Path) -> str:
    rows = []
    for run in runs:
        model = _as_dict(run.config.get("model")).get("name", "?")
        task = _as_dict(run.config.get("task")).get("name", "?")
        steps = sorted({r["step"] for r in run.metrics})
        elapsed = _number(run.metrics[-1].get("time")) if run.metrics else None
        progress = f"{len(steps)} logged steps, last step {steps[-1]}" if steps else "no logged step yet"
        if elapsed is not None:
            progress += f", {elapsed / 60:.1f} min"
        files = [
            f'<a href="{_e(_relative(run.path / name, out_dir))}">{name}</a>'
            for name in ("config.yaml", *DATA_FILES)
            if (run.path / name).is_file()
        ]
        notes = "".join(_no_data(note) for note in run.notes)
        rows.append(
            f"<tr><td><b>{_e(run.name)}</b><br><small>{_e(str(run.path))}</small></td><td>{_e(str(model))}</td>"
            f"<td>{_e(str(task))}</td><td>{_e(progress)}</td><td>{' · '.join(files)}</td><td>{_meta(run)}</td></tr>"
            + (f'<tr><td colspan="6">{notes}</td></tr>' if notes else "")
        )
    return (
        "<h2>Runs</h2>\n<table><tr><th>run</th><th>model</th><th>task</th><th>progress</th><th>files</th>"
        "<th>meta</th></tr>\n" + "\n".join(rows) + "</table>"
    )


def _meta(run: Run) -> str:
    items = [(k, v) for k, v in _as_dict(run.config.get("meta")).items() if not isinstance(v, (dict, list))][:8]
    return "<br>".join(f"{_e(str(k))}: {_e(str(v))}" for k, v in items)


def _summary_curves(run: Run) -> list[Curve]:
    curves = [metric_curve(run.metrics, "reward")]
    curves += [metric_curve(run.metrics, k) for k in _metric_keys(run) if re.fullmatch(r"rewards/[^/]+/mean", k)]
    curves.append(share_curve(_training_samples(run), "sampled accuracy"))
    for task in _eval_tasks(run):
        for metric in _eval_metrics(run, task):
            curve = _eval_curve(run, task, metric)
            curves.append(Curve(f"held-out {task} {metric}", curve.steps, curve.values, curve.low, curve.high))
    for key in ("behaviour/length_mean", "behaviour/length_correct", "behaviour/length_incorrect"):
        curves.append(metric_curve(run.metrics, key))
    curves += [metric_curve(run.metrics, f"behaviour/{c}_rate") for c in _categories(run)]
    for key in (
        "behaviour/accuracy_reflective",
        "behaviour/accuracy_non_reflective",
        "behaviour/truncation_rate",
        "behaviour/format_adherence",
        "behaviour/repetition",
        "behaviour/language_mixing",
        "entropy",
        "kl",
    ):
        curves.append(metric_curve(run.metrics, key))
    return [curve for curve in curves if curve.steps]


def _before_after_section(runs: list[Run]) -> str:
    per_run = [{curve.label: curve for curve in _summary_curves(run)} for run in runs]
    labels = list(dict.fromkeys(label for curves in per_run for label in curves))
    if not labels:
        return "<h2>Before and after</h2>\n" + _no_data("no metric recorded yet (metrics.jsonl, eval.jsonl)")
    header = "".join(f'<th colspan="3">{_e(run.name)}</th>' for run in runs)
    sub = "<th>first</th><th>last</th><th>change</th>" * len(runs)
    rows = []
    for label in labels:
        cells = []
        for curves in per_run:
            curve = curves.get(label)
            if curve is None:
                cells.append("<td></td><td></td><td></td>")
                continue
            first, last = curve.values[0], curve.values[-1]
            cells.append(
                f"<td>{_fmt(first)}{_ci(curve, 0)} <small>@{curve.steps[0]}</small></td>"
                f"<td>{_fmt(last)}{_ci(curve, -1)} <small>@{curve.steps[-1]}</small></td>"
                f"<td>{_fmt(last - first, signed=True) if len(curve.steps) > 1 else ''}</td>"
            )
        rows.append(f"<tr><td>{_e(label)}</td>{''.join(cells)}</tr>")
    return (
        "<h2>Before and after</h2>\n<p>First and last recorded value of each metric (<small>@step</small>), held-out "
        "accuracies with their 95% Wilson interval <small>[low, high]</small>.</p>\n"
        f'<table><tr><th rowspan="2">metric</th>{header}</tr><tr>{sub}</tr>\n' + "\n".join(rows) + "</table>"
    )


def _ci(curve: Curve, index: int) -> str:
    if curve.low is None or curve.high is None:
        return ""
    return f" <small>[{_fmt(curve.low[index])}, {_fmt(curve.high[index])}]</small>"


def _changes_section(runs: list[Run]) -> str:
    """What changed between each run's first and last evaluation, paired by example (``rl_reasoner.change``)."""
    from rl_reasoner.change import paired_changes

    blocks = []
    for run in runs:
        records = [r for r in run.eval_samples if "checkpoint" not in r]
        steps = sorted({r["step"] for r in records})
        if len(steps) < 2:
            continue
        temperature = _as_dict(run.config.get("eval")).get("temperature")
        changes = paired_changes([r for r in records if r["step"] == steps[0]],
                                 [r for r in records if r["step"] == steps[-1]], temperature=temperature)
        if not changes:
            continue
        from rl_reasoner.change import conclusion

        rows = "".join(
            f"<tr><td>{_e(c.label)}</td><td>{_e(str(c.before))}</td><td>{_e(str(c.after))}</td>"
            f"<td>{c.change.value:+.3f} [{c.change.low:+.3f}, {c.change.high:+.3f}]</td>"
            f"<td>{'beyond noise' if c.beyond_noise else 'within noise'}</td></tr>" for c in changes)
        blocks.append(f"<h3>{_e(run.name)}: step {steps[0]} &rarr; {steps[-1]}, {changes[0].change.n} examples</h3>"
                      f"<table><tr><th>measure</th><th>first</th><th>last</th><th>change</th><th></th></tr>{rows}"
                      f"</table><p>{_e(conclusion(changes))}</p>")
    if not blocks:
        return ""
    return ("<h2>What changed</h2>\n<p>The same held-out examples before and after, compared example by example: a "
            "change is beyond noise when its 95% paired interval excludes 0.</p>\n" + "\n".join(blocks))


def _seeds_section(runs: list[Run], out_dir: Path) -> str:
    """Mean and 95% interval across seeds (Student t) of every held-out metric at every step all seeds evaluated,
    as a table and as curves with bands (``seeds.png``)."""
    from rl_reasoner.seeds import across_seeds

    aggregated = across_seeds([run.evals for run in runs])
    if not aggregated:
        return "<h2>Across seeds</h2>\n" + _no_data("no evaluation step common to every seed yet (eval.jsonl)")
    tasks = list(dict.fromkeys(task for task, _ in aggregated))
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.5 * len(tasks), 3.6), layout="constrained")
    figure.suptitle(f"Held-out metrics across {len(runs)} seeds: mean and 95% interval")
    for axes, task in zip(figure.subplots(1, len(tasks), squeeze=False)[0], tasks):
        for index, ((t, metric), points) in enumerate((k, v) for k, v in aggregated.items() if k[0] == task):
            if not ACCURACY_METRIC.fullmatch(metric):
                continue
            steps = [step for step, _ in points]
            color = f"C{index % 10}"
            axes.fill_between(steps, [i.low for _, i in points], [i.high for _, i in points], color=color, alpha=0.15,
                              linewidth=0)
            axes.plot(steps, [i.value for _, i in points], marker=".", color=color, label=metric)
        axes.set_title(f"held-out {task}", fontsize=10)
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
        if axes.get_legend_handles_labels()[0]:  # a task whose held-out metrics are all per stratum draws no line
            axes.legend(fontsize=7)
    figure.savefig(out_dir / "seeds.png", dpi=90)
    rows = []
    for (task, metric), points in aggregated.items():
        cells = "".join(f"<td>{_e(str(interval))}</td>" for _, interval in points)
        rows.append(f"<tr><td>{_e(task)}</td><td>{_e(metric)}</td>{cells}</tr>")
    steps = [step for step, _ in next(iter(aggregated.values()))]
    header = "".join(f"<th>step {step}</th>" for step in steps)
    return (f"<h2>Across seeds</h2>\n<p>{len(runs)} seeds ({_e(', '.join(run.name for run in runs))}): mean "
            f"<small>[95% interval, Student t over seeds]</small> at every step every seed evaluated.</p>\n"
            f'<figure><img src="seeds.png" alt="held-out metrics across seeds"></figure>\n'
            + growth_report.seeds_strata_html(runs, out_dir) + "\n"
            f"<table><tr><th>task</th><th>metric</th>{header}</tr>\n" + "\n".join(rows) + "</table>")


def _posthoc_section(runs: list[Run]) -> str:
    """Evaluations made after training (``rl-reasoner eval``), apart from the run's own held-out curve."""
    rows = [
        f"<tr><td>{_e(run.name)}</td><td>{_e(str(r.get('label', '')))}</td><td>{r['step']}</td>"
        f"<td>{_e(str(r.get('task', '')))}</td><td>{_e(str(r.get('metric', '')))}</td><td>{_fmt(r.get('value'))}</td>"
        f"<td>{_e(str(r.get('num_examples', '')))}</td></tr>"
        for run in runs for r in run.posthoc
    ]
    return ("<h2>Evaluations after training</h2>\n<p>Made with <code>rl-reasoner eval</code> "
            "(<code>eval_posthoc.jsonl</code>); not part of the curves above.</p>\n"
            "<table><tr><th>run</th><th>label</th><th>step</th><th>task</th><th>metric</th><th>value</th>"
            "<th>examples</th></tr>\n" + "\n".join(rows) + "</table>")


def _start_middle_end(steps: Iterable[int]) -> list[int]:
    """The first, middle and last of the recorded steps (fewer when fewer were recorded).

    >>> _start_middle_end([0, 10, 20, 30, 40]), _start_middle_end([5, 5]), _start_middle_end([0, 40])
    ([0, 20, 40], [5], [0, 40])
    """
    ordered = sorted(set(steps))
    if not ordered:
        return []
    middle = min(ordered, key=lambda s: (abs(s - (ordered[0] + ordered[-1]) / 2), s))
    return list(dict.fromkeys([ordered[0], middle, ordered[-1]]))


def _probe_section(runs: list[Run]) -> str:
    parts = ["<h2>Probe prompts at the start, middle and end</h2>"]
    for run in runs:
        records = [r for r in run.samples if r.get("probe")]
        source = "probe answers (samples.jsonl)"
        if not records:
            first_ids = list(dict.fromkeys(str(r.get("prompt_id")) for r in run.eval_samples))[:4]
            records = [r for r in run.eval_samples if str(r.get("prompt_id")) in first_ids]
            source = "no probe answers in samples.jsonl; the first held-out prompts (eval_samples.jsonl) instead"
        if len(runs) > 1:
            parts.append(f"<h3>{_e(run.name)}</h3>")
        if not records:
            parts.append(_no_data("no probe answers (samples.jsonl) or held-out completions (eval_samples.jsonl) yet"))
            continue
        steps = _start_middle_end(r["step"] for r in records)
        parts.append(f"<p><small>{_e(source)}</small></p>")
        header = "".join(f"<th>step {step}</th>" for step in steps)
        rows = []
        for prompt_id in dict.fromkeys(str(r.get("prompt_id")) for r in records):
            mine = [r for r in records if str(r.get("prompt_id")) == prompt_id]
            question = str(mine[0].get("question") or mine[0].get("prompt") or "")
            cells = []
            for step in steps:
                at_step = [r for r in mine if r["step"] == step][:2]
                cells.append("<td>" + "".join(_completion_html(r) for r in at_step) + "</td>")
            answer = mine[0].get("answer")
            rows.append(
                f"<tr><td><b>{_e(prompt_id)}</b><pre>{_e(_tail(question, 300))}</pre>"
                f"{f'answer: {_e(str(answer))}' if answer is not None else ''}</td>{''.join(cells)}</tr>"
            )
        parts.append(f'<table class="probes"><tr><th>prompt</th>{header}</tr>\n' + "\n".join(rows) + "</table>")
    return "\n".join(parts)


def _aha_section(runs: list[Run]) -> str:
    parts = [
        "<h2>Aha examples</h2>",
        "<p>The earliest correct completions with a reflection marker, one per prompt; prompts that were "
        "answered wrongly at an earlier step first.</p>",
    ]
    for run in runs:
        if len(runs) > 1:
            parts.append(f"<h3>{_e(run.name)}</h3>")
        examples = aha_examples(run)
        if not examples:
            parts.append(
                _no_data("no correct completion with a reflection marker yet (samples.jsonl, eval_samples.jsonl)")
            )
            continue
        for example in examples:
            history = (
                f"wrong at step {example['wrong_at']}" if example["wrong_at"] is not None else "not seen wrong before"
            )
            parts.append(
                f'<div class="aha"><b>step {example["step"]}</b> · {_e(example["source"])} · prompt '
                f"{_e(example['prompt_id'])} · {_e(history)} · markers: {_e(', '.join(example['markers']))}"
                f"<details><summary>question</summary><pre>{_e(example['question'])}</pre></details>"
                f"<pre>{_highlight(example['completion'], example['markers'])}</pre></div>"
            )
    return "\n".join(parts)


def _completion_html(record: dict) -> str:
    verdict = {True: ("ok", "correct"), False: ("bad", "wrong")}.get(record.get("correct"), ("", "not scored"))
    tokens = f" · {record['num_tokens']} tokens" if record.get("num_tokens") is not None else ""
    completion = _e(str(record.get("completion") or ""))
    return f'<div class="{verdict[0]}"><small>{verdict[1]}{tokens}</small><pre>{completion}</pre></div>'


def _highlight(text: str, phrases: list[str]) -> str:
    """Escape ``text`` and wrap the given phrases in ``<mark>``.

    >>> _highlight("Wait, <b>", ["Wait"])
    '<mark>Wait</mark>, &lt;b&gt;'
    """
    escaped = _e(text)
    if not phrases:
        return escaped
    pattern = "|".join(re.escape(_e(p)) for p in sorted(set(phrases), key=len, reverse=True))
    return re.sub(rf"(?<!\w)(?:{pattern})(?!\w)", lambda m: f"<mark>{m.group(0)}</mark>", escaped)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; max-width: 1600px; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.5em; vertical-align: top; text-align: left; font-size: 0.9em; }}
pre {{ white-space: pre-wrap; max-width: 60em; max-height: 24em; overflow: auto; margin: 0.2em 0; }}
.probes pre {{ max-width: 32em; }}
img {{ max-width: 100%; }}
.nodata {{ color: #8a5a00; background: #fff6e0; padding: 0.3em 0.6em; margin: 0.3em 0; }}
.ok small {{ color: #17702a; }} .bad small {{ color: #a01818; }}
.aha {{ border-left: 3px solid #4a7bd0; padding-left: 0.8em; margin: 1em 0; }}
mark {{ background: #ffe28a; }}
</style></head>
<body>
<h1>{title}</h1>
{body}
</body></html>
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _no_data(what: str) -> str:
    return f'<p class="nodata">no data yet: {_e(what)}</p>'


def _relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()
