"""The job configuration: one YAML file → typed, validated dataclasses.

A job file has the sections ``model``, ``task``, ``rewards``, ``grpo``, ``run``, ``behaviour`` and ``eval``.
Every field is documented where it is declared below. ``grpo`` accepts any field of ``trl.GRPOConfig`` and
passes it through unchanged. Everything is checked before any model is loaded: an unknown key, a wrong type or a
missing required value raises :class:`ConfigError` naming the file, the key and what was expected.

Example::

    cfg = load_config("configs/default.yaml", overrides=["run.steps=10", "grpo.learning_rate=1e-5"])
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rewards.user_values import BadValue, coerce, did_you_mean, read_value


class ConfigError(ValueError):
    """A job file that cannot run: the message names the file, the key and what was expected."""


@dataclass
class ModelConfig:
    name: str = "embedded:smollm2-135m"
    """Hub id (``Qwen/Qwen2.5-0.5B``), a local directory, or ``embedded:<name>`` (``embedded:smollm2-135m``).
    ``{seed}`` in it is replaced by ``run.seed``, so a second stage trained with ``--seeds`` starts each seed from
    that seed's first-stage checkpoint (``runs/chain_sum_worked/seed-{seed}/final``)."""
    revision: str | None = None
    """Hub revision (branch, tag or commit) when ``name`` is a hub id."""
    dtype: str = "auto"
    """Weights dtype: ``auto`` (bfloat16 on a GPU that supports it, float32 on CPU), ``float32``, ``bfloat16``, ``float16``."""
    trust_remote_code: bool = False
    """Passed to ``from_pretrained``."""
    attn_implementation: str | None = None
    """e.g. ``flash_attention_2`` or ``sdpa``; ``None`` lets transformers choose."""
    lora: dict | None = None
    """LoRA through peft: a dict of ``peft.LoraConfig`` fields (``r``, ``lora_alpha``, ``target_modules``, ...); ``None`` trains all weights."""
    shared_prompt: bool = True
    """Run each prompt once per group, not once per completion: in the training pass (log-probs, loss, gradients
    equal TRL's within float tolerance; rl_reasoner/shared_prefix.py) and in the prefill of HF ``generate``. Turns
    itself off, with a one-line message, where it cannot be exact (e.g. flash attention, gradient checkpointing)."""


@dataclass
class TaskConfig:
    name: str = "arithmetic"
    """A task from the registry (``rl-reasoner tasks`` lists them), e.g. ``arithmetic``, ``countdown``, ``gsm8k``."""
    params: dict = field(default_factory=dict)
    """Task parameters (difficulty knobs, sizes, dataset ids, files, column mapping); each task documents its own."""
    template: Any = None
    """Prompt template: a built-in name (``r1_zero``, ``qwen_math``, ``code``, ``plain``) or a dict
    ``{system, user, prefill}`` (optionally ``base: <built-in>`` to override only some fields). ``None``: the task's default."""
    chat: bool | None = None
    """Render through the tokenizer's chat template. ``None``: when the tokenizer has one."""


@dataclass
class RewardSpec:
    name: str
    """A registered reward (``math_accuracy``, ``format_reward``, ...) or ``package.module:function``."""
    weight: float = 1.0
    """Weight of this reward in the sum GRPO normalises per group."""
    params: dict = field(default_factory=dict)
    """Keyword arguments bound to the reward function."""
    label: str | None = None
    """The name this reward goes by in metrics (``rewards/<label>/mean``), samples, ``run.accuracy_reward`` and
    ``run.format_reward``. ``None``: ``name``. Needed to use one reward twice (e.g. with two sets of params)."""

    @property
    def key(self) -> str:
        """The reward's name in the job: its label, else its name."""
        return self.label or self.name


@dataclass
class RunConfig:
    name: str | None = None
    """Run name; the run directory is ``<output_dir>/<name>``. ``None``: the config file's stem."""
    output_dir: str = "runs"
    """Parent directory of run directories."""
    seed: int = 0
    """Seeds data generation, sampling and training."""
    steps: int = 100
    """Optimiser steps (``GRPOConfig.max_steps``)."""
    time_budget_minutes: float | None = None
    """Stop training after the first step that ends past this many minutes of the job's wall clock (counted from
    the start of training, the step-0 evaluation included), then evaluate and save as usual. ``None``: no limit."""
    accuracy_reward: str | None = None
    """The reward whose value 1.0 means "correct" (behaviour metrics, evaluation). ``None``: the first reward."""
    format_reward: str | None = "format_reward"
    """The reward whose value 1.0 means "well formatted" (format adherence, accuracy requiring the format). The
    default is ignored when the job has no reward of that name; any other value must name one of the rewards."""


