"""The behaviour callback: what a run records about how the reasoning changes, live, every logged step.

Each logged step it

1. computes ``behaviour/*`` from the step's completions (``rl_reasoner.behaviour``) and adds them to the
   trainer's logs, so they reach tensorboard / wandb / trackio with TRL's own metrics;
2. appends the step's metrics to ``metrics.jsonl`` and a few completions (with rewards, reasons and behaviour
   flags) to ``samples.jsonl``;
3. prints a one-line summary under the progress bar.

Every ``behaviour.probe_every`` steps it answers the fixed probe prompts (greedy) into ``samples.jsonl``, and at
step 0, every ``eval.every`` steps and at the end it evaluates on the held-out split into ``eval.jsonl``; at the end
it prints what changed since step 0 and whether it is beyond noise (``rl_reasoner.change``).

Evaluation and probes are collective: every process answers its share of the prompts (equal shares, so that
ZeRO-3 / FSDP forward passes and vLLM's server mode stay in step) with the trainer's own generation path (its vLLM
engine with ``use_vllm``, else the unwrapped model, ZeRO-3 weights gathered as TRL does for its own generation), and
the main process gathers the scored records and writes.
"""

from __future__ import annotations

import random
import time
from contextlib import contextmanager

from transformers import TrainerCallback
from transformers.trainer_callback import ProgressCallback

from rewards.extract import completion_text
from rl_reasoner import behaviour, chain_steps, strata
from rl_reasoner.change import format_changes, paired_changes
from rl_reasoner.correct import verdict
from rl_reasoner.evaluate import (behaviour_of, console_line, generate, generate_vllm, metric_records, score,
                                  score_examples, summarize)
from rl_reasoner.preemption import any_rank
from rl_reasoner.rundir import RunDir


