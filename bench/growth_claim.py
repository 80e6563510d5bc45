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

    python bench/growth_claim.py runs/chain_anchor
    python bench/growth_claim.py bench/results/reasoning_growth/anchor --stratum terms=4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from statistics import median

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rl_reasoner.rundir import read_jsonl  # noqa: E402
from rl_reasoner.seeds import seed_dirs  # noqa: E402
from rl_reasoner.stats import paired_change, seed_interval  # noqa: E402

RISING = ("accuracy", "intermediate_correct")
"""The metrics that must rise (with their interval over seeds); the third condition is the length ratio."""
LENGTH_FACTOR = 1.3


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


def judge(job: Path, stratum: str) -> bool:
    seeds = seed_dirs(job) or [job]
    evals = {seed.name: list(read_jsonl(seed / "eval.jsonl")) for seed in seeds}
    per_seed: dict[str, dict[str, tuple[int, float, int, float]]] = {}
    for name, records in evals.items():
        per_seed[name] = {}
        for metric in RISING:
            values = stratum_values(records, f"{metric}[{stratum}]")
            if len(values) < 2:
                sys.exit(f"{job / name}: {metric}[{stratum}] has {len(values)} evaluation(s); start and end needed")
            first, last = min(values), max(values)
            per_seed[name][metric] = (first, values[first], last, values[last])
        # No terminated completion in an evaluation (every answer cut off at the budget) records no length: None.
        first, _, last, _ = per_seed[name]["accuracy"]
        lengths = stratum_values(records, f"length_terminated[{stratum}]")
        per_seed[name]["length_terminated"] = (first, lengths.get(first), last, lengths.get(last))
    print(f"{job}: {len(seeds)} seed(s), stratum {stratum}, start -> end per seed")
    for seed in seeds:
        rows = per_seed[seed.name]
        print(f"  {seed.name}: " + "; ".join(f"{m} {_value(a)} (step {s}) -> {_value(b)} (step {t})"
                                            for m, (s, a, t, b) in rows.items()))
        print(f"    took {timing(seed)}")
    verdicts = []
    changes = {m: seed_interval([rows[m][3] - rows[m][1] for rows in per_seed.values()]) for m in RISING}
    accuracy = changes["accuracy"]
    spread = "[95% t interval]" if len(seeds) > 1 else "(one seed: no interval over seeds)"
    print(f"\n1. accuracy change, mean over seeds {spread}: {accuracy.value:+.3f}"
          + (f" [{accuracy.low:+.3f}, {accuracy.high:+.3f}]" if len(seeds) > 1 else ""))
    verdicts.append(len(seeds) > 1 and accuracy.low > 0)
    samples = {seed.name: list(read_jsonl(seed / "eval_samples.jsonl")) for seed in seeds}
    if all(samples.values()):
        before: dict[str, list[float]] = {}
        after: dict[str, list[float]] = {}
        for name, rows in per_seed.items():
            first, _, last, _ = rows["accuracy"]
            for pid, value in per_problem_accuracy(samples[name], first, stratum).items():
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
    opts = parser.parse_args()
    if not opts.job.is_dir():
        sys.exit(f"{opts.job}: no such directory")
    judge(opts.job, opts.stratum)


if __name__ == "__main__":
    main()