@dataclass
class BehaviourConfig:
    samples_per_step: int = 8
    """Completions written to ``samples.jsonl`` per logged step (0: none)."""
    markers: dict = field(default_factory=dict)
    """Overrides of the marker lists by category (``reflection: [wait, ...]``); new categories may be added."""
    num_probes: int = 4
    """Fixed held-out prompts sampled at regular intervals, so the same question is followed through training."""
    probe_every: int = 10
    """Steps between probe samplings (0: never)."""


@dataclass
class EvalConfig:
    every: int = 0
    """Evaluate on the held-out split every N steps (0: only before and after training)."""
    at_start: bool = True
    """Evaluate the untrained model at step 0 so that every run has its baseline."""
    num_examples: int = 100
    """Held-out examples used (the first N of the eval split; 0: all)."""
    k: int = 0
    """The k of pass@k and maj@k (0: greedy metrics only). pass@j is also reported for the powers of two below k."""
    samples: int = 0
    """Answers sampled per example to estimate pass@k (unbiased estimator) and maj@k (mean over disjoint groups of
    k); must be at least k. 0: ``4 * k``."""
    temperature: float = 1.0
    """Sampling temperature for pass@k / maj@k."""
    max_new_tokens: int | None = None
    """Generation length; ``None``: ``grpo.max_completion_length``."""
    batch_size: int = 64
    """Prompts generated together."""


@dataclass
class SamplingConfig:
    dynamic: bool = False
    """Dynamic sampling (DAPO): drop the groups whose completions all got the same reward (zero advantage) and
    generate groups for fresh prompts until every group of the batch is informative or ``max_extra_rounds`` is hit."""
    max_extra_rounds: int = 3
    """Cap on the extra generation rounds per batch; at the cap the batch is filled up with zero-variance groups
    (advantage 0: what plain GRPO would have trained on)."""
    curriculum: bool = False
    """Draw training prompts by their running pass rate: prompts solved sometimes, but not always, come more often."""
    pass_rate_decay: float = 0.5
    """Share of a prompt's running pass rate kept at each new observation of it (0: only the latest group counts)."""
    min_weight: float = 0.05
    """Sampling weight of a prompt whose pass rate is 0 or 1, relative to the most informative prompt (1.0)."""
    pass_rates: str | None = None
    """JSON file of per-prompt pass rates, written by ``rl-reasoner difficulty`` and read at the start of training to
    seed the running pass rates (``None``: start with none known)."""
    difficulty_samples: int = 8
    """Answers sampled per training prompt by ``rl-reasoner difficulty``."""
    difficulty_max_prompts: int = 0
    """Training prompts scored by ``rl-reasoner difficulty``: the first N (0: all)."""


