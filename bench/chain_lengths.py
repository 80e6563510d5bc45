"""How many steps does the model write, against how many the chain needs? From kept held-out completions.

For each seed directory of a ``chain_sum`` job (``runs/<name>`` or a copy kept in
``bench/results/reasoning_growth/<name>/``), per evaluation step and per stratum (terms), it counts the equations
("a + b = c", ``rl_reasoner.chain_steps.equations``) each greedy held-out completion writes, and prints their
distribution beside the number a worked chain needs (terms − 1). A recipe that teaches the procedure writes more
equations on longer chains; one that teaches a shape writes the same number on every chain.

    python bench/chain_lengths.py bench/results/reasoning_growth/example_no2
    python bench/chain_lengths.py runs/chain_example_long --at-least 6
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rl_reasoner.chain_steps import equations, operands_of, think_block  # noqa: E402
from rl_reasoner.rundir import read_jsonl  # noqa: E402
from rl_reasoner.seeds import seed_dirs  # noqa: E402


def counts(samples: list[dict], cap: int) -> dict[tuple[int, int], Counter]:
    """``{(step, terms): Counter(equations written, capped at cap)}`` over the completions of an eval_samples file."""
    out: dict[tuple[int, int], Counter] = {}
    for row in samples:
        operands = operands_of(str(row.get("question", "")))
        if not operands:
            continue
        written = len(equations(think_block(row["completion"])))
        out.setdefault((row["step"], len(operands)), Counter())[min(written, cap)] += 1
    return out


def table(job: Path, cap: int) -> list[str]:
    lines = []
    for seed in seed_dirs(job) or [job]:
        path = seed / "eval_samples.jsonl"
        if not path.is_file():
            continue
        for (step, terms), counter in sorted(counts(list(read_jsonl(path)), cap).items()):
            total = sum(counter.values())
            shares = ", ".join(f"{'≥' if k == cap else ''}{k}: {n}" for k, n in sorted(counter.items()))
            lines.append(f"{seed.name} step {step:>3} terms={terms} (needs {terms - 1}): {shares} of {total}; "
                         f"exactly {terms - 1}: {counter[terms - 1]}/{total}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("jobs", nargs="+", type=Path, help="a job directory (seed-*/) or one seed directory")
    parser.add_argument("--at-least", type=int, default=6, help="count this many equations or more together")
    opts = parser.parse_args()
    for job in opts.jobs:
        lines = table(job, opts.at_least)
        if not lines:
            sys.exit(f"{job}: no eval_samples.jsonl in it or its seed-*/ directories")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
