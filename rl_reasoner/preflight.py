"""Checks that need no model: run before any weights load, so a mistake costs a second, not a model load.

Each check raises :class:`~rl_reasoner.config.ConfigError` with one line naming the problem and the fix:

* :func:`grpo_arguments` builds TRL's ``GRPOConfig``, whose own validation (``num_generations`` that does not
  divide the generation batch, ...) would otherwise end in a raw ``ValueError`` traceback;
* :func:`check_trackers` looks for the package behind every ``grpo.report_to`` entry and names the extra;
* :func:`check_writable` tries the run directory's parent (read-only mount, a file in the way, no space).
"""

from __future__ import annotations

import errno
import importlib.util
import os
from pathlib import Path

from rewards.user_values import did_you_mean
from rl_reasoner.config import ConfigError

TRACKERS = {
    # report_to value: (importable module(s), extra of this package or None)
    "trackio": (("trackio",), "trackio"),
    "tensorboard": (("tensorboard", "tensorboardX"), "tensorboard"),
    "wandb": (("wandb",), "wandb"),
    "mlflow": (("mlflow",), None),
    "comet_ml": (("comet_ml",), None),
    "clearml": (("clearml",), None),
    "neptune": (("neptune",), None),
    "dvclive": (("dvclive",), None),
    "swanlab": (("swanlab",), None),
    "codecarbon": (("codecarbon",), None),
    "azure_ml": (("azureml",), None),
    "dagshub": (("dagshub",), None),
    "flyte": (("flytekit",), None),
    "kubeflow": (("kubeflow",), None),
}
"""The trackers transformers can report to (``grpo.report_to``) and the package each needs; trackio, tensorboard
and wandb install as extras, ``pip install 'rl-reasoner[<extra>]'``."""


def grpo_arguments(config, job=None):
    """``GRPOConfig`` of the job (:func:`rl_reasoner.job.grpo_args`), TRL's ``ValueError`` made a ConfigError."""
    from rl_reasoner.job import grpo_args

    try:
        return grpo_args(config, job)
    except ValueError as error:
        message = " ".join(str(error).split())
        fix = ("Fix: choose grpo.num_generations dividing per_device_train_batch_size x processes x "
               "steps_per_generation" if "num_generations" in message or "generations" in message
               else "Fix: correct the grpo section")
        raise ConfigError(f"{config.source}: grpo: {message} {fix}.") from None


def report_to(config) -> list[str]:
    """The trackers named in ``grpo.report_to`` (a string or a list; ``none`` → [])."""
    value = config.grpo.get("report_to", "none")
    names = [value] if isinstance(value, str) else list(value or [])
    return [n for n in names if n not in ("none", None)]


def check_trackers(config) -> None:
    """Every tracker in ``grpo.report_to`` is known and importable (``all``: whatever is installed).

    >>> from rl_reasoner.config import JobConfig
    >>> check_trackers(JobConfig(grpo={"report_to": "none"}))
    >>> check_trackers(JobConfig(grpo={"report_to": "tensorbord"}, source="job.yaml"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    rl_reasoner.config.ConfigError: job.yaml: grpo.report_to: unknown tracker 'tensorbord'. Did you mean 'tensorboard'? Known: trackio, tensorboard, wandb, ..., all, none
    """
    for name in report_to(config):
        if name == "all":
            continue
        if name not in TRACKERS:
            raise ConfigError(f"{config.source}: grpo.report_to: unknown tracker {name!r}."
                              f"{did_you_mean(name, TRACKERS)} "
                              f"Known: {', '.join(TRACKERS)}, all, none")
        modules, extra = TRACKERS[name]
        if not any(importlib.util.find_spec(m) is not None for m in modules):
            how = f"pip install 'rl-reasoner[{extra}]'" if extra else f"pip install {modules[0]}"
            raise ConfigError(f"{config.source}: grpo.report_to: {name} is not installed. Fix: {how}, "
                              f"or set grpo.report_to: none")


def check_writable(directory: str | Path, what: str, fix: str) -> None:
    """``directory`` exists or can be created, and a file can be written in it (then removed)."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".rl-reasoner-write-test-{os.getpid()}"
        probe.write_bytes(b"x")
        probe.unlink()
    except OSError as error:
        raise ConfigError(f"{what} {directory} is not writable ({describe_os_error(error)}). Fix: {fix}") from None


def describe_os_error(error: OSError) -> str:
    """A short reason for an I/O failure.

    >>> describe_os_error(OSError(errno.ENOSPC, "No space left on device"))
    'no space left on the device'
    """
    reasons = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
               errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
               errno.EPERM: "permission denied", errno.ENOTDIR: "a file is in the way of the path",
               errno.EEXIST: "a file is in the way of the path"}
    reason = reasons.get(error.errno, error.strerror or str(error))
    return reason + (f": {error.filename}" if error.filename and error.errno not in (errno.ENOSPC,) else "")
