"""Speed and verdicts of `rewards.math_accuracy` against TRL's `accuracy_reward`, on the same completions.

    nice -n 10 .venv/bin/python bench/reward_speed.py            # about two minutes on 2 CPU cores
    nice -n 10 .venv/bin/python bench/reward_speed.py --quick    # a smaller corpus, no hang demo

The corpus is generated (seeded) in categories that real completions fall into — boxed integers, R1-Zero
`<answer>` blocks, fractions, decimals, percentages, sets, intervals, expressions, radicals, units,
"the final answer is", intermediate `\\boxed{}` steps, repeated answer blocks, no answer — each with a
verdict known by construction. Where the two rewards disagree, the bench counts which of them
contradicts that known verdict, per category, and prints an example.

Then: the latency of single math-verify verifications (what the default timeout is set against),
pathological answers (ours must return 0 within the bound; TRL off the main thread may not return at
all), and the code-tests benchmark from `bench/rewards_code.py` when that file exists.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import subprocess
import sys
import textwrap
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import rewards
from rewards import equivalence, math_reward
from rewards._worker_pool import shared_pool
from rewards.exact import exact_verdict
from rewards.extract import extract_answer, gold_text

BATCH = 128


@dataclass(frozen=True)
class Sample:
    category: str
    gold: str
    completion: str
    correct: bool
    """The verdict by construction."""


def filler(rng: random.Random, sentences: int) -> str:
    """Reasoning-like text with numbers and inline LaTeX, as models write before their answer."""
    parts = []
    for _ in range(sentences):
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        parts.append(
            rng.choice(
                [
                    f"First, {a} + {b} = {a + b}.",
                    f"Let $x = {a}$, so $2x = {2 * a}$.",
                    f"Multiplying gives $ {a} \\times {b} = {a * b} $.",
                    f"Wait, let me re-check: {a} - {b} is {a - b}.",
                    f"We know that $\\frac{{{a}}}{{{b}}}$ is the ratio.",
                    "Hmm, that does not look right, let me try again.",
                    f"So there are {a} items in {b} boxes.",
                ]
            )
        )
    return " ".join(parts)


def reasoning(rng: random.Random) -> str:
    return filler(rng, rng.choice([2, 5, 10, 20, 40]))


def make_corpus(per_category: int, seed: int = 0) -> list[Sample]:
    rng = random.Random(seed)
    samples: list[Sample] = []

    def add(category, gold, right, wrong, template="{reasoning} So the answer is \\boxed{{answer}}."):
        correct = rng.random() < 0.6
        text = template.replace("{reasoning}", reasoning(rng)).replace("{answer}", right if correct else wrong)
        samples.append(Sample(category, gold, text, correct))

    r1 = "<think>{reasoning}</think>\n<answer>{answer}</answer>"
    for _ in range(per_category):
        n = rng.randint(0, 5000)
        add("boxed_integer", str(n), str(n), str(n + rng.randint(1, 9)))
        n = rng.randint(0, 5000)
        add("answer_block_integer", str(n), str(n), str(n - rng.randint(1, 9)), r1)
        a, b = rng.randint(1, 30), rng.randint(31, 60)
        k = rng.randint(2, 5)
        add("fraction", f"\\frac{{{a}}}{{{b}}}", f"\\frac{{{k * a}}}{{{k * b}}}", f"\\frac{{{a + 1}}}{{{b}}}")
        q = rng.choice([2, 4, 5, 8, 10, 20, 25])
        p = rng.randint(1, q - 1)
        decimal = f"{p / q:g}"
        add("decimal_vs_fraction", decimal, f"\\frac{{{p}}}{{{q}}}", f"\\frac{{{p}}}{{{q + 1}}}")
        pct = rng.randint(1, 99)
        add("percentage", str(pct), f"{pct}\\%", f"{pct + rng.randint(1, 5)}\\%")
        elements = rng.sample(range(-20, 40), 3)
        shuffled = rng.sample(elements, 3)
        changed = [*shuffled[:2], shuffled[2] + 100]
        add(
            "set",
            "\\{" + ", ".join(map(str, sorted(elements))) + "\\}",
            "\\{" + ", ".join(map(str, shuffled)) + "\\}",
            "\\{" + ", ".join(map(str, changed)) + "\\}",
        )
        lo, hi = sorted(rng.sample(range(-30, 30), 2))
        add("interval", f"[{lo}, {hi})", f"[{lo},{hi})", f"({lo},{hi}]")
        a, c = rng.randint(1, 9), rng.randint(1, 30)
        add("expression", f"({a}x+{c})^2", f"{a * a}x^2+{2 * a * c}x+{c * c}", f"{a * a}x^2+{a * c}x+{c * c}")
        s = rng.choice([2, 3, 5, 6, 7])
        m = rng.randint(2, 6)
        add("radical", f"{m}\\sqrt{{{s}}}", f"\\sqrt{{{m * m * s}}}", f"\\sqrt{{{m * m * s + 1}}}")
        u = rng.randint(2, 500)
        unit = rng.choice(["cm", "meters", "dollars", "km"])
        add("units", str(u), f"{u} \\text{{ {unit}}}", f"{u + 1} \\text{{ {unit}}}")
        n = rng.randint(10, 999)
        add("final_answer_is", str(n), str(n), str(n * 2), "{reasoning} The final answer is ${answer}$.")
        n, step = rng.randint(10, 999), rng.randint(10, 999)
        add(
            "intermediate_boxed",
            str(n),
            str(n),
            str(n + 1),
            f"{{reasoning}} First, \\boxed{{{step}}} is the number of steps. Then the result is \\boxed{{{{answer}}}}.",
        )
        n = rng.randint(10, 999)
        add(
            "repeated_answer_blocks",
            str(n),
            str(n),
            str(n + 3),
            f"<think>{{reasoning}}</think><answer>{n + 3}</answer> wait, let me fix that. <answer>{{answer}}</answer>",
        )
        # answers outside the exact fast path: math-verify decides
        k = rng.randint(1, 12)
        add("pi", f"{k}\\pi", f"\\frac{{{2 * k}\\pi}}{{2}}", f"{k + 1}\\pi")
        a, b = rng.randint(2, 9), rng.randint(1, 20)
        add("equation", f"y = {a}x + {b}", f"y = {b} + {a}x", f"y = {a}x + {b + 1}")
        a, b = rng.randint(1, 20), rng.randint(2, 20)
        add("complex", f"{a} + {b}i", f"{b}i + {a}", f"{a} - {b}i")
        vector = rng.sample(range(-9, 10), 3)
        add("tuple", f"({vector[0]}, {vector[1]}, {vector[2]})", f"({vector[0]},{vector[1]},{vector[2]})",
            f"({vector[1]},{vector[0]},{vector[2]})")
        letter = rng.choice("ABCDE")
        add("choice", letter, f"\\text{{({letter})}}", f"\\text{{({'ABCDE'[('ABCDE'.index(letter) + 1) % 5]})}}")
        degrees = rng.choice([30, 45, 60, 90, 120, 135, 150])
        add("trig", f"\\cos {degrees}^\\circ", f"\\cos({degrees}^\\circ)", f"\\sin({degrees + 1}^\\circ)")
        samples.append(Sample("no_answer", str(rng.randint(1, 99)), reasoning(rng), False))
    rng.shuffle(samples)
    return samples


def fresh_workers() -> float:
    """Restart the verification workers and forget cached verdicts; return the seconds the start took."""
    shared_pool(math_reward.VERIFY_FUNCTION).close()
    math_reward.clear_cache()
    start = time.perf_counter()
    rewards.math_accuracy([r"\boxed{\sin x}"], [r"\sin x"])  # outside the exact path: starts the workers
    return time.perf_counter() - start


def score_in_batches(function, samples: list[Sample], messages: bool, **kwargs) -> tuple[list, float]:
    verdicts = []
    start = time.perf_counter()
    for offset in range(0, len(samples), BATCH):
        batch = samples[offset : offset + BATCH]
        completions = [[{"role": "assistant", "content": s.completion}] if messages else s.completion for s in batch]
        verdicts.extend(function(completions, [s.gold for s in batch], **kwargs))
    return verdicts, time.perf_counter() - start


def trl_accuracy(completions, golds):
    """TRL's reward, given the gold answers as LaTeX with `$` delimiters (it misreads many bare ones)."""
    from trl.rewards import accuracy_reward

    return accuracy_reward(completions, solution=[f"${gold}$" for gold in golds])


