"""Cost of the behaviour metrics per completion, as the live callback pays it on every logged step.

    .venv/bin/python bench/behaviour.py [--batch 256] [--words 300] [--repeats 20]

Builds a batch of reasoning-like completions (markers, some looping text, some Chinese), then times
``batch_metrics`` over the whole batch and ``marker_flags`` alone, and prints microseconds per completion.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from rl_reasoner.behaviour import batch_metrics, marker_flags

SENTENCES = [
    "First, we need to find the sum of the two numbers.",
    "Let me compute 17 + 25 step by step: 17 + 20 = 37 and 37 + 5 = 42.",
    "Wait, let me recheck that addition.",
    "Alternatively, we can add the tens and the ones separately.",
    "To make sure, substitute back into the equation.",
    "Case 1: x is even. Case 2: x is odd.",
    "So the answer is 42.",
    "However, that is wrong because I forgot the carry.",
    "我们需要计算这个和。",
]


def make_batch(size: int, words: int, seed: int = 0) -> tuple[list[str], list[str], list[int]]:
    """Completions of about ``words`` words, a tenth of them stuck in a loop, with their prompts and token counts."""
    rng = random.Random(seed)
    completions = []
    for i in range(size):
        parts: list[str] = []
        while sum(len(p.split()) for p in parts) < words:
            parts.append(rng.choice(SENTENCES) if i % 10 else SENTENCES[1])
        completions.append(" ".join(parts))
    prompts = ["What is 17 + 25? Think step by step."] * size
    num_tokens = [int(len(c.split()) * 1.3) for c in completions]
    return completions, prompts, num_tokens


def time_per_item(fn, items: int, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs, in microseconds per item."""
    fn()  # warm the regex and script caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) / items * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256, help="completions per logged step")
    parser.add_argument("--words", type=int, default=300, help="words per completion")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    completions, prompts, num_tokens = make_batch(args.batch, args.words)
    size = len(completions)
    truncated = [i % 7 == 0 for i in range(size)]
    correct = [None if i % 11 == 0 else i % 3 == 0 for i in range(size)]
    formatted = [i % 2 == 0 for i in range(size)]

    def whole_batch():
        return batch_metrics(
            completions,
            num_tokens=num_tokens,
            truncated=truncated,
            correct=correct,
            formatted=formatted,
            prompts=prompts,
        )

    def markers_only():
        return [marker_flags(text) for text in completions]

    chars = statistics.mean(len(c) for c in completions)
    print(
        f"batch of {size} completions, {args.words} words ({chars:.0f} characters) each, median of {args.repeats} runs"
    )
    print(f"batch_metrics: {time_per_item(whole_batch, size, args.repeats):8.1f} us per completion")
    print(f"marker_flags:  {time_per_item(markers_only, size, args.repeats):8.1f} us per completion")
    per_step_ms = time_per_item(whole_batch, size, args.repeats) * size / 1000
    print(f"one logged step of {size} completions: {per_step_ms:.1f} ms")


if __name__ == "__main__":
    main()
