"""Run directories → ``report/index.html`` with PNG plots, and the ``aha`` / ``inspect`` terminal views.

Reads only the run directory (layout in docs/architecture.md), so it works on a run that is still going or
was killed: a missing or empty file, a torn last line or a metric that was never logged becomes a visible
"no data yet" note in the page instead of an error. Several runs given together are drawn on the same axes,
one colour per run. The page is self-contained HTML (no JavaScript, no CDN); every model text is escaped.
"""

from __future__ import annotations

import html
import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rl_reasoner import growth_report
from rl_reasoner.behaviour import DEFAULT_MARKERS, REFLECTION, load_markers, matched_markers
from rl_reasoner.rundir import read_jsonl

DATA_FILES = ("metrics.jsonl", "samples.jsonl", "eval.jsonl", "eval_samples.jsonl")
ACCURACY_METRIC = re.compile(r"accuracy|pass@\d+|maj@\d+")
"""Held-out metrics drawn on the held-out accuracy plot."""


# -- reading a run ---------------------------------------------------------------------------------------------


@dataclass
class Run:
    """Everything recorded in one run directory, read once."""

    path: Path
    name: str
    """Legend label: the config's ``run.name``, else the directory name."""
    config: dict = field(default_factory=dict)
    metrics: list[dict] = field(default_factory=list)
    """``metrics.jsonl``: one record per logged step."""
    samples: list[dict] = field(default_factory=list)
    """``samples.jsonl``: training completions and probe answers."""
    evals: list[dict] = field(default_factory=list)
    """``eval.jsonl``: one ``{step, task, metric, value}`` per held-out metric."""
    eval_samples: list[dict] = field(default_factory=list)
    """``eval_samples.jsonl``: per-example held-out completions."""
    markers: dict[str, list[str]] = field(default_factory=lambda: load_markers())
    """The marker lists the run used: the defaults with the config's ``behaviour.markers`` applied."""
    notes: list[str] = field(default_factory=list)
    """What is missing or unreadable, in words, for the page."""
    posthoc: list[dict] = field(default_factory=list)
    """``eval_posthoc.jsonl``: evaluations made later with ``rl-reasoner eval``, each under its ``label``."""


def load_run(run_dir: str | Path) -> Run:
    """Read a run directory; missing, empty or unreadable files are recorded in ``Run.notes``.

    Raises ``FileNotFoundError`` only when ``run_dir`` itself is not a directory.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"run directory {path} does not exist (expected runs/<name>/ with metrics.jsonl ...)")
    run = Run(path=path, name=path.name)
    config_path = path / "config.yaml"
    if config_path.is_file():
        try:
            config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
            run.config = config if isinstance(config, dict) else {}
        except yaml.YAMLError as error:
            run.notes.append(f"config.yaml is not valid YAML ({str(error).splitlines()[0]})")
    else:
        run.notes.append("config.yaml missing")
    run.name = str(_as_dict(run.config.get("run")).get("name") or path.name)
    try:
        run.markers = load_markers(_as_dict(run.config.get("behaviour")).get("markers") or None)
    except ValueError as error:
        run.notes.append(f"config.yaml behaviour.markers ignored, the defaults are used instead ({error})")
    for file_name, attribute in zip(DATA_FILES, ("metrics", "samples", "evals", "eval_samples")):
        records, note = _read_records(path / file_name)
        setattr(run, attribute, records)
        if note:
            run.notes.append(note)
    run.posthoc = [r for r in read_jsonl(path / "eval_posthoc.jsonl") if _step(r) is not None]
    return run


def _as_dict(value: Any) -> dict:
    """``value`` when it is a dict, else an empty one (a hand-edited or foreign file may hold anything)."""
    return value if isinstance(value, dict) else {}


def _read_records(path: Path) -> tuple[list[dict], str | None]:
    if not path.is_file():
        return [], f"{path.name} missing"
    skipped: list[int] = []
    records = [record for record in read_jsonl(path, skipped) if _step(record) is not None]
    if not records:
        return [], f"{path.name} empty" if path.stat().st_size == 0 else f"{path.name} has no readable record"
    return records, f"{path.name}: skipped {len(skipped)} unreadable line(s) (torn or corrupt)" if skipped else None


def _step(record: dict) -> int | None:
    step = record.get("step")
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


# -- series: (steps, values) drawn and tabulated ---------------------------------------------------------------


@dataclass
class Curve:
    """One line of a plot: a label and its points in step order."""

    label: str
    steps: list[int]
    values: list[float]
    low: list[float] | None = None
    """Lower ends of the values' 95% intervals (drawn as a band), when recorded."""
    high: list[float] | None = None


