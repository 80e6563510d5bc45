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
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import rewards
from rl_reasoner import tasks
from rl_reasoner.config import ConfigError, JobConfig, RewardSpec
from rl_reasoner.model import load_model, load_tokenizer, resolve_model
from rl_reasoner.rundir import RunDir
from rl_reasoner.templates import TemplateError, get_template, render


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
    try:
        data = spec.load(config.task.params, seed=config.run.seed)
    except tasks.TaskError as e:  # name the job file: the task's message names the task, the data and the fix
        raise tasks.TaskError(f"{config.source}: {e}") from None
    if data.dropped:
        print(f"[rl-reasoner] task {config.task.name}: rows left out (never trained on): {data.dropped}", flush=True)
    reward_specs = config.rewards or [RewardSpec(**r) for r in spec.default_rewards]
    reward_funcs = []
    for i, reward_spec in enumerate(reward_specs):
        try:
            fn = rewards.build({"name": reward_spec.name, "params": reward_spec.params})
        except (KeyError, ValueError, TypeError, ImportError) as e:
            raise ConfigError(f"{config.source}: rewards[{i}] ({reward_spec.name}): {e}") from e
        if reward_spec.label:  # TRL names the reward's metrics by __name__
            fn.__name__ = fn.__qualname__ = reward_spec.label
        reward_funcs.append(fn)
    by_name = {spec.key: fn for spec, fn in zip(reward_specs, reward_funcs)}
    accuracy_fn = by_name.get(config.run.accuracy_reward, reward_funcs[0])
    format_fn = by_name.get(config.run.format_reward)
    model_path = resolve_model(config.model.name)
    tokenizer = load_tokenizer(model_path, config.model)
    try:
        template = get_template(config.task.template or spec.default_template)
    except TemplateError as e:
        raise TemplateError(f"{config.source}: task.template: {e}") from None

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
        defaults["dataloader_pin_memory"] = False  # else torch warns that there is nothing to pin to
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # several CPU processes: DDP over gloo, not N lone copies
            defaults["use_cpu"] = True
    grpo = {**defaults, **config.grpo}
    fields = {f.name: f for f in dataclasses.fields(GRPOConfig)}
    for old, new in (("gradient_checkpointing", "activation_checkpointing"),
                     ("gradient_checkpointing_kwargs", "activation_checkpointing_kwargs")):
        if new in fields and new not in grpo:  # transformers 5 renamed it; the old name (and TRL's default) warns
            value = grpo.pop(old, None)
            grpo[new] = fields[old].default if value is None else value
    return GRPOConfig(**grpo, output_dir=str(run_dir / "checkpoints"),
                      max_steps=config.run.steps, seed=config.run.seed,
                      reward_weights=[s.weight for s in job.reward_specs])


def train(config: JobConfig, resume: bool = False, callbacks: list | None = None) -> Path:
    """Run the job; returns the run directory. ``callbacks``: extra ``TrainerCallback``s."""
    from datasets import Dataset
    from transformers import set_seed
    from transformers.trainer_callback import ProgressCallback

    from rl_reasoner.callback import BehaviourCallback, SummaryProgress
    from rl_reasoner.preemption import PreemptionCallback
    from rl_reasoner.preflight import check_trackers, check_writable, grpo_arguments
    from rl_reasoner.resume import ResumeDataOrder, RunComplete, start_point
    from rl_reasoner.trainer import ReasonerTrainer

    # TRL 1.x calls transformers 5's deprecated gradient_checkpointing* methods around every generation: the warning
    # repeated every step and named nothing the user can change (their own config key is translated in grpo_args).
    warnings.filterwarnings("ignore", message=r"`(is_)?gradient_checkpointing(_enable|_disable)?` is deprecated",
                            category=FutureWarning)
    set_seed(config.run.seed)
    run = RunDir(config.run_dir)
    try:
        checkpoint = start_point(run, config, resume)  # first: a finished or occupied run directory is known at once
    except RunComplete as done:
        print(done, flush=True)
        return run.path
    job = prepare(config)
    args = grpo_arguments(config, job)  # TRL's own checks, as one-line errors, before any model loads
    check_training_inputs(config, job)
    check_trackers(config)
    check_writable(run.path, "run directory", "choose a writable place: --set run.output_dir=DIR")
    if args.process_index == 0:
        run.create()
        if resume:  # drop what was recorded after the checkpoint (everything when there is none)
            run.rewind(int(checkpoint.name.split("-")[1]) if checkpoint else -1)
        run.write_config(resolved_config(config, job, previous=run.read_config() if resume else None,
                                         checkpoint=checkpoint))

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
    trainer.base_model_name = config.model.name  # for the checkpoints' model card
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


def check_training_inputs(config: JobConfig, job: Job) -> None:
    """What needs the task's rows, checked before the model is loaded: the pass-rate file (readable, written for
    these training prompts)."""
    if config.sampling.pass_rates and (config.sampling.dynamic or config.sampling.curriculum):
        from rl_reasoner.difficulty import read_pass_rates

        rates, _ = read_pass_rates(config.sampling.pass_rates)
        if not set(rates) & {str(row["id"]) for row in job.train_rows}:
            raise ConfigError(f"{config.source}: sampling.pass_rates: {config.sampling.pass_rates} holds none of "
                              f"this job's training prompt ids; was it written for another task, seed or config? "
                              f"Write it again with `rl-reasoner difficulty {config.source}`")


def _peft_config(config: JobConfig):
    if not config.model.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(**{"task_type": "CAUSAL_LM", **config.model.lora})


def resolved_config(config: JobConfig, job: Job, previous: dict | None = None, checkpoint: Path | None = None) -> dict:
    """The config as run, plus what is needed to reproduce it.

    On resume (``previous``: the run's earlier ``config.yaml``) the original ``meta`` is kept and this start is
    appended to ``meta.resumes`` (command, time, checkpoint), so the first command and start time are never lost.
    """
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
    earlier = (previous or {}).get("meta")
    if isinstance(earlier, dict) and earlier.get("started"):
        resumes = [*earlier.get("resumes", []), {key: out["meta"][key] for key in ("command", "started", "git_revision")}
                   | {"checkpoint": checkpoint.name if checkpoint else None}]
        out["meta"] = {**earlier, "resumes": resumes}
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
