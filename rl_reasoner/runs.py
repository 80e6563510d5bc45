"""``rl-reasoner runs [DIR]``: a table of the run directories under DIR (default ``runs/``).

One row per run: name, task, steps done / planned, the last held-out accuracy (with its 95% interval when the
record carries ``ci_low`` / ``ci_high``) and a status:

* ``complete``: ``final/`` was written (training ended: all steps, or the time budget);
* ``running``: no ``final/`` and a record was written in the last :data:`RUNNING_WITHIN_S` seconds;
* ``interrupted``: no ``final/`` and nothing written lately (``train CONFIG --resume`` continues it);
* ``empty``: a run directory without a single record yet.
"""

from __future__ import annotations

import time
from pathlib import Path

from rl_reasoner.rundir import JSONL_FILES, RunDir, read_jsonl

RUNNING_WITHIN_S = 600
"""A run without ``final/`` whose files changed this recently is taken as still running."""


def run_summary(path: Path, now: float | None = None) -> dict:
    """Name, task, steps done/planned, last held-out accuracy (+ interval) and status of one run directory."""
    run = RunDir(path)
    config = run.read_config() or {}
    section = lambda key: config.get(key) if isinstance(config.get(key), dict) else {}  # noqa: E731
    steps_done = max((r["step"] for r in read_jsonl(run.file("metrics"), []) if isinstance(r.get("step"), int)),
                     default=0)
    accuracy = [r for r in read_jsonl(run.file("eval"), []) if r.get("metric") == "accuracy"
                and isinstance(r.get("step"), int) and isinstance(r.get("value"), (int, float))]
    last = max(accuracy, key=lambda r: r["step"], default=None)  # the last record of the highest step
    if last is not None:
        last = [r for r in accuracy if r["step"] == last["step"]][-1]
    files = [run.file(n) for n in JSONL_FILES if run.file(n).exists()]
    newest = max((f.stat().st_mtime for f in files), default=None)
    if (path / "final").is_dir():
        status = "complete"
    elif newest is None:
        status = "empty"
    elif (now or time.time()) - newest < RUNNING_WITHIN_S:
        status = "running"
    else:
        status = "interrupted"
    return {"name": path.name, "task": section("task").get("name", "?"), "steps_done": steps_done,
            "steps_planned": section("run").get("steps"), "accuracy": last, "status": status}


def format_runs(directory: Path) -> str:
    """The table of every run directory directly under ``directory`` (those with a config.yaml or records)."""
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such directory (runs are written under run.output_dir, "
                                f"default runs/)")
    paths = sorted(p for p in directory.iterdir() if p.is_dir() and (
        (p / "config.yaml").is_file() or any((p / f"{n}.jsonl").exists() for n in JSONL_FILES)))
    if not paths:
        return f"no runs under {directory}"
    rows = [("name", "task", "steps", "held-out accuracy", "status")]
    for path in paths:
        s = run_summary(path)
        rows.append((s["name"], str(s["task"]), f"{s['steps_done']}/{s['steps_planned'] or '?'}",
                     _accuracy(s["accuracy"]), s["status"]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def _accuracy(record: dict | None) -> str:
    """``0.62 [0.52, 0.71] @ step 60`` (the interval when recorded).

    >>> _accuracy({"step": 60, "value": 0.62, "ci_low": 0.52, "ci_high": 0.714, "n": 100})
    '0.620 [0.520, 0.714] n=100 @ step 60'
    >>> _accuracy(None)
    '-'
    """
    if record is None:
        return "-"
    text = f"{record['value']:.3f}"
    if isinstance(record.get("ci_low"), (int, float)) and isinstance(record.get("ci_high"), (int, float)):
        text += f" [{record['ci_low']:.3f}, {record['ci_high']:.3f}]"
    if record.get("n") is not None:
        text += f" n={record['n']}"
    return f"{text} @ step {record['step']}"