def metric_curve(records: Iterable[dict], key: str, label: str | None = None) -> Curve:
    """The finite values of ``key`` by step (the last record wins when a step was logged twice).

    >>> metric_curve([{"step": 2, "kl": 0.1}, {"step": 1, "kl": 0.3}, {"step": 3, "kl": None}], "kl").values
    [0.3, 0.1]
    """
    by_step: dict[int, float] = {}
    for record in records:
        step, value = _step(record), _number(record.get(key))
        if step is not None and value is not None:
            by_step[step] = value
    steps = sorted(by_step)
    return Curve(label or key, steps, [by_step[s] for s in steps])


def share_curve(records: Iterable[dict], label: str, undecided: bool = False) -> Curve:
    """Share of records with ``correct`` true, per step, over the records that carry ``correct``: an undecided one
    (None) is not correct (``rl_reasoner.correct``); with ``undecided``, the share of undecided ones instead.

    >>> records = [{"step": 1, "correct": True}, {"step": 1, "correct": False}, {"step": 1, "correct": None}]
    >>> share_curve(records, "accuracy").values, share_curve(records, "undecided", undecided=True).values
    ([0.3333333333333333], [0.3333333333333333])
    """
    seen: dict[int, list[bool]] = {}
    for record in records:
        step, correct = _step(record), record.get("correct", False)
        if step is not None and (correct is None or isinstance(correct, bool)):
            seen.setdefault(step, []).append(correct is None if undecided else correct is True)
    steps = sorted(seen)
    return Curve(label, steps, [sum(seen[s]) / len(seen[s]) for s in steps])


def _metric_keys(run: Run) -> list[str]:
    keys: dict[str, None] = {}
    for record in run.metrics:
        keys.update(dict.fromkeys(record))
    return list(keys)


def _categories(run: Run) -> list[str]:
    logged = [
        key[len("behaviour/") : -len("_per_1k")]
        for key in _metric_keys(run)
        if re.fullmatch(r"behaviour/\w+_per_1k", key)
    ]
    return sorted(
        logged, key=lambda c: (list(DEFAULT_MARKERS).index(c) if c in DEFAULT_MARKERS else len(DEFAULT_MARKERS), c)
    )


def _training_samples(run: Run) -> list[dict]:
    return [record for record in run.samples if not record.get("probe")]


def _eval_tasks(run: Run) -> list[str]:
    return list(dict.fromkeys(str(record.get("task", "eval")) for record in run.evals))


def _eval_curve(run: Run, task: str, metric: str) -> Curve:
    records = [r for r in run.evals if str(r.get("task", "eval")) == task and r.get("metric") == metric]
    curve = metric_curve(records, "value", metric)
    low, high = metric_curve(records, "ci_low"), metric_curve(records, "ci_high")
    if curve.steps and low.steps == curve.steps == high.steps:
        curve.low, curve.high = low.values, high.values
    return curve


def _eval_metrics(run: Run, task: str) -> list[str]:
    return list(dict.fromkeys(str(r.get("metric")) for r in run.evals if str(r.get("task", "eval")) == task))


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


