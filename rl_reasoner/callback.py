"""The behaviour callback: what a run records about how the reasoning changes, live, every logged step.

Each logged step it

1. computes ``behaviour/*`` from the step's completions (``rl_reasoner.behaviour``) and adds them to the
   trainer's logs, so they reach tensorboard / wandb / trackio with TRL's own metrics;
2. appends the step's metrics to ``metrics.jsonl`` and a few completions (with rewards, reasons and behaviour
   flags) to ``samples.jsonl``;
3. prints a one-line summary under the progress bar.

Every ``behaviour.probe_every`` steps it answers the fixed probe prompts (greedy) into ``samples.jsonl``, and at
step 0, every ``eval.every`` steps and at the end it evaluates on the held-out split into ``eval.jsonl``.
Only the main process writes.
"""

from __future__ import annotations

import random
import time

from transformers import TrainerCallback
from transformers.trainer_callback import ProgressCallback

from rl_reasoner import behaviour, chain_steps, strata
from rl_reasoner.evaluate import evaluate, generate, score
from rl_reasoner.preemption import any_rank
from rl_reasoner.rundir import RunDir


class BehaviourCallback(TrainerCallback):
    def __init__(self, run: RunDir, job, trainer=None):
        self.run = run
        self.job = job
        """The prepared job (``rl_reasoner.train.Job``): config, rows, reward functions, tokenizer."""
        self.trainer = trainer
        cfg = job.config
        self.markers = behaviour.load_markers(cfg.behaviour.markers or None)
        self.rows_by_prompt = {row["prompt"]: row for row in job.train_rows}
        self.probes = job.eval_rows[: cfg.behaviour.num_probes]
        self.last_eval_step: int | None = None
        self.started = time.time()
        """When the run's clock reads 0: `time` in metrics.jsonl and the time budget count from here; a resumed run
        sets it back by the time already recorded, so the clock continues instead of restarting at 0."""

    # -- hooks ------------------------------------------------------------------------------------------------

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.time()
        if state.global_step > 0:  # resumed: eval.jsonl already holds the evaluations up to the checkpoint
            self.last_eval_step = max((r["step"] for r in self.run.read("eval")), default=None)
            self.started -= max((r.get("time", 0.0) for r in self.run.read("metrics")), default=0.0)
        if state.global_step == 0 and self.job.config.eval.at_start:
            self.evaluate(state.global_step)
        if state.global_step == 0 and self.probes:
            self.sample_probes(state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        cfg = self.job.config
        step = state.global_step
        budget = cfg.run.time_budget_minutes
        over = budget is not None and time.time() - self.started > 60 * budget
        if budget is not None and any_rank(over, args.device) and not control.should_training_stop:  # ranks agree
            print(f"[rl-reasoner] time budget of {budget:g} min reached after step {step}: stopping", flush=True)
            control.should_training_stop = True
            control.should_save = True
        if cfg.behaviour.probe_every and self.probes and step % cfg.behaviour.probe_every == 0:
            self.sample_probes(step)
        if cfg.eval.every and step % cfg.eval.every == 0 and step < state.max_steps:
            self.evaluate(step)

    def on_train_end(self, args, state, control, **kwargs):
        if self.last_eval_step != state.global_step:
            self.evaluate(state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is None or "reward" not in logs or not state.is_world_process_zero:
            return
        trainer = self.trainer
        step = state.global_step
        texts = [_text(c) for c in trainer._logs["completion"]]
        prompts = [_text(p) for p in trainer._logs["prompt"]]
        rewards = {name: list(values) for name, values in trainer._logs["rewards"].items()}
        correct = _flags(rewards.get(self.job.accuracy_name), len(texts))
        formatted = _flags(rewards.get(self.job.format_name), len(texts))
        lengths = trainer.last_completion_lengths[-len(texts):] if texts else []
        truncated = trainer.last_truncated[-len(texts):] if texts else []
        if len(lengths) != len(texts):  # fall back to re-tokenising when the lengths are not aligned
            lengths = [len(ids) for ids in self.job.tokenizer(texts, add_special_tokens=False)["input_ids"]]
            truncated = [n >= args.max_completion_length for n in lengths]
        if texts:
            logs.update(behaviour.batch_metrics(texts, num_tokens=lengths, truncated=truncated, correct=correct,
                                                formatted=formatted, prompts=prompts, markers=self.markers))
            logs.update(chain_steps.batch_metrics(  # running totals of chained sums; {} for other tasks
                texts, [chain_steps.row_operands(self.rows_by_prompt.get(p, {})) for p in prompts]))
        self.run.append("metrics", [{"step": step, "time": round(time.time() - self.started, 3), **logs}])
        self.write_samples(step, prompts, texts, rewards, lengths, truncated, correct)

    # -- work -------------------------------------------------------------------------------------------------

    def write_samples(self, step, prompts, texts, rewards, lengths, truncated, correct):
        n = min(self.job.config.behaviour.samples_per_step, len(texts))
        if n == 0:
            return
        extra = self.trainer._logs["extra"]
        records = []
        rng = random.Random(f"{self.job.config.run.seed}:{step}")  # per step, not running: same picks on resume
        for i in sorted(rng.sample(range(len(texts)), n)):
            row = self.rows_by_prompt.get(prompts[i], {})
            records.append({
                "step": step,
                "prompt_id": row.get("id"),
                "prompt": prompts[i],
                "completion": texts[i],
                "answer": row.get("answer"),
                "rewards": {name: values[i] for name, values in rewards.items()},
                "reasons": {col.removeprefix("reason/"): vals[i] for col, vals in extra.items()
                            if col.startswith("reason/") and i < len(vals)},
                "flags": behaviour.marker_flags(texts[i], self.markers),
                "num_tokens": lengths[i],
                "truncated": truncated[i],
                "correct": correct[i],
                "probe": False,
            })
        self.run.append("samples", records)

    def sample_probes(self, step: int) -> None:
        if not self._can_generate():
            return
        job = self.job
        texts = [g for g in generate(self._model(), job.tokenizer, [r["prompt"] for r in self.probes],
                                     max_new_tokens=job.max_new_tokens)]
        completions = [g.text for g in texts]
        scores = {fn.__name__: score(fn, completions, self.probes) for fn in job.reward_funcs}
        records = []
        for i, (row, gen) in enumerate(zip(self.probes, texts)):
            rewards = {name: values[i] for name, values in scores.items()}
            acc = rewards.get(job.accuracy_name)
            records.append({
                "step": step, "prompt_id": row["id"], "prompt": row["prompt"], "completion": gen.text,
                "answer": row.get("answer"), "rewards": rewards, "reasons": {},
                "flags": behaviour.marker_flags(gen.text, self.markers), "num_tokens": gen.num_tokens,
                "truncated": gen.truncated, "correct": None if acc is None else acc == 1.0, "probe": True,
            })
        self.run.append("samples", records)

    def evaluate(self, step: int) -> dict[str, float] | None:
        if not self._can_generate():
            return None
        job = self.job
        cfg = job.config.eval
        rows = job.eval_rows[: cfg.num_examples or None]
        t0 = time.time()
        metrics, records = evaluate(
            self._model(), job.tokenizer, rows, accuracy_fn=job.accuracy_fn, format_fn=job.format_fn,
            max_new_tokens=job.max_new_tokens, k=cfg.k, temperature=cfg.temperature, batch_size=cfg.batch_size,
            markers=self.markers, step=step)
        metrics.update(strata.eval_metrics(rows, records))  # per difficulty stratum; {} without a stratum column
        task = job.config.task.name
        self.run.append("eval", [{"step": step, "task": task, "metric": m, "value": v} for m, v in metrics.items()])
        self.run.append("eval_samples", records)
        self.last_eval_step = step
        print(f"[rl-reasoner] eval step {step}: accuracy {metrics['accuracy']:.3f} on {len(rows)} held-out "
              f"{task} examples ({time.time() - t0:.0f}s)", flush=True)
        return metrics

    def _model(self):
        return self.trainer.accelerator.unwrap_model(self.trainer.model)

    def _is_main(self) -> bool:
        return self.trainer is None or self.trainer.accelerator.is_main_process

    def _can_generate(self) -> bool:
        """Main process only, and only where it holds whole weights: under ZeRO-3 / FSDP the weights are sharded
        and a generation on one rank would hang, so in-training evaluation and probes are skipped there (once
        said); evaluate the saved checkpoints with ``rl-reasoner eval`` instead."""
        if not self._is_main():
            return False
        trainer = self.trainer
        sharded = trainer is not None and (getattr(trainer, "is_fsdp_enabled", False) or (
            getattr(trainer, "is_deepspeed_enabled", False)
            and trainer.accelerator.state.deepspeed_plugin.zero_stage == 3))
        if sharded and not getattr(self, "_warned_sharded", False):
            self._warned_sharded = True
            print("[rl-reasoner] weights are sharded (ZeRO-3/FSDP): in-training evaluation and probes are skipped; "
                  "run `rl-reasoner eval RUN --checkpoint ...` on the saved checkpoints", flush=True)
        return not sharded


class SummaryProgress(ProgressCallback):
    """TRL's progress bar, with one readable line per logged step instead of the raw log dict."""

    def __init__(self, accuracy_name: str | None, format_name: str | None):
        super().__init__()
        self.accuracy_key = f"rewards/{accuracy_name}/mean"
        self.format_key = f"rewards/{format_name}/mean"

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or self.training_bar is None or not logs or "reward" not in logs:
            return
        parts = [f"step {state.global_step}/{state.max_steps}", f"reward {logs['reward']:.3f}"]
        for label, key in (("accuracy", self.accuracy_key), ("format", self.format_key)):
            if logs.get(key) is not None:
                parts.append(f"{label} {logs[key]:.2f}")
        if logs.get("completions/mean_length") is not None:
            parts.append(f"length {logs['completions/mean_length']:.1f}")
        if logs.get("behaviour/reflection_rate") is not None:
            parts.append(f"reflection {logs['behaviour/reflection_rate']:.2f}")
        self.training_bar.write(" | ".join(parts))


def _text(completion) -> str:
    if isinstance(completion, list):  # chat messages
        return "".join(m.get("content", "") for m in completion if isinstance(m, dict))
    return str(completion)


def _flags(values, n: int) -> list[bool | None]:
    if values is None:
        return [None] * n
    return [None if v != v else v == 1.0 for v in values]  # NaN (unscorable) → None