@dataclass
class JobConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    rewards: list[RewardSpec] = field(default_factory=list)
    """Rewards and their weights. Empty: the task's default rewards."""
    grpo: dict = field(default_factory=dict)
    """Any ``trl.GRPOConfig`` field, passed through (``learning_rate``, ``num_generations``, ``beta``, ...)."""
    run: RunConfig = field(default_factory=RunConfig)
    behaviour: BehaviourConfig = field(default_factory=BehaviourConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    source: str | None = field(default=None, metadata={"internal": True})
    """The file this config was read from (set by :func:`load_config`)."""

    @property
    def run_dir(self) -> Path:
        return Path(self.run.output_dir) / self.run.name

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out.pop("source")
        return out


# GRPOConfig fields that the job owns elsewhere: setting them in `grpo` would silently fight the job.
OWNED_BY_JOB = {
    "output_dir": "run.output_dir / run.name",
    "max_steps": "run.steps",
    "seed": "run.seed",
    "reward_weights": "rewards[].weight",
}


def load_config(path: str | Path, overrides: list[str] | None = None) -> JobConfig:
    """Read a job file, apply ``key.path=value`` overrides, and validate everything."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}). Fix: save it as UTF-8") from None
    if raw is None:  # an empty file would silently run a 100-step all-defaults job
        raise ConfigError(f"{path}: the file is empty. Fix: name at least the task (task: {{name: arithmetic}}); "
                          f"configs/default.yaml is a complete example")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level, got {type(raw).__name__}")
    for item in overrides or []:
        apply_override(raw, item, str(path))
    cfg = from_dict(raw, str(path))
    cfg.source = str(path)
    if cfg.run.name is None:
        cfg.run.name = path.stem
    return cfg


def from_dict(raw: dict, where: str = "<config>") -> JobConfig:
    cfg = _build(JobConfig, raw, where, "")
    cfg.model.name = cfg.model.name.replace("{seed}", str(cfg.run.seed))
    _check_grpo(cfg.grpo, where)
    _check_values(cfg, where)
    return cfg


def apply_override(raw: dict, item: str, where: str) -> None:
    """Apply ``a.b.c=value`` (value parsed as YAML) to the raw mapping."""
    if "=" not in item:
        raise ConfigError(f"{where}: --set {item!r}: expected key.path=value")
    key, value = item.split("=", 1)
    parts = key.strip().split(".")
    node = raw
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[_list_index(part, node, where, key)]
            continue
        node = node.setdefault(part, {})
        if not isinstance(node, (dict, list)):
            raise ConfigError(f"{where}: --set {key}: {part!r} is not a section")
    try:
        parsed = read_value(value)
    except ValueError as error:
        raise ConfigError(f"{where}: --set {key}: {error}") from None
    if isinstance(node, list):
        node[_list_index(parts[-1], node, where, key)] = parsed
    else:
        node[parts[-1]] = parsed


def _list_index(part: str, node: list, where: str, key: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"{where}: --set {key}: {part!r} is not an index of a list of {len(node)}")
    return int(part)


def _build(cls, raw: Any, where: str, prefix: str):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: {prefix.rstrip('.') or 'top level'}: expected a mapping, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in raw.items():
        if key not in fields:
            raise ConfigError(
                f"{where}: {prefix}{key}: unknown key.{did_you_mean(key, fields)} Valid keys: {', '.join(fields)}"
            )
        kwargs[key] = _coerce(hints[key], value, where, f"{prefix}{key}")
    for name, f in fields.items():
        if name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}: {prefix}{name}: required value is missing")
    return cls(**kwargs)


def _coerce(tp, value, where: str, key: str):
    """`value` as the field's annotation asks (`rewards.user_values.coerce`); a section is built by `_build`."""
    try:
        return coerce(value, tp, key, build=lambda cls, raw, path: _build(cls, raw, where, path + "."))
    except BadValue as error:
        raise ConfigError(f"{where}: {error.path}: {error}") from None


def _check_grpo(grpo: dict, where: str) -> None:
    """Every key must be a GRPOConfig field of the right type; the job owns a few of them."""
    from trl import GRPOConfig

    fields = {f.name: f for f in dataclasses.fields(GRPOConfig)}
    for key, value in grpo.items():
        if key in OWNED_BY_JOB:
            raise ConfigError(f"{where}: grpo.{key}: set by the job; use {OWNED_BY_JOB[key]} instead")
        if key not in fields:
            raise ConfigError(f"{where}: grpo.{key}: not a trl.GRPOConfig field.{did_you_mean(key, fields)}")
        expected = _grpo_scalar_type(fields[key].type)
        if expected is None or value is None:
            continue
        try:
            grpo[key] = coerce(value, expected)
        except BadValue as error:
            raise ConfigError(f"{where}: grpo.{key}: {error}") from None


def _grpo_scalar_type(annotation) -> type | None:
    """The plain scalar type of a GRPOConfig field annotation (``'float | None'`` → float), else None."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    names = {part.strip() for part in str(text).replace("Optional[", "").rstrip("]").split("|")} - {"None"}
    if len(names) != 1:
        return None
    return {"int": int, "float": float, "bool": bool, "str": str}.get(names.pop())


def _check_values(cfg: JobConfig, where: str) -> None:
    def fail(key: str, msg: str):
        raise ConfigError(f"{where}: {key}: {msg}")

    if cfg.model.dtype not in ("auto", "float32", "bfloat16", "float16"):
        fail("model.dtype", f"expected one of auto, float32, bfloat16, float16, got {cfg.model.dtype!r}")
    if cfg.run.steps < 1:
        fail("run.steps", f"expected a positive integer, got {cfg.run.steps}")
    if cfg.run.time_budget_minutes is not None and cfg.run.time_budget_minutes <= 0:
        fail("run.time_budget_minutes", f"expected a positive number, got {cfg.run.time_budget_minutes}")
    for key in ("eval.every", "eval.num_examples", "eval.k", "behaviour.samples_per_step", "behaviour.num_probes",
                "behaviour.probe_every"):
        section, name = key.split(".")
        if getattr(getattr(cfg, section), name) < 0:
            fail(key, "expected a non-negative integer")
    for i, spec in enumerate(cfg.rewards):
        if not spec.name:
            fail(f"rewards[{i}].name", "required value is missing")
    seen: dict[str, int] = {}
    for i, spec in enumerate(cfg.rewards):
        if spec.key in seen:
            fail(f"rewards[{i}]", f"the name {spec.key!r} is already used by rewards[{seen[spec.key]}]; two rewards "
                 f"with one name would share one metric and one weight: name them apart with a label, e.g. "
                 f"rewards[{i}].label: {spec.name.rpartition(':')[2]}_2")
        seen[spec.key] = i
    if cfg.eval.samples and cfg.eval.samples < cfg.eval.k:
        fail("eval.samples", f"expected at least eval.k ({cfg.eval.k}) answers per example, got {cfg.eval.samples} "
             f"(0: 4 x k)")
    if cfg.sampling.max_extra_rounds < 0:
        fail("sampling.max_extra_rounds", "expected a non-negative integer")
    if not 0.0 <= cfg.sampling.pass_rate_decay < 1.0:
        fail("sampling.pass_rate_decay", f"expected a value in [0, 1), got {cfg.sampling.pass_rate_decay}")
    if not 0.0 < cfg.sampling.min_weight <= 1.0:
        fail("sampling.min_weight", f"expected a value in (0, 1], got {cfg.sampling.min_weight}")
    if cfg.sampling.difficulty_samples < 1:
        fail("sampling.difficulty_samples", "expected a positive integer")
    if cfg.sampling.difficulty_max_prompts < 0:
        fail("sampling.difficulty_max_prompts", "expected a non-negative integer")
    from rl_reasoner import tasks

    try:
        task = tasks.get(cfg.task.name)
    except tasks.TaskError as e:
        fail("task.name", str(e))
    names = [spec.key for spec in cfg.rewards] or [r.get("label") or r["name"] for r in task.default_rewards]
    where_names = "rewards" if cfg.rewards else f"task {cfg.task.name}'s default rewards"
    if cfg.run.accuracy_reward is not None and cfg.run.accuracy_reward not in names:
        fail("run.accuracy_reward", f"{cfg.run.accuracy_reward!r} is not among the {where_names} {names}")
    if cfg.run.format_reward not in (None, "format_reward") and cfg.run.format_reward not in names:
        fail("run.format_reward", f"{cfg.run.format_reward!r} is not among the {where_names} {names}; set it to "
             f"one of them, or to null for no format metric")
    if cfg.sampling.dynamic or cfg.sampling.curriculum:
        _check_whole_groups(cfg.grpo, where)


def _check_whole_groups(grpo: dict, where: str) -> None:
    """Dynamic sampling and the curriculum keep or redraw whole groups: each process's batch must hold whole ones."""
    from trl import GRPOConfig

    fields = {f.name: f.default for f in dataclasses.fields(GRPOConfig)}
    per_device = grpo.get("per_device_train_batch_size", fields["per_device_train_batch_size"])
    steps = grpo.get("steps_per_generation") or grpo.get("gradient_accumulation_steps",
                                                          fields["gradient_accumulation_steps"])
    group = grpo.get("num_generations", fields["num_generations"])
    if group and (per_device * steps) % group:
        raise ConfigError(
            f"{where}: grpo.per_device_train_batch_size: sampling.dynamic / sampling.curriculum need whole groups on "
            f"each process: per_device_train_batch_size x steps_per_generation ({per_device} x {steps}) must be a "
            f"multiple of num_generations ({group})")