class BehaviourCallback(TrainerCallback):
    def __init__(self, run: RunDir, job, trainer=None):
        self.run = run
        self.job = job
        """The prepared job (``rl_reasoner.job.Job``): config, rows, reward functions, tokenizer."""
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
        if self._is_main():
            self.print_changes()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is None or "reward" not in logs or not state.is_world_process_zero:
            return
        trainer = self.trainer
        step = state.global_step
        texts = [completion_text(c) for c in trainer._logs["completion"]]
        prompts = [completion_text(p, roles=None) for p in trainer._logs["prompt"]]
        rewards = {name: list(values) for name, values in trainer._logs["rewards"].items()}
        correct = _flags(rewards.get(self.job.accuracy_reward_name), len(texts))
        formatted = _flags(rewards.get(self.job.format_reward_name), len(texts))
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
            if self.job.accuracy_reward_name in rewards:  # never folded into right or wrong: counted on its own
                logs["behaviour/undecided_rate"] = sum(c is None for c in correct) / len(correct)
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
        job = self.job
        with self.generator() as generate_fn:
            shard, pad = self._shard(self.probes)
            generations = generate_fn([r["prompt"] for r in shard], do_sample=False, temperature=1.0,
                                      num_return_sequences=1)
        texts, ids = [g.text for g in generations], [g.ids for g in generations]
        scores = {fn.__name__: score(fn, texts, shard, completion_ids=ids) for fn in job.reward_funcs}
        records = []
        for i, (row, gen) in enumerate(zip(shard, generations)):
            rewards = {name: values[i] for name, values in scores.items()}
            records.append({
                "step": step, "prompt_id": row["id"], "prompt": row["prompt"], "completion": gen.text,
                "answer": row.get("answer"), "rewards": rewards, "reasons": {},
                "flags": behaviour.marker_flags(gen.text, self.markers), "num_tokens": gen.num_tokens,
                "truncated": gen.truncated, "correct": verdict(rewards.get(job.accuracy_reward_name)), "probe": True,
            })
        records = self._gather(records[:len(records) - pad])
        if self._is_main():
            self.run.append("samples", records)

    def evaluate(self, step: int) -> dict[str, dict] | None:
        """Evaluate on the held-out split (every process its share); the main process writes and returns the
        summary (``rl_reasoner.evaluate.summarize``), the others return None."""
        job = self.job
        cfg = job.config.eval
        rows = job.eval_rows[: cfg.num_examples or None]
        t0 = time.time()
        shard, pad = self._shard(rows)
        with self.generator() as generate_fn:
            records = score_examples(generate_fn, shard, accuracy_reward=job.accuracy_reward,
                                     format_reward=job.format_reward, k=cfg.k, samples=cfg.samples,
                                     temperature=cfg.temperature, step=step)
        records = self._gather(records[:len(records) - pad])
        self.last_eval_step = step
        if not self._is_main():
            return None
        summary = summarize(records, k=cfg.k)
        task = job.config.task.name
        extra = behaviour_of(records, rows, self.markers)
        extra.update(strata.eval_metrics(rows, records))  # per difficulty stratum; {} without a stratum column
        self.run.append("eval", metric_records(summary, extra, step=step, task=task))
        self.run.append("eval_samples", records)
        print(f"[rl-reasoner] eval step {step} on {len(records)} held-out {task} examples ({time.time() - t0:.0f}s), "
              f"95% intervals: {console_line(summary)}", flush=True)
        return summary

    def print_changes(self) -> None:
        """At the end of the job: what changed since the first evaluation, with intervals, and whether beyond noise."""
        records = [r for r in self.run.read("eval_samples") if "checkpoint" not in r]
        steps = sorted({r["step"] for r in records})
        if len(steps) < 2:
            return
        first = [r for r in records if r["step"] == steps[0]]
        last = [r for r in records if r["step"] == steps[-1]]
        changes = paired_changes(first, last, temperature=self.job.config.eval.temperature)
        if changes:
            print(format_changes(changes, steps[0], steps[-1]), flush=True)

    # -- generation across processes ------------------------------------------------------------------------------

    @contextmanager
    def generator(self):
        """``generate_fn(prompts, do_sample, temperature, num_return_sequences)`` for this process, through the
        trainer's vLLM engine (its weights synced to the current step first) or the unwrapped model."""
        trainer, job = self.trainer, self.job
        max_new_tokens = job.max_new_tokens
        batch_size = job.config.eval.batch_size
        if trainer is not None and getattr(trainer, "use_vllm", False):
            if trainer.state.global_step != getattr(trainer, "_last_loaded_step", None):
                trainer.vllm_generation.sync_weights()
                trainer._last_loaded_step = trainer.state.global_step

            def through_vllm(prompts, *, do_sample, temperature, num_return_sequences):
                return generate_vllm(trainer.vllm_generation, job.tokenizer, prompts, max_new_tokens=max_new_tokens,
                                     do_sample=do_sample, temperature=temperature,
                                     num_return_sequences=num_return_sequences,
                                     eos_ids=getattr(trainer, "eos_token_ids", ()) or ())
            yield through_vllm
            return
        with self._generation_model() as model:
            def through_model(prompts, *, do_sample, temperature, num_return_sequences):
                per_batch = batch_size if num_return_sequences == 1 else max(1, batch_size // num_return_sequences)
                return generate(model, job.tokenizer, prompts, max_new_tokens=max_new_tokens, do_sample=do_sample,
                                temperature=temperature, num_return_sequences=num_return_sequences,
                                batch_size=per_batch)
            yield through_model

    @contextmanager
    def _generation_model(self):
        trainer = self.trainer
        if trainer is None:
            raise RuntimeError("the behaviour callback needs the trainer to generate")
        from trl.models import unwrap_model_for_generation

        dist = getattr(trainer, "_dist", None)
        with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator,
                                         gather_deepspeed3_params=trainer.args.ds3_gather_for_generation) as model:
            if dist is None:
                yield model
            else:
                with dist.summon_full_params(trainer.model_wrapped, recurse=False):
                    yield model

    def _world(self) -> tuple[int, int]:
        if self.trainer is None:
            return 0, 1
        return self.trainer.accelerator.process_index, self.trainer.accelerator.num_processes

    def _shard(self, rows: list[dict]) -> tuple[list[dict], int]:
        """This process's share of the rows (every n-th), padded with repeats to the same length on every process
        (the padding's results are dropped); returns (rows, padding)."""
        rank, world = self._world()
        share = rows[rank::world]
        size = -(-len(rows) // world)
        filler = share[-1:] or rows[:1]
        return share + filler * (size - len(share)), size - len(share)

    def _gather(self, records: list[dict]) -> list[dict]:
        """Every process's records on the main process, in the held-out order (rank r held rows r, r + n, ...)."""
        rank, world = self._world()
        if world == 1:
            return records
        from accelerate.utils import gather_object

        shares = gather_object([records])
        out = []
        for i in range(max(map(len, shares), default=0)):
            out += [share[i] for share in shares if i < len(share)]
        return out

    def _model(self):
        return self.trainer.accelerator.unwrap_model(self.trainer.model)

    def _is_main(self) -> bool:
        return self.trainer is None or self.trainer.accelerator.is_main_process


class SummaryProgress(ProgressCallback):
    """TRL's progress bar, with one readable line per logged step instead of the raw log dict."""

    def __init__(self, accuracy_reward_name: str | None, format_reward_name: str | None):
        super().__init__()
        self.accuracy_key = f"rewards/{accuracy_reward_name}/mean"
        self.format_key = f"rewards/{format_reward_name}/mean"

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or self.training_bar is None or not logs or "reward" not in logs:
            return
        parts = [f"step {state.global_step}/{state.max_steps}", f"reward {logs['reward']:.3f}"]
        for label, key in (("accuracy", self.accuracy_key), ("format", self.format_key)):
            if logs.get(key) is not None:
                parts.append(f"{label} {logs[key]:.2f}")
        if logs.get("behaviour/undecided_rate"):
            parts.append(f"undecided {logs['behaviour/undecided_rate']:.2f}")
        if logs.get("completions/mean_length") is not None:
            parts.append(f"length {logs['completions/mean_length']:.1f}")
        if logs.get("behaviour/reflection_rate") is not None:
            parts.append(f"reflection {logs['behaviour/reflection_rate']:.2f}")
        self.training_bar.write(" | ".join(parts))


def _flags(values, n: int) -> list[bool | None]:
    if values is None:
        return [None] * n
    return [verdict(v) for v in values]  # NaN (unscorable) → None
