"""Agreement and throughput of `math_accuracy` beside the field's reference graders, measured in one run.

    nice -n 10 .venv/bin/python bench/math_grader.py          # a few minutes on 2 CPU cores
    nice -n 10 .venv/bin/python bench/math_grader.py --quick  # a third of each mix

Two mixes, each graded by three graders on the same completions:

- **MATH-style**: the agreement suite (tests/data/math_agreement.jsonl: the public test cases of
  Math-Verify, TRL and open-r1, plus MATH/GSM8K-style cases of our own), each prediction wrapped as an
  R1-Zero completion; most answers need a symbolic comparison. Reference verdict: the row's `expected`.
- **arithmetic**: the default job's task (sums of two numbers 0..12) with completions in the shapes a
  small model writes (right, wrong, the question restated, the answer only in the reasoning, boxed),
  graded with the params of configs/default.yaml. Reference verdict: by construction.

Graders: `math_accuracy` (default params for MATH-style, configs/default.yaml's for arithmetic; a warm
worker pool, its verdict cache emptied first), `math_verify` called as TRL's `accuracy_reward` calls it
(in this process, one completion after another, its parse caches emptied first) and TRL's
`accuracy_reward` itself. A verdict of `None` counts as a disagreement unless the reference is `None`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from rewards import equivalence, math_reward
from rewards.math_reward import grade
from rl_reasoner.rundir import read_jsonl

TABLE = ROOT / "tests" / "data" / "math_agreement.jsonl"
DEFAULT_YAML_PARAMS = {"plain_number_answer": True, "fallback_last_number": True}


def math_style_mix() -> list[tuple[str, str, int | None]]:
    """(completion, gold, reference verdict) for every row of the agreement suite."""
    mix = []
    for row in read_jsonl(TABLE, strict=True):
        completion = row.get("completion")
        if completion is None:
            completion = f"<think>\nLet me work it out.\n</think>\n<answer>{row['prediction']}</answer>"
        mix.append((completion, row["gold"], row["expected"]))
    return mix


def arithmetic_mix(seed: int = 0) -> list[tuple[str, str, int | None]]:
    """Completions for the default task's sums, in the shapes a small model writes, with their verdicts."""
    rng = random.Random(seed)
    mix = []
    for a in range(13):
        for b in range(13):
            total, wrong = a + b, a + b + rng.choice([-2, -1, 1, 2, 10])
            think = f"<think>\nI add {a} and {b}.\n</think>\n"
            mix += [
                (f"{think}<answer>{total}</answer>", str(total), 1),
                (f"{think}<answer>{wrong}</answer>", str(total), 0),
                (f"{think}<answer>{a} + {b}</answer>", str(total), 0),  # the question restated
                (f"{think}<answer>The answer is ${total}$.</answer>", str(total), 1),
                (f"<think>\n{a} + {b} = {total}\n</think>", str(total), 0),  # no answer after the reasoning
                (f"I add them: {a} + {b} = {total}", str(total), 1),  # read by its last number
                (f"{think}<answer>\\boxed{{{total}}}</answer>", str(total), 1),
            ]
    return mix


def math_verify_as_trl(completions: list[str], golds: list[str]) -> list[float | None]:
    """math_verify called exactly as TRL's accuracy_reward calls it, without TRL around it."""
    from latex2sympy2_extended import NormalizationConfig
    from math_verify import LatexExtractionConfig, parse, verify

    config = [LatexExtractionConfig(normalization_config=NormalizationConfig(units=True), boxed_match_priority=0,
                                    try_extract_without_anchor=False)]  # fmt: skip
    scores = []
    for completion, gold in zip(completions, golds):
        gold_parsed = parse(gold, parsing_timeout=10)
        if not gold_parsed:
            scores.append(None)
            continue
        answer = parse(completion, extraction_config=config, extraction_mode="first_match", parsing_timeout=10)
        scores.append(float(verify(gold_parsed, answer, timeout_seconds=5)))
    return scores


def trl_accuracy_reward(completions: list[str], golds: list[str]) -> list[float | None]:
    from trl.rewards import accuracy_reward

    return accuracy_reward([[{"role": "assistant", "content": c}] for c in completions], golds)


def ours(params: dict):
    def run(completions: list[str], golds: list[str]) -> list[float | None]:
        return [verdict.score for verdict in grade(completions, golds, **params)]

    return run


GRADERS = {
    "math_accuracy": None,  # filled per mix: its params differ
    "math_verify as TRL's accuracy_reward calls it": math_verify_as_trl,
    "TRL accuracy_reward": trl_accuracy_reward,
}
MIXES = {"math-style": (math_style_mix, {}), "arithmetic": (arithmetic_mix, DEFAULT_YAML_PARAMS)}


def run_one(grader_name: str, mix_name: str, quick: bool) -> None:
    """In a fresh process: warm up as a trainer's first step would, then grade the mix; print JSON."""
    import logging

    logging.getLogger("rewards.math_reward").setLevel(logging.ERROR)
    make_mix, params = MIXES[mix_name]
    mix = make_mix()[:: 3 if quick else 1]
    if grader_name == "math_accuracy":
        pool = math_reward.shared_pool(math_reward.VERIFY_FUNCTION, warm_up=math_reward.WARM_UP_FUNCTION)
        grade([r"<answer>\sec^2 y</answer>"] * pool.workers, [r"\tan^2 y + 1"] * pool.workers)  # start them all
        math_reward.clear_cache()
        grader = ours(params)
    else:
        equivalence.warm_up()  # the same typical shapes, parsed once in this process
        grader = GRADERS[grader_name]
    completions, golds = [m[0] for m in mix], [m[1] for m in mix]
    start = time.perf_counter()
    scores = grader(completions, golds)
    elapsed = time.perf_counter() - start
    print(json.dumps({"scores": scores, "elapsed": elapsed}))


def measure(grader_name: str, mix_name: str, quick: bool) -> float:
    import subprocess

    command = [sys.executable, __file__, "--one", grader_name, "--mix", mix_name] + (["--quick"] if quick else [])
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    make_mix, _ = MIXES[mix_name]
    expected = [m[2] for m in make_mix()[:: 3 if quick else 1]]
    verdicts = [None if s is None else int(s >= 1.0) for s in measured["scores"]]
    agree = sum(v == e for v, e in zip(verdicts, expected))
    undecided = sum(v is None and e is not None for v, e in zip(verdicts, expected))
    rate = len(expected) / measured["elapsed"]
    print(f"  {grader_name:46s} agree {agree:4d}/{len(expected)} ({100 * agree / len(expected):5.1f}%)  "
          f"undecided {undecided:3d}  {measured['elapsed']:7.2f} s  {rate:7.1f} completions/s", flush=True)  # fmt: skip
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a third of each mix")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--mix", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return run_one(args.one, args.mix, args.quick)
    from rewards._worker_pool import default_workers

    print(f"each grader in a fresh process, warmed on the same typical answer shapes before timing; "
          f"math_accuracy with {default_workers()} worker processes, math_verify and TRL sequential in one process")  # fmt: skip
    for mix_name, title in [("math-style", "MATH-style mix (the agreement suite), default params"),
                            ("arithmetic", "default arithmetic mix, configs/default.yaml params")]:  # fmt: skip
        print(f"== {title}")
        rates = {name: measure(name, mix_name, args.quick) for name in GRADERS}
        best_peer = max(rate for name, rate in rates.items() if name != "math_accuracy")
        print(f"  math_accuracy: {rates['math_accuracy'] / best_peer:.1f}x the throughput of the better peer")


if __name__ == "__main__":
    main()
