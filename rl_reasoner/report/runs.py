"""Reading a run directory into a :class:`Run` (missing, empty or torn files become notes, never errors), and the
series drawn and tabulated from it (:class:`Curve`)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rl_reasoner.behaviour import DEFAULT_MARKERS, load_markers
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


def _fmt(value: Any, signed: bool = False) -> str:
    number = _number(value)
    if number is None:
        return "None" if value is None else str(value)
    return f"{number:+.3g}" if signed else f"{number:.3g}"
