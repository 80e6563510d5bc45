"""A job ready to train, prepared from its config without a model: config → task → rewards → template → model path.

Everything that can be wrong with the inputs (config, task data, reward names, TRL's arguments, the pass-rate file) is
checked here, before any model is loaded; :mod:`rl_reasoner.train` builds the trainer from a :class:`Job`, and
evaluation, ``difficulty``, ``baseline`` and ``check`` prepare the same job.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import rewards
from rl_reasoner import tasks
from rl_reasoner.config import ConfigError, JobConfig, RewardSpec
from rl_reasoner.model import load_tokenizer, resolve_model
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
    accuracy_reward: object
    """The accuracy reward: the one whose 1.0 means "correct" (named by ``run.accuracy_reward``, default the first)."""
    format_reward: object | None
    """The format reward: the one whose 1.0 means "well formatted" (named by ``run.format_reward``), if configured."""
    dropped: dict
    """Task rows left out because their gold cannot be verified, counted by reason."""

    @property
    def accuracy_reward_name(self) -> str:
        """The accuracy reward's name in metrics (``rewards/<name>/mean``) and records."""
        return self.accuracy_reward.__name__

    @property
    def format_reward_name(self) -> str | None:
        """The format reward's name in metrics and records (None without one)."""
        return self.format_reward.__name__ if self.format_reward else None

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
    accuracy_reward = by_name.get(config.run.accuracy_reward, reward_funcs[0])
    format_reward = by_name.get(config.run.format_reward)
    model_path = resolve_model(config.model.name)
    tokenizer = load_tokenizer(model_path, config.model)
    try:
        template = get_template(config.task.template or spec.default_template)
    except TemplateError as e:
        raise TemplateError(f"{config.source}: task.template: {e}") from None

    def with_prompt(row: dict) -> dict:
        return {**row, "prompt": render(template, row["question"], tokenizer, chat=config.task.chat)}

    return Job(config, model_path, tokenizer, [with_prompt(r) for r in data.train], [with_prompt(r) for r in data.eval],
               reward_specs, reward_funcs, accuracy_reward, format_reward,
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


def check_training_inputs(config: JobConfig, job: Job) -> None:
    """What needs the task's rows, checked before the model is loaded: the pass-rate file (readable, written for
    these training prompts)."""
    if config.sampling.pass_rates and (config.sampling.dynamic or config.sampling.curriculum):
        from rl_reasoner.curriculum import read_pass_rates

        rates, _ = read_pass_rates(config.sampling.pass_rates)
        if not set(rates) & {str(row["id"]) for row in job.train_rows}:
            raise ConfigError(f"{config.source}: sampling.pass_rates: {config.sampling.pass_rates} holds none of "
                              f"this job's training prompt ids; was it written for another task, seed or config? "
                              f"Write it again with `rl-reasoner difficulty {config.source}`")
