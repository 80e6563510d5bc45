"""``rl-reasoner check CONFIG``: validate a job without loading the model and print it as it would run.

Runs every check ``train`` runs before the model loads (config, task data, rewards, template, tokenizer, TRL's
GRPO arguments, trackers, the run directory) and prints the resolved job: the task's sizes after filtering, the
rewards, the GRPO settings that differ from TRL's defaults, the step count and the completions per step.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path


def check_job(config) -> str:
    """The resolved job as text; raises the same one-line errors ``train`` would, before any model loads."""
    from trl import GRPOConfig

    from rl_reasoner.preflight import check_trackers, grpo_arguments, report_to
    from rl_reasoner.rundir import RunDir
    from rl_reasoner.job import check_training_inputs, prepare

    job = prepare(config)
    args = grpo_arguments(config, job)
    check_training_inputs(config, job)
    check_trackers(config)
    completions = args.per_device_train_batch_size * args.world_size * args.gradient_accumulation_steps
    prompts = completions // args.num_generations
    epochs = config.run.steps * prompts / max(1, len(job.train_rows))
    rewards = ", ".join(f"{s.name} x{s.weight:g}" + (f" {s.params}" if s.params else "") for s in job.reward_specs)
    lines = [
        f"{config.source}: OK (checked without loading the model)",
        f"model:    {config.model.name}" + (f" -> {job.model_path}" if job.model_path != config.model.name else ""),
        f"task:     {config.task.name}: {len(job.train_rows)} train / {len(job.eval_rows)} held-out rows after "
        f"filtering" + (f" (left out: {job.dropped})" if job.dropped else ""),
        f"template: {config.task.template or 'task default'}",
        f"rewards:  {rewards}  (accuracy: {job.accuracy_reward_name}; format: {job.format_reward_name or '-'})",
        f"steps:    {config.run.steps} optimiser steps x {completions} completions ({prompts} prompts x "
        f"{args.num_generations}) = {config.run.steps * completions} completions, {epochs:.2f} epochs of the "
        f"training rows",
        f"eval:     {min(len(job.eval_rows), config.eval.num_examples or len(job.eval_rows))} held-out examples, "
        + (f"every {config.eval.every} steps" if config.eval.every else "before and after training"),
        f"trackers: {', '.join(report_to(config)) or 'none'}",
        f"run dir:  {_run_dir_state(RunDir(config.run_dir))}",
        "GRPO settings that differ from TRL's defaults:",
    ]
    defaults = {f.name: f.default for f in dataclasses.fields(GRPOConfig) if f.default is not dataclasses.MISSING}
    shown = {**dict.fromkeys(("logging_steps", "save_steps", "report_to", "bf16", "max_steps", "seed")),
             **dict.fromkeys(config.grpo)}
    for name in shown:
        value = getattr(args, name, None)
        if name in defaults and _differs(value, defaults[name]):
            lines.append(f"  {name}: {value!r}  (TRL: {defaults[name]!r})")
    return "\n".join(lines)


def _differs(value, default) -> bool:
    if isinstance(value, list) and isinstance(default, str):  # report_to "none" becomes ["none"] / []
        return value not in ([default], []) if default == "none" else value != [default]
    return value != default


def _run_dir_state(run) -> str:
    held = run.records_held()
    if held:
        return f"{run.path} already holds a run ({', '.join(held)}): `train` needs --resume or another run.name"
    parent = next((p for p in [run.path, *run.path.parents] if p.exists()), Path("."))
    if not os.access(parent, os.W_OK):
        return f"{run.path}: {parent} is not writable (choose run.output_dir)"
    return f"{run.path} (new)"
