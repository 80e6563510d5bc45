"""Where one training step's time goes: generation (prefill, decode, the rest of ``generate``), reward scoring,
old/reference log-probs, the loss forward, backward, gradient clipping, the optimiser, our callbacks, and the rest.

Each phase is timed from inside a real ``rl-reasoner train`` job by wrapping the trainer's own methods (TRL's
``_generate_single_turn``, ``_calculate_rewards``, ``_get_per_token_logps_and_entropies``, ``_compute_loss``,
``accelerator.backward``, ...) and forward hooks on the model while it generates; the first step is a warm-up and is
not counted. Two jobs:

* ``default``: ``configs/default.yaml`` as shipped (SmolLM2-135M, 2 prompts x 8 completions of <= 40 tokens);
* ``gpu-shaped``: the structure of the GPU recipes (``configs/gpu/*``: 8 completions per prompt, 2 accumulation steps
  per optimiser step, long completions, temperature 1.0) on a tiny random Llama with a character tokenizer
  (``tests/tiny.py``), whose prompts are long (~400 tokens), like the long problem statements of code tasks.

    python bench/step_profile.py                       # both jobs, 3 timed steps each
    python bench/step_profile.py --job default --steps 5 --set model.shared_prompt=false

Learning rate 0 (the model stays fixed, so every step does the same kind of work). Shares are what to read on a busy
machine; absolute seconds depend on its load (``uptime`` is printed).
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

from transformers import TrainerCallback

PHASES = ["generation: prefill", "generation: decode", "generation: rest of generate", "rewards",
          "old/ref log-probs", "generation batch: rest", "loss forward", "backward", "grad clipping", "optimiser",
          "our callbacks", "other (TRL/Trainer bookkeeping)"]


class StepProfiler(TrainerCallback):
    """Accumulates the time of each phase; installs its timers on the trainer given to :meth:`attach`."""

    def __init__(self):
        self.totals = collections.defaultdict(float)
        self.steps = 0
        self.step_time = 0.0
        self._last_end = None
        self._generating = False
        self._first_forward = False
        self._in_scoring = False
        self._opt_start = None
        self.counted: dict[str, float] = {}

    # -- timers ---------------------------------------------------------------------------------------------

    def _wrap(self, owner, name, phase, before=None, after=None):
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            if before:
                before()
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                if after:
                    after()
                if phase:
                    self.totals[phase(*args, **kwargs) if callable(phase) else phase] += elapsed
                    self.totals["_raw:" + name] += elapsed

        setattr(owner, name, timed)

    def attach(self, trainer) -> None:
        model = trainer.model.get_base_model() if hasattr(trainer.model, "get_base_model") else trainer.model
        starts = {}

        def pre(module, args, kwargs):
            if self._generating:
                starts["t"] = time.perf_counter()

        def post(module, args, kwargs, output):
            if self._generating and "t" in starts:
                phase = "generation: prefill" if self._first_forward else "generation: decode"
                self._first_forward = False
                self.totals[phase] += time.perf_counter() - starts.pop("t")

        model.register_forward_pre_hook(pre, with_kwargs=True)
        model.register_forward_hook(post, with_kwargs=True)

        def gen_on():
            self._generating, self._first_forward = True, True

        def gen_off():
            self._generating = False

        def scoring_on():
            self._in_scoring = True

        def scoring_off():
            self._in_scoring = False

        self._wrap(trainer, "_generate_single_turn", "_generate", gen_on, gen_off)
        self._wrap(trainer, "_calculate_rewards", "rewards")
        self._wrap(trainer, "_generate_and_score_completions", "_generation_batch", scoring_on, scoring_off)
        self._wrap(trainer, "_get_per_token_logps_and_entropies",
                   lambda *a, **k: "old/ref log-probs" if self._in_scoring else "_loss_logps")
        self._wrap(trainer, "_compute_loss", "loss forward")
        self._wrap(trainer.accelerator, "backward", "backward")
        self._wrap(trainer.accelerator, "clip_grad_norm_", "grad clipping")
        for callback in trainer.callback_handler.callbacks:
            if type(callback).__module__.startswith("rl_reasoner"):
                for event in [n for n in dir(callback) if n.startswith("on_")]:
                    self._wrap(callback, event, "our callbacks")

    # -- steps ----------------------------------------------------------------------------------------------

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        self._opt_start = time.perf_counter()

    def on_optimizer_step(self, args, state, control, **kwargs):
        if self._opt_start is not None:
            self.totals["optimiser"] += time.perf_counter() - self._opt_start

    def on_step_end(self, args, state, control, **kwargs):
        now = time.perf_counter()
        if self._last_end is None:  # warm-up step: start counting from here
            self.totals.clear()
        else:
            self.steps += 1
            self.step_time += now - self._last_end
        self._last_end = now
        self.counted = dict(self.totals)  # what ran up to this step's end: later callbacks belong to the next step

    def table(self) -> list[tuple[str, float]]:
        t = collections.defaultdict(float, self.counted)
        generate = t["_raw:_generate_single_turn"]
        phases = dict.fromkeys(PHASES, 0.0)
        phases["generation: prefill"] = t["generation: prefill"]
        phases["generation: decode"] = t["generation: decode"]
        phases["generation: rest of generate"] = generate - t["generation: prefill"] - t["generation: decode"]
        phases["rewards"] = t["rewards"]
        phases["old/ref log-probs"] = t["old/ref log-probs"]
        phases["generation batch: rest"] = (t["_generation_batch"] - generate - t["rewards"]
                                            - t["old/ref log-probs"])
        for name in ("loss forward", "backward", "grad clipping", "optimiser", "our callbacks"):
            phases[name] = t[name]
        phases["other (TRL/Trainer bookkeeping)"] = self.step_time - sum(phases.values())
        return [(name, value / max(self.steps, 1)) for name, value in phases.items()]


def tiny_model(path: Path) -> Path:
    import importlib.util

    spec = importlib.util.spec_from_file_location("tiny", REPO / "tests" / "tiny.py")  # the tests' tiny model
    tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny)
    return tiny.make_model_dir(path, hidden_size=64, layers=4)


def job_overrides(job: str, out: str, steps: int) -> list[str]:
    common = [f"run.steps={steps + 1}", "grpo.learning_rate=0.0", f"run.output_dir={out}", f"run.name={job}",
              "eval.at_start=false", "eval.num_examples=1", "eval.every=0", "grpo.save_steps=100000",
              "run.time_budget_minutes=null"]
    if job == "default":
        return common
    model = tiny_model(Path(out) / "tiny-model")
    return common + [f"model.name={model}", "grpo.num_generations=8", "grpo.per_device_train_batch_size=16",
                     "grpo.gradient_accumulation_steps=2", "grpo.max_completion_length=128",
                     "grpo.temperature=1.0", "behaviour.num_probes=0"]


def profile(job: str, steps: int, extra: list[str]) -> StepProfiler:
    import rl_reasoner.trainer as trainer_module
    from rl_reasoner.config import load_config
    from rl_reasoner.train import train

    profiler = StepProfiler()
    original_init = trainer_module.ReasonerTrainer.__init__

    def init_and_attach(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.add_callback(profiler)
        profiler.pending = self

    out = tempfile.mkdtemp(prefix=f"step-profile-{job}-")
    config = load_config(str(REPO / "configs/default.yaml"), job_overrides(job, out, steps) + extra)
    original_train = trainer_module.ReasonerTrainer.train

    def train_attached(self, *args, **kwargs):
        profiler.attach(self)  # after train.py added its callbacks, so ours are all wrapped
        return original_train(self, *args, **kwargs)

    trainer_module.ReasonerTrainer.__init__ = init_and_attach
    trainer_module.ReasonerTrainer.train = train_attached
    try:
        train(config)
    finally:
        trainer_module.ReasonerTrainer.__init__ = original_init
        trainer_module.ReasonerTrainer.train = original_train
    return profiler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--job", choices=["default", "gpu-shaped", "both"], default="both")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per job (one more runs as warm-up)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra config override")
    opts = parser.parse_args()
    jobs = ["default", "gpu-shaped"] if opts.job == "both" else [opts.job]
    results = {job: profile(job, opts.steps, opts.set) for job in jobs}
    import torch

    print(f"\nload: {os.getloadavg()[0]:.2f} (1-min average; {os.cpu_count()} cores), torch threads "
          f"{torch.get_num_threads()}, overrides {opts.set or 'none'}")
    for job, profiler in results.items():
        rows = profiler.table()
        total = profiler.step_time / max(profiler.steps, 1)
        print(f"\n{job}: {profiler.steps} timed steps, {total:.2f} s per step")
        for name, seconds in rows:
            print(f"  {name:34s} {seconds:7.3f} s  {100 * seconds / total:5.1f}%")


if __name__ == "__main__":
    main()
