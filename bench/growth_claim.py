"""Is the reasoning-growth claim met? Reads the held-out records of a multi-seed ``chain_sum`` job and judges the
three conditions of docs/reasoning_growth.md on the hardest stratum, start (first evaluation) against end (last):

1. accuracy rises: the mean change over seeds with its 95% interval (Student t over seeds), and the change per
   problem paired (each problem's accuracy averaged over the seeds, start vs end; ``rl_reasoner.stats.paired_change``);
2. the mean length of *terminated* completions at the end is >= 1.3x that at the start (per seed and on average);
3. correct running totals per completion rise (mean change over seeds with its interval).

Each seed directory needs ``eval.jsonl`` (the per-stratum metrics of ``rl_reasoner.strata``); ``eval_samples.jsonl``
adds the per-problem paired change, and ``metrics.jsonl`` how long each seed took (steps, median step time, minutes:
a learning figure is stated beside its step time). Works on ``runs/<name>`` (from ``train --seeds``) and on the copies kept in
``bench/results/reasoning_growth/<name>/seed-<s>/``.

A job trained in two stages (the second started from the first one's checkpoint with ``--set model.name=...``)
starts, for the claim, where the first stage started: ``--start DIR`` takes the start from another job's first
evaluation, that of the untrained model under the second stage's template, on the same held-out split (checked
from the two ``config.yaml``). DIR holds the same seeds, or one run: the untrained model's greedy evaluation is the
same for every seed.

    python bench/growth_claim.py runs/chain_anchor
    python bench/growth_claim.py bench/results/reasoning_growth/anchor --stratum terms=4
    python bench/growth_claim.py runs/chain_unscaffold --start bench/results/reasoning_growth/step_96
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from statistics import median

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rl_reasoner.rundir import read_jsonl  # noqa: E402
from rl_reasoner.seeds import seed_dirs  # noqa: E402
from rl_reasoner.stats import paired_change, seed_interval  # noqa: E402

RISING = ("accuracy", "intermediate_correct")
"""The metrics that must rise (with their interval over seeds); the third condition is the length ratio."""
LENGTH_FACTOR = 1.3
CHANGE_BOUNDS = {"accuracy": (-1.0, 1.0)}
"""The range a change cannot leave: an interval over few seeds (t = 12.7 for two) is clipped to it."""


def stratum_values(records: list[dict], metric: str) -> dict[int, float]:
    """``{step: value}`` of one per-stratum metric (training-time evaluations only, not ``rl-reasoner eval``)."""
    return {r["step"]: float(r["value"]) for r in records
            if r.get("metric") == metric and "checkpoint" not in r and isinstance(r.get("value"), (int, float))}


def terms_of(question: str) -> str:
    """The stratum of a chained sum from its question: ``"What is 3 + 8 + 6?"`` -> ``"terms=3"``."""
    return f"terms={question.count('+') + 1}"


def per_problem_accuracy(samples: list[dict], step: int, stratum: str) -> dict[str, float]:
    return {str(r["prompt_id"]): 1.0 if r.get("correct") is True else 0.0 for r in samples
            if r.get("step") == step and terms_of(str(r.get("question", ""))) == stratum}


def timing(seed: Path) -> str:
    """How long one seed took, from its ``metrics.jsonl``: steps, median step time, minutes of steps, and minutes from
    the start to the last logged step (the evaluations before it included)."""
    metrics = list(read_jsonl(seed / "metrics.jsonl"))
    times = [float(r["step_time"]) for r in metrics if isinstance(r.get("step_time"), (int, float))]
    if not times:
        return "no step times recorded"
    total = max((float(r["time"]) for r in metrics if isinstance(r.get("time"), (int, float))), default=sum(times))
    return (f"{len(times)} steps, median step {median(times):.0f} s (mean {sum(times) / len(times):.0f}), "
            f"{sum(times) / 60:.0f} min of steps, {total / 60:.0f} min to the last step")


SAME_SPLIT = (("task",), ("eval", "num_examples"), ("eval", "max_new_tokens"), ("grpo", "max_completion_length"))
"""The config values that fix the held-out evaluation: a start taken from another job must agree on each."""


def start_dir(start: Path, seed: Path) -> Path:
    """The run of ``start`` that gives ``seed`` its start: the same seed's, else ``start``'s only run."""
    runs = seed_dirs(start) or [start]
    same = [run for run in runs if run.name == seed.name]
    if same or len(runs) == 1:
        return (same or runs)[0]
    sys.exit(f"--start {start}: no {seed.name}/ and {len(runs)} seeds to choose from; give it the same seeds or one")


def split_differences(a: Path, b: Path) -> list[str]:
    """The :data:`SAME_SPLIT` values in which the ``config.yaml`` of runs ``a`` and ``b`` differ."""
    configs = [yaml.safe_load((run / "config.yaml").read_text()) or {} for run in (a, b)]

    def get(config: dict, keys: tuple[str, ...]):
        for key in keys:
            config = config.get(key) if isinstance(config, dict) else None
        return config

    return [".".join(keys) for keys in SAME_SPLIT if get(configs[0], keys) != get(configs[1], keys)]


def judge(job: Path, stratum: str, start: Path | None = None) -> bool:
    seeds = seed_dirs(job) or [job]
    starts = {seed.name: start_dir(start, seed) if start else seed for seed in seeds}
    for seed in seeds if start else []:
        if differ := split_differences(starts[seed.name], seed):
            sys.exit(f"--start {starts[seed.name]}: its evaluation is not {seed}'s ({', '.join(differ)} differ), "
                     f"so it cannot be its start")
    per_seed: dict[str, dict[str, tuple[int, float, int, float]]] = {}
    for seed in seeds:
        name, records = seed.name, list(read_jsonl(seed / "eval.jsonl"))
        before = list(read_jsonl(starts[name] / "eval.jsonl")) if start else records
        per_seed[name] = {}
        for metric in RISING:
            values = stratum_values(records, f"{metric}[{stratum}]")
            initial = stratum_values(before, f"{metric}[{stratum}]")
            if len(values) < (1 if start else 2) or not initial:
                sys.exit(f"{job / name}: {metric}[{stratum}] has {len(values)} evaluation(s); start and end needed")
            first, last = min(initial), max(values)
            per_seed[name][metric] = (first, initial[first], last, values[last])
        # No terminated completion in an evaluation (every answer cut off at the budget) records no length: None.
        first, _, last, _ = per_seed[name]["accuracy"]
        lengths = stratum_values(records, f"length_terminated[{stratum}]")
        initial = stratum_values(before, f"length_terminated[{stratum}]")
        per_seed[name]["length_terminated"] = (first, initial.get(first), last, lengths.get(last))
    print(f"{job}: {len(seeds)} seed(s), stratum {stratum}, start -> end per seed"
          + (f"; the start is the first evaluation of {start}" if start else ""))
    for seed in seeds:
        rows = per_seed[seed.name]
        print(f"  {seed.name}: " + "; ".join(f"{m} {_value(a)} (step {s}) -> {_value(b)} (step {t})"
                                            for m, (s, a, t, b) in rows.items()))
        print(f"    took {timing(seed)}")
    verdicts = []
    changes = {m: seed_interval([rows[m][3] - rows[m][1] for rows in per_seed.values()], bounds=CHANGE_BOUNDS.get(m))
               for m in RISING}
    accuracy = changes["accuracy"]
    spread = "[95% t interval]" if len(seeds) > 1 else "(one seed: no interval over seeds)"
    print(f"\n1. accuracy change, mean over seeds {spread}: {accuracy.value:+.3f}"
          + (f" [{accuracy.low:+.3f}, {accuracy.high:+.3f}]" if len(seeds) > 1 else ""))
    verdicts.append(len(seeds) > 1 and accuracy.low > 0)
    samples = {seed.name: list(read_jsonl(seed / "eval_samples.jsonl")) for seed in seeds}
    initial_samples = {seed.name: list(read_jsonl(starts[seed.name] / "eval_samples.jsonl")) for seed in seeds}
    if all(samples.values()) and all(initial_samples.values()):
        before: dict[str, list[float]] = {}
        after: dict[str, list[float]] = {}
        for name, rows in per_seed.items():
            first, _, last, _ = rows["accuracy"]
            for pid, value in per_problem_accuracy(initial_samples[name], first, stratum).items():
                before.setdefault(pid, []).append(value)
            for pid, value in per_problem_accuracy(samples[name], last, stratum).items():
                after.setdefault(pid, []).append(value)
        common = sorted(pid for pid in before if pid in after and len(before[pid]) == len(after[pid]) == len(seeds))
        if common:
            paired = paired_change([sum(before[p]) / len(seeds) for p in common],
                                   [sum(after[p]) / len(seeds) for p in common])
            print(f"   per problem, paired ({len(common)} problems, averaged over the seeds): {paired}")
    cut = [name for name, rows in per_seed.items()
           if rows["length_terminated"][1] is None or rows["length_terminated"][3] is None]
    if cut:
        print(f"2. terminated length: no terminated completion at the start or the end of {', '.join(cut)} (every "
              f"answer cut off at the budget): no ratio, the x{LENGTH_FACTOR} condition counts as not met")
        verdicts.append(False)
    else:
        ratios = [rows["length_terminated"][3] / rows["length_terminated"][1] for rows in per_seed.values()
                  if rows["length_terminated"][1] > 0]
        start = sum(rows["length_terminated"][1] for rows in per_seed.values()) / len(per_seed)
        end = sum(rows["length_terminated"][3] for rows in per_seed.values()) / len(per_seed)
        ratio = end / start if start else float("nan")
        print(f"2. terminated length: {start:.1f} -> {end:.1f} tokens (x{ratio:.2f}); per seed x"
              + ", x".join(f"{r:.2f}" for r in ratios) + f"; needed x{LENGTH_FACTOR}")
        verdicts.append(start > 0 and end >= LENGTH_FACTOR * start)
    totals = changes["intermediate_correct"]
    print(f"3. correct running totals per completion, change {spread}: {totals.value:+.3f}"
          + (f" [{totals.low:+.3f}, {totals.high:+.3f}]" if len(seeds) > 1 else ""))
    verdicts.append(len(seeds) > 1 and changes["intermediate_correct"].low > 0)
    met = all(verdicts)
    print(f"\nclaim {'MET' if met else 'NOT met'} on {stratum}: accuracy up {'yes' if verdicts[0] else 'no'}, "
          f"length x{LENGTH_FACTOR} {'yes' if verdicts[1] else 'no'}, running totals up {'yes' if verdicts[2] else 'no'}"
          + ("" if len(seeds) > 1 else " (one seed: no interval, so no rise can be claimed)"))
    return met


def _value(value: float | None) -> str:
    return "none terminated" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("job", type=Path, help="a multi-seed run directory (seed-<s>/ inside) or one run")
    parser.add_argument("--stratum", default="terms=5", help="the stratum to judge (default: the hardest, terms=5)")
    parser.add_argument("--start", type=Path, help="take the start from this job's first evaluation (a job trained "
                        "from another's checkpoint: the untrained model's evaluation on the same split)")
    opts = parser.parse_args()
    for path in (opts.job, opts.start):
        if path is not None and not path.is_dir():
            sys.exit(f"{path}: no such directory")
    judge(opts.job, opts.stratum, opts.start)


if __name__ == "__main__":
    main()
