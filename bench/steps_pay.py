"""Do steps pay? The "Do steps pay?" table of docs/reasoning_growth.md, from kept step-0 completions.

For each record (an ``rl-reasoner baseline`` JSON, or the JSONL of ``bench/reasoning_baseline.py`` split by its
``variant``), on chains of 3+ terms: right of the completions that write a correct running total against right of
the others (``rl_reasoner.baseline.steps_pay``); and, over all strata, how often the sums the completions write
("a + b = c", ``rl_reasoner.chain_steps.equations``) are right, for two numbers and for three or more at once.

    python bench/steps_pay.py bench/results/reasoning_growth/baseline_quiet.jsonl \\
        bench/results/reasoning_growth/worked_example/baseline.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rl_reasoner.baseline import steps_pay  # noqa: E402
from rl_reasoner.chain_steps import equations, think_block  # noqa: E402
from rl_reasoner.rundir import read_jsonl  # noqa: E402


def records(path: Path) -> dict[str, list[dict]]:
    """name -> completions: one entry for a baseline JSON, one per variant for a JSONL."""
    if path.suffix == ".json":
        return {str(path): json.loads(path.read_text())["completions"]}
    out: dict[str, list[dict]] = {}
    for row in read_jsonl(path):
        out.setdefault(row["variant"], []).append(row)
    return out


def summary(rows: list[dict]) -> str:
    long = [r for r in rows if int(r["stratum"]) >= 3 and r["correct"] is not None]
    pay = steps_pay(long)
    right = {n: round(pay[f"pass@1_{n}"] * pay[n]) if pay[n] else 0 for n in ("with_steps", "without_steps")}
    sums = {2: [0, 0], 3: [0, 0]}
    for row in rows:
        for addends, result in equations(think_block(row["completion"])):
            tally = sums[min(len(addends), 3)]
            tally[0] += sum(addends) == result
            tally[1] += 1
    return (f"with a running total {right['with_steps']}/{pay['with_steps']}, without "
            f"{right['without_steps']}/{pay['without_steps']}; two-number sums right {sums[2][0]}/{sums[2][1]}, "
            f"3+ numbers at once {sums[3][0]}/{sums[3][1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path, help="baseline JSON or reasoning_baseline JSONL files")
    for path in parser.parse_args().files:
        for name, rows in records(path).items():
            print(f"{name}: {summary(rows)}")


if __name__ == "__main__":
    main()