def ours(completions, golds):
    return rewards.math_accuracy(completions, answer=golds)


def compare(samples, trl_verdicts, our_verdicts) -> None:
    agree = sum(t == o for t, o in zip(trl_verdicts, our_verdicts))
    print(f"verdicts agree on {agree}/{len(samples)} completions ({100 * agree / len(samples):.1f}%)")
    ours_wrong = sum(o != float(s.correct) for s, o in zip(samples, our_verdicts))
    trl_wrong = sum(t != float(s.correct) for s, t in zip(samples, trl_verdicts))
    print(f"verdicts contradicting the known answer: ours {ours_wrong}, TRL {trl_wrong}  (of {len(samples)})")
    by_category: dict[str, Counter] = defaultdict(Counter)
    examples: dict[str, Sample] = {}
    for sample, t, o in zip(samples, trl_verdicts, our_verdicts):
        if t != o:
            truth = float(sample.correct)
            side = "TRL wrong" if o == truth else "ours wrong" if t == truth else "both wrong"
            by_category[sample.category][side] += 1
            examples.setdefault(f"{sample.category}/{side}", sample)
    if by_category:
        print("disagreements by category:")
        for category, counts in sorted(by_category.items()):
            print(f"  {category:24s} " + ", ".join(f"{side}: {n}" for side, n in sorted(counts.items())))
        print("an example of each:")
        for key, sample in sorted(examples.items()):
            text = sample.completion if len(sample.completion) < 160 else "…" + sample.completion[-150:]
            print(f"  [{key}] gold={sample.gold!r} correct={sample.correct}: {text!r}")


