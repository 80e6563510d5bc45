"""Per-step cost of rl-reasoner over a bare ``trl.GRPOTrainer`` with the same GRPO settings.

Bare TRL gets the cheapest possible rewards (a regex on the last ``<answer>`` block and a tag check; TRL's own
``accuracy_reward`` only takes chat completions) and nothing else; rl-reasoner gets its full job (our rewards with reasons, the length-recording trainer, behaviour
metrics, metrics/samples files, probe prompts, the progress summary). Learning rate 0 keeps the model fixed, so
both trainers sample the same completions from the same seed and the difference is the project's own work.
In-training evaluation is off in both (it is not per-step work and is reported by the run itself).

    python bench/step_overhead.py                    # embedded default model, 10 timed steps
    python bench/step_overhead.py --steps 6 --model /path/to/checkpoint
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

# bench/rewards.py would shadow the `rewards` package when this script runs from bench/.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from transformers import TrainerCallback


class StepTimer(TrainerCallback):
    """Step end times, and the mean completion length TRL logs, to check both trainers did the same work."""

    def __init__(self):
        self.ends: list[float] = []
        self.lengths: list[float] = []

    def on_step_end(self, args, state, control, **kwargs):
        self.ends.append(time.perf_counter())

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "completions/mean_length" in logs:
            self.lengths.append(logs["completions/mean_length"])

    def step_times(self) -> list[float]:
        return [b - a for a, b in zip(self.ends, self.ends[1:])]  # the first step (warm-up) is not timed


def string_match(completions, solution, **kwargs):
    """The cheapest possible accuracy reward: the last <answer> block equals the gold string."""
    out = []
    for text, gold in zip(completions, solution):
        found = re.findall(r"<answer>(.*?)</answer>", text, re.S)
        out.append(float(bool(found) and found[-1].strip() == gold))
    return out


def tags_present(completions, **kwargs):
    """The cheapest possible format reward."""
    return [float("</think>" in c and "<answer>" in c) for c in completions]


def bare_trl(job, args, timer) -> list[float]:
    from datasets import Dataset
    from trl import GRPOTrainer

    from rl_reasoner.model import load_model

    rows = [{"prompt": r["prompt"], "solution": r["answer"]} for r in job.train_rows]
    trainer = GRPOTrainer(model=load_model(job.model_path, job.config.model), processing_class=job.tokenizer,
                          reward_funcs=[string_match, tags_present], args=args,
                          train_dataset=Dataset.from_list(rows), callbacks=[timer])
    trainer.train()
    return timer.step_times()


def ours(config, timer) -> list[float]:
    from rl_reasoner.train import train

    train(config, callbacks=[timer])
    return timer.step_times()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/default.yaml")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (one more is run as warm-up)")
    parser.add_argument("--model", help="override model.name")
    opts = parser.parse_args()

    from rl_reasoner.config import load_config
    from rl_reasoner.train import grpo_args, prepare

    out = tempfile.mkdtemp(prefix="step-overhead-")
    overrides = [f"run.steps={opts.steps + 1}", "grpo.learning_rate=0.0", f"run.output_dir={out}",
                 "eval.at_start=false", "eval.num_examples=1", "eval.every=0", "grpo.save_steps=100000",
                 "behaviour.probe_every=5"]
    if opts.model:
        overrides.append(f"model.name={opts.model}")
    config = load_config(opts.config, overrides)
    job = prepare(config)
    args = grpo_args(config, job)
    args.output_dir = f"{out}/bare"

    bare_timer, our_timer = StepTimer(), StepTimer()
    bare = bare_trl(job, args, bare_timer)
    mine = ours(config, our_timer)
    b, m = statistics.median(bare), statistics.median(mine)
    print(f"\nsteps timed: {len(bare)} bare TRL, {len(mine)} rl-reasoner ({config.model.name}, "
          f"{config.grpo.get('per_device_train_batch_size')} completions x {config.grpo.get('max_completion_length')} tokens)")
    print(f"bare trl.GRPOTrainer   median step {b:.3f} s   mean {statistics.mean(bare):.3f} s")
    print(f"rl-reasoner train      median step {m:.3f} s   mean {statistics.mean(mine):.3f} s")
    if bare_timer.lengths and our_timer.lengths:
        print(f"mean completion length: bare {statistics.mean(bare_timer.lengths):.2f} tokens, rl-reasoner "
              f"{statistics.mean(our_timer.lengths):.2f} tokens (equal when both sampled the same completions)")
    print(f"overhead (median ratio - 1): {100 * (m / b - 1):+.1f}%   (mean ratio - 1: "
          f"{100 * (statistics.mean(mine) / statistics.mean(bare) - 1):+.1f}%)")


if __name__ == "__main__":
    main()
