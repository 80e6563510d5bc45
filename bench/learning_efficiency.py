"""Learning efficiency of the sampling methods: held-out accuracy against training time and generated tokens.

    nice -n 10 .venv/bin/python bench/learning_efficiency.py [--config configs/default.yaml] [--budget-minutes 10 |
        --budget-tokens 40] [--evals 5] [--methods plain,dynamic,curriculum] [--seeds 0] [--eval-examples 50]
        [--set grpo.learning_rate=3e-5 ...] [--pass-rates runs/pass_rates/default.json] [--out results.json]

Trains the same job once per method and seed, with the same seed and the same budget (training time, or generated
completion tokens with ``--budget-tokens``):

* ``plain``      — TRL's sampling (``sampling.dynamic=false``, ``sampling.curriculum=false``);
* ``dynamic``    — dynamic sampling (zero-variance groups replaced by fresh prompts);
* ``curriculum`` — dynamic sampling plus the pass-rate curriculum (started from ``--pass-rates``, the file of
  ``rl-reasoner difficulty``, when given: the cost of that offline pass is not in the budget; it is reported apart).

At the start and ``--evals`` times over the budget it scores greedy accuracy on the first ``--eval-examples``
held-out examples; the clock is paused while it evaluates, so evaluation does not eat into the budget. The
learning-rate schedule is made constant (a budget has no known number of steps to decay over). Prints accuracy at
equal training time and at equal generated completion tokens, and a summary with the share of zero-variance groups
each method generated; ``--out`` writes every point as JSON. Runs are sequential: on a shared machine the time axis
is only comparable when the load was steady (the load average at the start and end of each run is printed and
recorded); the token axis does not depend on the load.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


from transformers import TrainerCallback

METHODS = {
    "plain": {"sampling.dynamic": False, "sampling.curriculum": False},
    "dynamic": {"sampling.dynamic": True, "sampling.curriculum": False},
    "curriculum": {"sampling.dynamic": True, "sampling.curriculum": True},
}
"""Each method as config overrides on top of the job file."""


class Budget(TrainerCallback):
    """Stops training once ``limit`` is reached in ``measure`` units (``train_s``: seconds of training time,
    evaluation excluded; ``completion_tokens``: generated completion tokens); evaluates at the start and ``evals``
    times evenly over the budget (with the clock paused) and records the points."""

    def __init__(self, evaluate_fn, measure: str, limit: float, evals: int):
        if measure not in ("train_s", "completion_tokens"):
            raise ValueError(f"unknown budget measure {measure!r}")
        self.evaluate_fn = evaluate_fn
        """``evaluate_fn() -> dict`` of held-out metrics (``accuracy`` at least)."""
        self.measure = measure
        self.limit = limit
        self.every = limit / max(1, evals)
        self.trainer = None
        self.points: list[dict] = []
        self.train_s = 0.0
        self._next_eval = self.every
        self._clock = 0.0

    def progress(self) -> float:
        return self.train_s if self.measure == "train_s" else self.trainer.completion_tokens

    def on_train_begin(self, args, state, control, **kwargs):
        self.record(state)
        self._clock = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.train_s += time.perf_counter() - self._clock
        done = self.progress() >= self.limit
        if done or self.progress() >= self._next_eval:
            self.record(state)
            while self._next_eval <= self.progress():
                self._next_eval += self.every
        if done:
            control.should_training_stop = True
        self._clock = time.perf_counter()

    def record(self, state) -> None:
        metrics = self.evaluate_fn()
        point = {"step": state.global_step, "train_s": round(self.train_s, 1),
                 "completion_tokens": self.trainer.completion_tokens, "accuracy": metrics["accuracy"],
                 "format": metrics.get("behaviour/format_adherence")}
        self.points.append(point)
        print(f"[bench] step {point['step']:4d}  {point['train_s'] / 60:6.1f} min  {point['completion_tokens']:8d} "
              f"tokens  accuracy {point['accuracy']:.3f}", flush=True)


def run_method(config_path: str, method: str, seed: int, overrides: list[str], budget: Budget,
               eval_examples: int) -> dict:
    """Train one method for the budget; return its evaluation points and training summary."""
    from transformers import set_seed
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from rl_reasoner.config import load_config
    from rl_reasoner.evaluate import evaluate_model
    from rl_reasoner.model import load_model
    from rl_reasoner.job import prepare
    from rl_reasoner.train import build_trainer

    method_overrides = [f"{k}={str(v).lower()}" for k, v in METHODS[method].items()]
    config = load_config(config_path, [*overrides, *method_overrides, f"run.seed={seed}", "run.steps=100000",
                                       f"run.name=bench-{method}-{seed}", "run.output_dir=/tmp/rl-reasoner-bench",
                                       "grpo.lr_scheduler_type=constant", 'grpo.save_strategy="no"',
                                       "grpo.disable_tqdm=true"])
    set_seed(seed)
    job = prepare(config)
    model = load_model(job.model_path, config.model)
    rows = job.eval_rows[:eval_examples or None]

    def held_out() -> dict:
        metrics, _ = evaluate_model(trainer.accelerator.unwrap_model(trainer.model), job.tokenizer, rows,
                                    accuracy_reward=job.accuracy_reward, format_reward=job.format_reward,
                                    max_new_tokens=job.max_new_tokens, batch_size=config.eval.batch_size)
        return metrics

    budget.evaluate_fn = held_out
    trainer = build_trainer(config, job, model=model)
    budget.trainer = trainer
    trainer.add_callback(budget)
    trainer.remove_callback(PrinterCallback)  # the bench prints its own lines
    trainer.remove_callback(ProgressCallback)
    load_before = os.getloadavg()[0]
    print(f"[bench] {method} (seed {seed}): budget {budget.limit:g} {budget.measure}, load {load_before:.2f}",
          flush=True)
    trainer.train()
    logs = [h for h in trainer.state.log_history if "reward" in h]
    kept = ("step", "reward", f"rewards/{job.accuracy_reward_name}/mean", "frac_reward_zero_std",
            "sampling/extra_rounds", "sampling/informative_share", "sampling/completion_tokens")
    return {
        "method": method, "seed": seed, "points": budget.points, "steps": trainer.state.global_step,
        "train_log": [{k: h[k] for k in kept if k in h} for h in logs],
        "train_accuracy_last_quarter": _mean(h.get(f"rewards/{job.accuracy_reward_name}/mean")
                                             for h in logs[len(logs) * 3 // 4:]),
        "load_start": load_before, "load_end": os.getloadavg()[0],
        "frac_reward_zero_std": _mean(h.get("frac_reward_zero_std") for h in logs),
        "informative_share": _mean(h.get("sampling/informative_share") for h in logs),
        "extra_rounds": _mean(h.get("sampling/extra_rounds") for h in logs),
    }


def accuracy_at(points: list[dict], key: str, x: float) -> float | None:
    """The accuracy of the last evaluation at or before ``x`` (in ``key`` units); None when none was made by then.

    >>> accuracy_at([{"t": 0, "accuracy": 0.1}, {"t": 5, "accuracy": 0.3}], "t", 4)
    0.1
    """
    seen = [p["accuracy"] for p in points if p[key] <= x]
    return seen[-1] if seen else None


def table(results: list[dict], key: str, xs: list[float], label: str, scale: float = 1.0) -> str:
    """Accuracy of each run at the given x positions (``key``: ``train_s`` or ``completion_tokens``)."""
    names = [run_label(r) for r in results]
    lines = [f"{label:>12} | " + " | ".join(f"{n:>14}" for n in names)]
    lines.append("-" * len(lines[0]))
    for x in xs:
        cells = [accuracy_at(r["points"], key, x) for r in results]
        lines.append(f"{x / scale:12.1f} | " + " | ".join(f"{'-' if c is None else f'{c:.3f}':>14}" for c in cells))
    return "\n".join(lines)


def run_label(result: dict) -> str:
    """``method/s<seed>``, the name of a run in every printed table."""
    return f"{result['method']}/s{result['seed']}"


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/default.yaml")
    parser.add_argument("--budget-minutes", type=float, default=10.0, help="training time per run")
    parser.add_argument("--budget-tokens", type=float, help="generated completion tokens per run (thousands); "
                        "replaces the time budget: unlike time, it does not depend on the machine's load")
    parser.add_argument("--evals", type=int, default=5, help="evaluations over the budget, besides the one at start")
    parser.add_argument("--methods", default="plain,dynamic,curriculum")
    parser.add_argument("--seeds", default="0", help="comma-separated")
    parser.add_argument("--eval-examples", type=int, default=50)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")
    parser.add_argument("--pass-rates", help="pass-rate file (rl-reasoner difficulty) seeding the curriculum method; "
                        "'{seed}' in the name is replaced by the seed (the training prompts depend on it)")
    parser.add_argument("--out", help="write all points as JSON here")
    args = parser.parse_args()
    methods = args.methods.split(",")
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}; choose from {list(METHODS)}")

    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    measure, limit = ("completion_tokens", args.budget_tokens * 1000) if args.budget_tokens else \
        ("train_s", args.budget_minutes * 60)
    results = []
    for seed in args.seeds.split(","):
        for method in methods:
            overrides = list(args.overrides)
            if method == "curriculum" and args.pass_rates:
                overrides.append(f"sampling.pass_rates={args.pass_rates.format(seed=seed)}")
            results.append(run_method(args.config, method, int(seed), overrides,
                                      Budget(None, measure, limit, args.evals), args.eval_examples))

    longest = min(max(p["train_s"] for p in r["points"]) for r in results)
    print("\nheld-out accuracy (greedy) at equal training time, minutes:")
    print(table(results, "train_s", [longest * i / args.evals for i in range(args.evals + 1)], "minutes", scale=60))
    most = min(max(p["completion_tokens"] for p in r["points"]) for r in results)
    tokens = [most * i / args.evals for i in range(args.evals + 1)]
    print("\nheld-out accuracy at equal generated completion tokens (thousands):")
    print(table(results, "completion_tokens", tokens, "k tokens", scale=1000))
    print("\nevery evaluation, as accuracy (training minutes / k completion tokens); the tables above show, at each grid"
          "\npoint, the last evaluation made by then, so they lag an evaluation made just after a grid point:")
    for r in results:
        print(f"{run_label(r):>16} | " + "  ".join(
            f"{p['accuracy']:.3f} ({p['train_s'] / 60:.1f} / {p['completion_tokens'] / 1000:.1f}k)" for p in r["points"]))
    print("\nsummary:")
    print(f"{'run':>16} | steps | k tokens | zero-std groups | informative trained | extra rounds | acc start | "
          f"acc end | sampled acc, last 1/4 | load")
    for r in results:
        def fmt(v):
            return "-" if v is None else f"{v:.2f}"
        end = r["points"][-1]
        print(f"{run_label(r):>16} | {r['steps']:5d} | {end['completion_tokens'] / 1000:8.1f} | "
              f"{fmt(r['frac_reward_zero_std']):>15} | {fmt(r['informative_share']):>19} | "
              f"{fmt(r['extra_rounds']):>12} | {r['points'][0]['accuracy']:9.3f} | {end['accuracy']:7.3f} | "
              f"{fmt(r['train_accuracy_last_quarter']):>20} | {r['load_start']:.1f}-{r['load_end']:.1f}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"started": started, "args": vars(args), "results": results}, indent=1))
        print(f"\nwritten: {args.out}")


if __name__ == "__main__":
    main()