def decided_exactly(sample: Sample) -> bool:
    """True when `math_accuracy` needs no math-verify for this completion."""
    answer, gold = extract_answer(sample.completion), gold_text(sample.gold)
    return answer is None or gold is None or exact_verdict(gold, answer) is not None


def fast_path_share(samples) -> float:
    return sum(map(decided_exactly, samples)) / len(samples)


def verification_latency(samples, limit: int = 300) -> None:
    """Single math-verify verifications, in this process: what the default timeout must leave room for."""
    pairs = []
    for sample in samples:
        answer, gold = extract_answer(sample.completion), gold_text(sample.gold)
        if answer and gold and exact_verdict(gold, answer) is None:
            pairs.append((gold, answer))
    pairs = pairs[:limit]
    equivalence.verify_equivalence("1", "1")  # import math-verify before timing
    times = []
    for gold, answer in pairs:
        equivalence._parse.cache_clear()
        start = time.perf_counter()
        equivalence.verify_equivalence(gold, answer)
        times.append(time.perf_counter() - start)
    times.sort()
    p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
    print(
        f"math-verify latency per verification ({len(times)} non-plain pairs, one process): "
        f"median {1000 * statistics.median(times):.1f} ms, p99 {1000 * p99:.1f} ms, max {1000 * times[-1]:.1f} ms "
        f"(default timeout {math_reward.DEFAULT_TIMEOUT_S:g} s)"
    )


PATHOLOGICAL = {
    "power tower 9^{9^{9^9}}": "9^{9^{9^{9}}}",
    "factorial tower 10!!!!!!": "10!!!!!!",
    "nested fractions (depth 80)": "\\frac{1}{" * 80 + "2" + "}" * 80,
    "expansion (1+x)^{100000}": "(1+x)^{100000}",
}


def pathological() -> None:
    print(f"pathological answers (timeout {math_reward.DEFAULT_TIMEOUT_S:g} s):")
    for name, answer in PATHOLOGICAL.items():
        logged = {}
        start = time.perf_counter()
        score = rewards.math_accuracy([f"<answer>{answer}</answer>"], ["5"], log_extra=logged.__setitem__)
        print(f"  ours  {name:32s} -> {score[0]} ({logged['reason/math_accuracy'][0]}) in {time.perf_counter() - start:.2f} s")
    megabyte = "<answer>" + "9" * 1_000_000 + "</answer>"
    start = time.perf_counter()
    logged = {}
    score = rewards.math_accuracy([megabyte], ["5"], log_extra=logged.__setitem__)
    print(f"  ours  {'megabyte-long answer':32s} -> {score[0]} ({logged['reason/math_accuracy'][0]}) in {time.perf_counter() - start:.2f} s")