# -- aha examples ----------------------------------------------------------------------------------------------


def aha_examples(run_dir: str | Path | Run, limit: int = 10) -> list[dict]:
    """The earliest correct completions that contain a reflection marker, one per prompt.

    Prompts that were answered wrongly at an earlier step (in training samples, probes or held-out evaluation)
    come first, earliest first; then the other prompts, earliest first. Each example is a dict with ``step``,
    ``source`` ("train", "probe" or "eval"), ``prompt_id``, ``question``, ``answer``, ``completion``,
    ``markers`` (the reflection phrases found) and ``wrong_at`` (the earlier step answered wrongly, or None).
    """
    run = run_dir if isinstance(run_dir, Run) else load_run(run_dir)
    reflection_markers = {REFLECTION: run.markers.get(REFLECTION, DEFAULT_MARKERS[REFLECTION])}
    attempts = [("probe" if r.get("probe") else "train", r) for r in run.samples] + [
        ("eval", r) for r in run.eval_samples
    ]
    first_wrong: dict[str, int] = {}
    for _, record in attempts:
        if record.get("correct") is False and record.get("prompt_id") is not None:
            key = str(record["prompt_id"])
            first_wrong[key] = min(first_wrong.get(key, record["step"]), record["step"])

    best: dict[str, dict] = {}
    for source, record in sorted(attempts, key=lambda pair: pair[1]["step"]):
        if record.get("correct") is not True or record.get("prompt_id") is None:
            continue
        if _as_dict(record.get("flags")).get(REFLECTION) in (0, False):
            continue
        completion = str(record.get("completion") or "")
        found = matched_markers(completion, reflection_markers).get(REFLECTION)
        if not found:
            continue
        key = str(record["prompt_id"])
        wrong_at = first_wrong.get(key)
        example = {
            "step": record["step"],
            "source": source,
            "prompt_id": key,
            "question": str(record.get("question") or record.get("prompt") or ""),
            "answer": record.get("answer"),
            "completion": completion,
            "markers": found,
            "wrong_at": wrong_at if wrong_at is not None and wrong_at < record["step"] else None,
            "num_tokens": record.get("num_tokens"),
        }
        previous = best.get(key)
        if previous is None or (previous["wrong_at"] is None and example["wrong_at"] is not None):
            best[key] = example
    ranked = sorted(best.values(), key=lambda e: (e["wrong_at"] is None, e["step"], e["prompt_id"]))
    return ranked[:limit]


def format_aha(examples: list[dict]) -> str:
    """A terminal view of :func:`aha_examples`.

    >>> print(format_aha([]))
    no aha examples yet: no correct completion contains a reflection marker
    """
    if not examples:
        return "no aha examples yet: no correct completion contains a reflection marker"
    blocks = []
    for number, example in enumerate(examples, 1):
        history = f"wrong at step {example['wrong_at']}" if example["wrong_at"] is not None else "not seen wrong before"
        blocks.append(
            "\n".join(
                [
                    _rule(
                        f"aha {number}/{len(examples)} · step {example['step']} · {example['source']} · "
                        f"prompt {example['prompt_id']} · {history}"
                    ),
                    f"markers:  {', '.join(example['markers'])}",
                    f"question: {_tail(example['question'], 400)}",
                    f"answer:   {example['answer']}",
                    "completion:",
                    _indent(example["completion"]),
                ]
            )
        )
    return "\n\n".join(blocks)


# -- inspect ---------------------------------------------------------------------------------------------------


