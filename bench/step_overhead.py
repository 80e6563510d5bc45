"""Per-step cost of rl-reasoner against a bare ``trl.GRPOTrainer`` with the same GRPO settings, interleaved.

Bare TRL gets the cheapest possible rewards (a regex on the last ``<answer>`` block and a tag check; TRL's own
``accuracy_reward`` only takes chat completions) and nothing else; rl-reasoner gets its full job (our rewards with
reasons, the shared-prompt training pass and prefill, the length-recording trainer, behaviour metrics,
metrics/samples files, probe prompts, the progress summary). Learning rate 0 keeps the model fixed, so both trainers
sample the same completions from the same seed (the per-step mean completion lengths are printed side by side) and
the difference is the project's own work. In-training evaluation is off in both.

The two run in turns (bare, ours, ours, bare, bare, ...: ``--rounds`` rounds of ``--steps`` timed steps each, after
one warm-up step per run), so a load that comes and goes on a shared machine hits both sides alike; the 1-minute
load average is printed with the figures.

    python bench/step_overhead.py                              # embedded default model, 3 rounds x 3 steps
    python bench/step_overhead.py --rounds 2 --steps 2 --set model.shared_prompt=false
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time

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


def spread(times: list[float]) -> str:
    return (f"median {statistics.median(times):6.2f} s   mean {statistics.mean(times):6.2f} s   "
            f"min {min(times):6.2f}   max {max(times):6.2f}   n={len(times)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/default.yaml")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per run (one more is run as warm-up)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side, alternated")
    parser.add_argument("--model", help="override model.name")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra config override for rl-reasoner's side (e.g. model.shared_prompt=false)")
    opts = parser.parse_args()

    from rl_reasoner.config import load_config
    from rl_reasoner.job import grpo_args, prepare

    out = tempfile.mkdtemp(prefix="step-overhead-")
    overrides = [f"run.steps={opts.steps + 1}", "grpo.learning_rate=0.0", f"run.output_dir={out}",
                 "eval.at_start=false", "eval.num_examples=1", "eval.every=0", "grpo.save_steps=100000",
                 "behaviour.probe_every=5", "run.time_budget_minutes=null"]
    if opts.model:
        overrides.append(f"model.name={opts.model}")
    base_config = load_config(opts.config, overrides)
    job = prepare(base_config)

    times = {"bare": [], "ours": []}
    lengths = {"bare": [], "ours": []}
    loads = [os.getloadavg()[0]]
    for r in range(opts.rounds):
        for side in (("bare", "ours") if r % 2 == 0 else ("ours", "bare")):
            timer = StepTimer()
            if side == "bare":
                args = grpo_args(base_config, job)
                args.output_dir = f"{out}/bare-{r}"
                times[side] += bare_trl(job, args, timer)
            else:
                times[side] += ours(load_config(opts.config, overrides + [f"run.name=ours-{r}"] + opts.set), timer)
            lengths[side].append(timer.lengths)
            loads.append(os.getloadavg()[0])
            print(f"[step_overhead] round {r + 1} {side}: steps {', '.join(f'{t:.2f}' for t in times[side][-opts.steps:])} s"
                  f"  (load {loads[-1]:.1f})", flush=True)

    b, m = times["bare"], times["ours"]
    print(f"\n{opts.rounds} rounds x {opts.steps} timed steps, interleaved ({base_config.model.name}, "
          f"{base_config.grpo.get('per_device_train_batch_size')} completions x "
          f"{base_config.grpo.get('max_completion_length')} tokens; ours with {opts.set or 'the defaults'})")
    print(f"1-minute load average during the runs: {min(loads):.1f} to {max(loads):.1f} on {os.cpu_count()} cores")
    print(f"bare trl.GRPOTrainer   {spread(b)}")
    print(f"rl-reasoner train      {spread(m)}")
    print(f"ratio ours/bare: median {statistics.median(m) / statistics.median(b):.2f}   "
          f"mean {statistics.mean(m) / statistics.mean(b):.2f}")
    print(f"per-step mean completion length, first round: bare {lengths['bare'][0]}, ours {lengths['ours'][0]} "
          f"(equal when both sampled the same completions)")


if __name__ == "__main__":
    main()