def trl_off_main_thread_hang(limit_s: float = 15.0) -> None:
    """TRL's accuracy_reward called from a thread (its timeouts are off there) on the power tower."""
    script = textwrap.dedent(
        """
        import threading
        from trl.rewards import accuracy_reward
        thread = threading.Thread(target=accuracy_reward, args=([[{"content": r"\\boxed{9^{9^{9^{9}}}}"}]], ["5"]))
        thread.start(); thread.join()
        """
    )
    start = time.perf_counter()
    try:
        subprocess.run([sys.executable, "-c", script], timeout=limit_s, capture_output=True, check=False)
        print(f"  TRL   power tower, off the main thread  -> returned after {time.perf_counter() - start:.1f} s")
    except subprocess.TimeoutExpired:
        print(f"  TRL   power tower, off the main thread  -> no verdict after {limit_s:g} s (killed)")


def bench_code() -> None:
    path = ROOT / "bench" / "rewards_code.py"
    if not path.exists():
        print("code tests: bench/rewards_code.py is missing (the code sandbox's benchmark); skipped")
        return
    spec = importlib.util.spec_from_file_location("bench_rewards_code", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.main()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-category", type=int, default=150, help="completions per category (20 categories)")
    parser.add_argument("--quick", action="store_true", help="40 per category, no TRL hang demo")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    per_category = 40 if args.quick else args.per_category

    samples = make_corpus(per_category, args.seed)
    print(f"== math: {len(samples)} completions, {len(set(s.category for s in samples))} categories, batches of {BATCH}")
    print(f"completions decided by the exact fast path (no math-verify): {100 * fast_path_share(samples):.0f}%")

    # Both sides first score a warm-up corpus of the same kind (another seed), as a trainer does in its
    # first steps: imports, parser tables and sympy caches are then warm, as they are for the rest of a run.
    warmup = make_corpus(max(10, per_category // 4), args.seed + 1)
    start_s = fresh_workers()
    _, our_cold = score_in_batches(ours, warmup, messages=False)
    _, trl_cold = score_in_batches(trl_accuracy, warmup, messages=True)
    print(
        f"warm-up on {len(warmup)} other completions: ours {our_cold:.2f} s (of which {start_s:.2f} s starting the "
        f"workers), TRL {trl_cold:.2f} s"
    )
    math_reward.clear_cache()

    trl_verdicts, trl_time = score_in_batches(trl_accuracy, samples, messages=True)
    our_verdicts, our_time = score_in_batches(ours, samples, messages=False)
    print(f"TRL accuracy_reward  : {trl_time:6.2f} s  {len(samples) / trl_time:8.0f} completions/s")
    print(
        f"rewards.math_accuracy: {our_time:6.2f} s  {len(samples) / our_time:8.0f} completions/s  "
        f"= {trl_time / our_time:.1f}x TRL ({math_reward.shared_pool(math_reward.VERIFY_FUNCTION).workers} workers)"
    )
    compare(samples, trl_verdicts, our_verdicts)

    # The figure above depends on how many answers the exact path decides. On answers it cannot decide,
    # both sides run math-verify: a fresh corpus (another seed), only those answers.
    hard = [sample for sample in make_corpus(per_category, args.seed + 2) if not decided_exactly(sample)]
    math_reward.clear_cache()
    _, trl_hard = score_in_batches(trl_accuracy, hard, messages=True)
    _, our_hard = score_in_batches(ours, hard, messages=False)
    print(
        f"only answers that need math-verify ({len(hard)}, {', '.join(sorted({s.category for s in hard}))}): "
        f"TRL {len(hard) / trl_hard:.0f}/s, ours {len(hard) / our_hard:.0f}/s = {trl_hard / our_hard:.1f}x TRL"
    )
    verification_latency(samples)
    pathological()
    if not args.quick:
        trl_off_main_thread_hang()
    print("== code")
    bench_code()


if __name__ == "__main__":
    main()
