"""The training job, top to bottom: config → job (task, rewards, template) → model → GRPOTrainer → run directory.

Everything that can be wrong with the inputs is checked by :mod:`rl_reasoner.job` before any model is loaded;
:func:`build_trainer` is the one place the trainer is assembled (``train()``, the benches and the tests use it).
"""

from __future__ import annotations

import dataclasses
import os
import platform
import subprocess
import sys
import time
import warnings
from importlib import metadata
from pathlib import Path

from rl_reasoner.config import JobConfig
from rl_reasoner.job import Job, check_training_inputs, grpo_args, prepare
from rl_reasoner.model import load_model
from rl_reasoner.rundir import RunDir


def train(config: JobConfig, resume: bool = False, callbacks: list | None = None) -> Path:
    """Run the job; returns the run directory. ``callbacks``: extra ``TrainerCallback``s."""
    run = RunDir(config.run_dir)
    try:
        return _train(config, run, resume, callbacks)
    finally:
        run.unlock()


def _train(config: JobConfig, run: RunDir, resume: bool, callbacks: list | None) -> Path:
    from transformers import set_seed
    from transformers.trainer_callback import ProgressCallback

    from rl_reasoner.callback import BehaviourCallback, SummaryProgress
    from rl_reasoner.preemption import PreemptionCallback
    from rl_reasoner.preflight import check_trackers, check_writable, grpo_arguments
    from rl_reasoner.resume import ResumeDataOrder, RunComplete, start_point

    # TRL 1.x calls transformers 5's deprecated gradient_checkpointing* methods around every generation: the warning
    # repeated every step and named nothing the user can change (their own config key is translated in grpo_args).
    warnings.filterwarnings("ignore", message=r"`(is_)?gradient_checkpointing(_enable|_disable)?` is deprecated",
                            category=FutureWarning)
    set_seed(config.run.seed)
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
        run.lock()  # a second job into this directory (a --resume while this one runs) is refused, not interleaved
        run.create()
        if resume:  # drop what was recorded after the checkpoint (everything when there is none)
            run.rewind(int(checkpoint.name.split("-")[1]) if checkpoint else -1)
        run.write_config(resolved_config(config, job, previous=run.read_config() if resume else None,
                                         checkpoint=checkpoint))

    trainer = build_trainer(config, job, args=args, callbacks=callbacks)
    recorder = BehaviourCallback(run, job, trainer)
    trainer.callback_handler.callbacks.insert(0, recorder)  # before the reporters, so they see behaviour/*
    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(SummaryProgress(job.accuracy_reward_name, job.format_reward_name))
    trainer.add_callback(ResumeDataOrder())  # data order of later epochs on resume
    trainer.add_callback(PreemptionCallback())  # SIGTERM: checkpoint at the end of the step, then exit
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    trainer.save_model(str(run.path / "final"))  # on every process: ZeRO-3 / FSDP gather the weights together
    if trainer.accelerator.is_main_process:
        print(f"[rl-reasoner] run directory: {run.path}  (report: rl-reasoner report {run.path})", flush=True)
    return run.path


def build_trainer(config: JobConfig, job: Job, *, model=None, args=None, callbacks: list | None = None):
    """The job's ``ReasonerTrainer``, built but not trained: the model from ``job.model_path`` (or ``model``), TRL's
    arguments from the config (or ``args``), LoRA from ``model.lora``, the sampling options and the accuracy reward.
    ``train()`` adds the run directory's recorders; benches and tests use it as is."""
    from datasets import Dataset

    from rl_reasoner.trainer import ReasonerTrainer

    trainer = ReasonerTrainer(
        model=model if model is not None else load_model(job.model_path, config.model),
        processing_class=job.tokenizer,
        reward_funcs=job.reward_funcs,
        args=args if args is not None else grpo_args(config, job),
        train_dataset=Dataset.from_list(job.train_rows),
        peft_config=_peft_config(config),
        callbacks=callbacks,
        sampling=config.sampling,
        accuracy_reward_name=job.accuracy_reward_name,
        shared_prompt=config.model.shared_prompt,
    )
    trainer.base_model_name = config.model.name  # for the checkpoints' model card
    return trainer


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
