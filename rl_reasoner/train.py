"""The training job, top to bottom: config → task → rewards → model → GRPOTrainer → run directory.

Everything that can be wrong with the inputs (config, task data, reward names) is checked in
:func:`prepare` before any model is loaded.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import rewards
from rl_reasoner import tasks
from rl_reasoner.config import ConfigError, JobConfig, RewardSpec
from rl_reasoner.model import load_model, load_tokenizer, resolve_model
from rl_reasoner.rundir import RunDir
from rl_reasoner.templates import get_template, render


@dataclass
class Job:
    """A job ready to train: validated config, rendered data, built rewards and the tokenizer."""

    config: JobConfig
    model_path: str
    tokenizer: object
    train_rows: list[dict]
    eval_rows: list[dict]
    reward_specs: list[RewardSpec]
    reward_funcs: list
    accuracy_fn: object
    """The reward whose 1.0 means "correct" (``run.accuracy_reward``, default the first)."""
    format_fn: object | None
    """The reward whose 1.0 means "well formatted" (``run.format_reward``), if configured."""
    dropped: dict
    """Task rows left out because their gold cannot be verified, counted by reason."""

    @property
    def accuracy_name(self) -> str:
        return self.accuracy_fn.__name__

    @property
    def format_name(self) -> str | None:
        return self.format_fn.__name__ if self.format_fn else None

    @property
    def max_new_tokens(self) -> int:
        return self.config.eval.max_new_tokens or self.config.grpo.get("max_completion_length", 256)


def prepare(config: JobConfig) -> Job:
    """Load the task, render its prompts, build the rewards: every input error surfaces here."""
    spec = tasks.get(config.task.name)
    data = spec.load(config.task.params, seed=config.run.seed)
    if data.dropped:
        print(f"[rl-reasoner] task {config.task.name}: rows left out (never trained on): {data.dropped}", flush=True)
    reward_specs = config.rewards or [RewardSpec(**r) for r in spec.default_rewards]
    reward_funcs = []
    for i, reward_spec in enumerate(reward_specs):
        try:
            reward_funcs.append(rewards.build(dataclasses.asdict(reward_spec)))
        except (KeyError, ValueError, TypeError, ImportError) as e:
            raise ConfigError(f"{config.source}: rewards[{i}] ({reward_spec.name}): {e}") from e
    by_name = {spec.name: fn for spec, fn in zip(reward_specs, reward_funcs)}
    accuracy_fn = by_name.get(config.run.accuracy_reward, reward_funcs[0])
    format_fn = by_name.get(config.run.format_reward)
    model_path = resolve_model(config.model.name)
    tokenizer = load_tokenizer(model_path, config.model)
    template = get_template(config.task.template or spec.default_template)

    def with_prompt(row: dict) -> dict:
        return {**row, "prompt": render(template, row["question"], tokenizer, chat=config.task.chat)}

    return Job(config, model_path, tokenizer, [with_prompt(r) for r in data.train], [with_prompt(r) for r in data.eval],
               reward_specs, reward_funcs, accuracy_fn, format_fn,
               dict(data.dropped))


def grpo_args(config: JobConfig, job: Job):
    from trl import GRPOConfig

    run_dir = config.run_dir
    import torch

    defaults = {"logging_steps": 1, "save_steps": max(1, config.run.steps // 4), "report_to": "none",
                "disable_tqdm": False}
    if not torch.cuda.is_available():  # TRL defaults to bf16 mixed precision, which needs a GPU
        defaults["bf16"] = False
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # several CPU processes: DDP over gloo, not N lone copies
            defaults["use_cpu"] = True
    return GRPOConfig(**{**defaults, **config.grpo}, output_dir=str(run_dir / "checkpoints"),
                      max_steps=config.run.steps, seed=config.run.seed,
                      reward_weights=[s.weight for s in job.reward_specs])


def train(config: JobConfig, resume: bool = False, callbacks: list | None = None) -> Path:
    """Run the job; returns the run directory. ``callbacks``: extra ``TrainerCallback``s."""
    from datasets import Dataset
    from transformers import set_seed
    from transformers.trainer_callback import ProgressCallback

    from rl_reasoner.callback import BehaviourCallback, SummaryProgress
    from rl_reasoner.preemption import PreemptionCallback
    from rl_reasoner.resume import ResumeDataOrder, last_complete_checkpoint
    from rl_reasoner.trainer import ReasonerTrainer

    set_seed(config.run.seed)
    job = prepare(config)
    args = grpo_args(config, job)
    run = RunDir(config.run_dir)
    checkpoint = last_complete_checkpoint(run.checkpoints) if resume else None
    if resume and checkpoint is None:
        print(f"[rl-reasoner] --resume: no checkpoint in {run.checkpoints}; starting from scratch", flush=True)
    if checkpoint is None and run.file("metrics").exists() and not resume:
        raise SystemExit(f"{run.path} already holds a run; pass --resume to continue it, or choose run.name")
    if args.process_index == 0:
        run.create()
        if resume:  # drop what was recorded after the checkpoint (everything when there is none)
            run.rewind(int(checkpoint.name.split("-")[1]) if checkpoint else -1)
        run.write_config(resolved_config(config, job))

    model = load_model(job.model_path, config.model)
    trainer = ReasonerTrainer(
        model=model,
        processing_class=job.tokenizer,
        reward_funcs=job.reward_funcs,
        args=args,
        train_dataset=Dataset.from_list(job.train_rows),
        peft_config=_peft_config(config),
        callbacks=callbacks,
        sampling=config.sampling,
        pass_reward=job.accuracy_name,
        shared_prompt=config.model.shared_prompt,
    )
    recorder = BehaviourCallback(run, job, trainer)
    trainer.callback_handler.callbacks.insert(0, recorder)  # before the reporters, so they see behaviour/*
    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(SummaryProgress(job.accuracy_name, job.format_name))
    trainer.add_callback(ResumeDataOrder())  # data order of later epochs on resume
    trainer.add_callback(PreemptionCallback())  # SIGTERM: checkpoint at the end of the step, then exit
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    trainer.save_model(str(run.path / "final"))  # on every process: ZeRO-3 / FSDP gather the weights together
    if trainer.accelerator.is_main_process:
        print(f"[rl-reasoner] run directory: {run.path}  (report: rl-reasoner report {run.path})", flush=True)
    return run.path


def _peft_config(config: JobConfig):
    if not config.model.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(**{"task_type": "CAUSAL_LM", **config.model.lora})


def resolved_config(config: JobConfig, job: Job) -> dict:
    """The config as run, plus what is needed to reproduce it."""
    out = config.to_dict()
    out["rewards"] = [dataclasses.asdict(s) for s in job.reward_specs]
    versions = {}
    for dist in ("rl-reasoner", "torch", "transformers", "trl", "accelerate", "datasets", "math-verify",
                 "reasoning-gym", "peft", "vllm", "deepspeed"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    out["meta"] = {
        "source": config.source,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "seed": config.run.seed,
        "git_revision": _git_revision(),
        "versions": versions,
        "python": platform.python_version(),
        "host": platform.node(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model_path": job.model_path,
        "num_train": len(job.train_rows),
        "num_eval": len(job.eval_rows),
        "rows_dropped": job.dropped,
    }
    return out


def _git_revision() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=here, capture_output=True, text=True, timeout=5)
        if rev.returncode != 0:
            return None
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        return os.environ.get("GIT_COMMIT")
