"""Several seeds of one job: ``rl-reasoner train CONFIG --seeds 0,1,2`` and their aggregation for the report.

The seeds run one after the other (a 2-core machine has no room for two jobs side by side; on a bigger one, start
several ``train --set run.seed=S --set run.name=NAME/seed-S`` yourself), each in ``runs/<name>/seed-<s>/``, a
complete run directory of its own. ``rl-reasoner report runs/<name>`` finds them and shows, at every evaluation
step, the mean over seeds with its 95% interval (Student t over seeds, ``rl_reasoner.stats.seed_interval``).
"""

from __future__ import annotations

import re
from pathlib import Path

from rl_reasoner import behaviour
from rl_reasoner.stats import Interval, seed_interval
from rl_reasoner.strata import metric_range

SEED_DIR = re.compile(r"seed-(\d+)")


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` → ``[0, 1, 2]``; ``"0-3"`` → ``[0, 1, 2, 3]``.

    >>> parse_seeds("0,1,2"), parse_seeds("3-5"), parse_seeds(" 7 ")
    ([0, 1, 2], [3, 4, 5], [7])
    """
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        low, dash, high = part.partition("-")
        if not (low.isdigit() and (not dash or high.isdigit())):
            raise ValueError(f"--seeds {text!r}: expected comma-separated integers or a range, e.g. 0,1,2 or 0-2")
        seeds += list(range(int(low), int(high) + 1)) if dash else [int(low)]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds {text!r}: a seed appears twice")
    return seeds


def seed_run_name(name: str, seed: int) -> str:
    """The run name of one seed: its directory is ``<output_dir>/<name>/seed-<s>``."""
    return f"{name}/seed-{seed}"


def train_seeds(config_path: str, overrides: list[str], seeds: list[int], resume: bool = False) -> list[Path]:
    """Train the job once per seed, in sequence; returns the run directories."""
    from rl_reasoner.config import ConfigError, load_config
    from rl_reasoner.model import ModelError, local_checkpoint
    from rl_reasoner.train import train

    configs = []
    for seed in seeds:  # every config is checked before the first model is loaded
        config = load_config(config_path, [*overrides, f"run.seed={seed}"])
        config.run.name = seed_run_name(config.run.name, seed)
        try:  # a second stage's model.name is a checkpoint per seed ({seed} in it): each must exist
            local_checkpoint(config.model.name)
        except ModelError as error:
            raise ConfigError(f"{config_path}, seed {seed}: {error}") from None
        configs.append(config)
    runs = []
    for i, config in enumerate(configs):
        print(f"[rl-reasoner] seed {config.run.seed} ({i + 1}/{len(configs)}): {config.run_dir}", flush=True)
        runs.append(train(config, resume=resume))
    if runs:
        print(f"[rl-reasoner] {len(runs)} seeds done; across seeds: rl-reasoner report {runs[0].parent}", flush=True)
    return runs


def seed_dirs(path: Path) -> list[Path]:
    """The seed run directories under a multi-seed directory, by seed; empty when ``path`` is one run itself."""
    if (path / "config.yaml").is_file() or not path.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in path.iterdir() if p.is_dir() and (m := SEED_DIR.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


def across_seeds(evals_per_seed: list[list[dict]]) -> dict[tuple[str, str], list[tuple[int, Interval]]]:
    """For each (task, metric) of ``eval.jsonl``: at every step that *every* seed evaluated, the mean over seeds with
    its 95% interval, clipped to the metric's range: [0, 1] for a proportion (a record with a Wilson interval), and
    ``rl_reasoner.strata.metric_range`` for the per-stratum metrics and ``rl_reasoner.behaviour.metric_range`` for the
    behaviour ones (their records carry no interval). Records written by
    ``rl-reasoner eval`` (with a ``checkpoint``) are left out.

    >>> seeds = [[{"step": 0, "task": "t", "metric": "accuracy", "value": v}] for v in (0.6, 0.7, 0.8)]
    >>> [(step, str(i)) for step, i in across_seeds(seeds)[("t", "accuracy")]]
    [(0, '0.700 [0.452, 0.948]')]
    """
    values: dict[tuple[str, str], dict[int, dict[int, float]]] = {}
    proportions = set()  # metrics recorded with a Wilson interval: their mean over seeds stays inside [0, 1]
    for index, records in enumerate(evals_per_seed):
        for r in records:
            value = r.get("value")
            if "checkpoint" in r or not isinstance(r.get("step"), int) or not isinstance(value, (int, float)):
                continue
            key = (str(r.get("task", "eval")), str(r.get("metric")))
            values.setdefault(key, {}).setdefault(r["step"], {})[index] = float(value)
            if "ci_low" in r:
                proportions.add(key)
    out = {}
    for key, by_step in values.items():
        bounds = (0.0, 1.0) if key in proportions else metric_range(key[1]) or behaviour.metric_range(key[1])
        points = [(step, seed_interval(list(per_seed.values()), bounds)) for step, per_seed in sorted(by_step.items())
                  if len(per_seed) == len(evals_per_seed)]
        if points:
            out[key] = points
    return out