def format_step(run_dir: str | Path, step: int) -> str:
    """A readable terminal view of the completions recorded at ``step`` (training samples, probes, held-out).

    When the step was not recorded, says so and lists the steps that were.
    """
    run = load_run(run_dir)
    if not run.samples and not run.eval_samples:
        return f"no completions recorded yet in {run.path}: " + "; ".join(n for n in run.notes if "samples" in n)
    samples = [r for r in run.samples if r["step"] == step]
    held_out = [r for r in run.eval_samples if r["step"] == step]
    if not samples and not held_out:
        return (
            f"step {step} was not recorded in {run.path}.\n"
            f"steps with samples: {_ranges(r['step'] for r in run.samples) or 'none'}\n"
            f"steps with held-out completions: {_ranges(r['step'] for r in run.eval_samples) or 'none'}"
        )
    lines = [f"{run.name} · step {step}"]
    logged = next((r for r in reversed(run.metrics) if r["step"] == step), None)
    if logged:
        shown = [f"{k} {v:.3g}" for k, v in logged.items() if k in _STEP_SUMMARY_KEYS and _number(v) is not None]
        lines.append("metrics: " + ", ".join(shown))
    training = [r for r in samples if not r.get("probe")]
    probes = [r for r in samples if r.get("probe")]
    for kind, records in (("sample", training), ("probe", probes), ("held-out", held_out)):
        for number, record in enumerate(records, 1):
            lines += ["", _format_sample(record, f"{kind} {number}/{len(records)}")]
    return "\n".join(lines)


_STEP_SUMMARY_KEYS = ("reward", "completions/mean_length", "behaviour/reflection_rate", "kl", "entropy")


def _format_sample(record: dict, title: str) -> str:
    correct = {True: "correct", False: "wrong", None: "not scorable"}.get(record.get("correct"), "not scorable")
    header = [title, f"prompt {record.get('prompt_id')}", correct]
    if record.get("num_tokens") is not None:
        header.append(f"{record['num_tokens']} tokens" + (" (truncated)" if record.get("truncated") else ""))
    reasons = _as_dict(record.get("reasons"))
    rewards = [
        f"{name} {_fmt(value)}" + (f" ({reasons[name]})" if reasons.get(name) else "")
        for name, value in _as_dict(record.get("rewards")).items()
    ]
    flags = [f"{name} {count}" for name, count in _as_dict(record.get("flags")).items() if count]
    lines = [_rule(" · ".join(header))]
    if rewards:
        lines.append("rewards:  " + ", ".join(rewards))
    if flags:
        lines.append("markers:  " + ", ".join(flags))
    lines.append("prompt:   " + _tail(str(record.get("question") or record.get("prompt") or ""), 300))
    if record.get("answer") is not None:
        lines.append(f"answer:   {record['answer']}")
    lines += ["completion:", _indent(str(record.get("completion") or ""))]
    return "\n".join(lines)


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


# -- small helpers ---------------------------------------------------------------------------------------------


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _no_data(what: str) -> str:
    return f'<p class="nodata">no data yet: {_e(what)}</p>'


def _relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


def _fmt(value: Any, signed: bool = False) -> str:
    number = _number(value)
    if number is None:
        return "None" if value is None else str(value)
    return f"{number:+.3g}" if signed else f"{number:.3g}"


def _rule(title: str, width: int = 100) -> str:
    return f"── {title} " + "─" * max(3, width - len(title) - 4)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in (text.splitlines() or [""]))


def _tail(text: str, limit: int) -> str:
    """The last ``limit`` characters of ``text`` on one line (the question is at the end of a rendered prompt).

    >>> _tail("system: be brief\\nuser: What is 2+2?", 19)
    '…user: What is 2+2?'
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else "…" + flat[-(limit - 1) :]


def _ranges(steps: Iterable[int]) -> str:
    """Steps as compact ranges.

    >>> _ranges([5, 1, 2, 3, 10, 11, 3])
    '1-3, 5, 10-11'
    """
    ordered = sorted(set(steps))
    groups: list[list[int]] = []
    for step in ordered:
        if groups and step == groups[-1][-1] + 1:
            groups[-1].append(step)
        else:
            groups.append([step])
    return ", ".join(f"{g[0]}-{g[-1]}" if len(g) > 1 else str(g[0]) for g in groups)
