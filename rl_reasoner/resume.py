"""What ``train --resume`` needs beyond what transformers restores by itself.

transformers' checkpoints already hold the weights, the optimiser and scheduler, the RNG states of every process
and the trainer state, and on resume it skips the batches already seen in the current epoch. Two gaps remain,
closed here:

1. **Which checkpoint.** A job killed while writing a checkpoint leaves a directory that looks like one.
   :func:`last_complete_checkpoint` only accepts a checkpoint whose ``trainer_state.json`` (written last by
   transformers) parses and names its own step, and whose RNG files are whole zip archives.
2. **The data order across epochs.** TRL's ``RepeatSampler`` draws one permutation per epoch from its own
   generator, seeded once. A resumed job builds a fresh sampler, so after the first epoch it would replay the
   first epoch's order. :class:`ResumeDataOrder` advances the sampler by the epochs already trained, so the
   resumed job sees the batches the uninterrupted one would have seen.

:func:`resume_misalignment` names the one GRPO setting that cannot resume exactly: a checkpoint taken in the
middle of a reused generation batch (``steps_per_generation`` / ``num_iterations`` larger than the
gradient-accumulation steps), because the generation buffer is not part of a checkpoint.

:func:`start_point` decides where a job starts: a fresh run, the last complete checkpoint, or nothing to do (a
finished run is never trained past ``run.steps``; raising ``run.steps`` is how a run is extended).
"""

from __future__ import annotations

import json
import math
import re
import sys
import zipfile
from pathlib import Path

from transformers import TrainerCallback

CHECKPOINT_NAME = re.compile(r"checkpoint-(\d+)")


def checkpoint_is_complete(path: str | Path) -> bool:
    """Whether ``path`` is a checkpoint transformers finished writing.

    ``trainer_state.json`` is the last file transformers writes; it must parse and hold the step of the
    directory's name. RNG states (``rng_state*.pth``, one per process) are written by every rank in parallel,
    so each must be a readable zip archive (the format of ``torch.save``).

    >>> import tempfile; d = Path(tempfile.mkdtemp()) / "checkpoint-3"; d.mkdir()
    >>> checkpoint_is_complete(d)
    False
    >>> _ = (d / "trainer_state.json").write_text('{"global_step": 3}')
    >>> checkpoint_is_complete(d)
    True
    >>> _ = (d / "trainer_state.json").write_text('{"global_step": 3')   # torn
    >>> checkpoint_is_complete(d)
    False
    """
    path = Path(path)
    match = CHECKPOINT_NAME.fullmatch(path.name)
    if match is None or not path.is_dir():
        return False
    try:
        state = json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(state, dict) or state.get("global_step") != int(match.group(1)):
        return False
    for rng_file in path.glob("rng_state*.pth"):
        try:
            with zipfile.ZipFile(rng_file) as archive:
                if archive.testzip() is not None:
                    return False
        except (OSError, zipfile.BadZipFile):
            return False
    return True


def last_complete_checkpoint(checkpoints: str | Path) -> Path | None:
    """The complete checkpoint with the highest step under ``checkpoints``, or None.

    >>> import tempfile; root = Path(tempfile.mkdtemp())
    >>> for step, text in ((2, '{"global_step": 2}'), (4, '{"global_')):
    ...     (root / f"checkpoint-{step}").mkdir()
    ...     _ = (root / f"checkpoint-{step}" / "trainer_state.json").write_text(text)
    >>> last_complete_checkpoint(root).name     # checkpoint-4 was cut off while being written
    'checkpoint-2'
    """
    found = []
    for path in Path(checkpoints).glob("checkpoint-*"):
        match = CHECKPOINT_NAME.fullmatch(path.name)
        if match and checkpoint_is_complete(path):
            found.append((int(match.group(1)), path))
    return max(found)[1] if found else None


def start_point(run, config, resume: bool) -> Path | None:
    """The checkpoint to continue from (None: start from scratch); says which on stdout.

    Raises :class:`RunComplete` when ``resume`` finds the run finished (its last checkpoint is at ``run.steps``
    or beyond and ``final/`` was written), and ``ConfigError`` when a fresh start would mix with the records of
    an earlier run in the same directory.
    """
    from rl_reasoner.config import ConfigError

    if not resume:
        held = run.records_held()
        if held:
            raise ConfigError(f"{run.path} already holds a run ({', '.join(held)}). Fix: pass --resume to continue "
                              f"it, or choose another run directory (--set run.name=NEW)")
        return None
    checkpoint = last_complete_checkpoint(run.checkpoints)
    if checkpoint is None:
        print(f"[rl-reasoner] --resume: no complete checkpoint in {run.checkpoints}; starting from scratch", flush=True)
        return None
    step = int(CHECKPOINT_NAME.fullmatch(checkpoint.name).group(1))
    if step >= config.run.steps and (run.path / "final").is_dir():
        raise RunComplete(f"[rl-reasoner] {run.path} is complete ({step} of run.steps={config.run.steps} steps, "
                          f"final/ written): nothing to train. To train further, raise run.steps "
                          f"(--set run.steps={step + max(1, step // 2)} --resume)")
    print(f"[rl-reasoner] --resume: continuing from {checkpoint} (step {step} of {config.run.steps})", flush=True)
    return checkpoint


class RunComplete(Exception):
    """``--resume`` found the run already finished; the message says so and how to extend it."""


def resume_misalignment(gradient_accumulation_steps: int, steps_per_generation: int, num_iterations: int,
                        save_steps: int) -> str | None:
    """Why a checkpoint may fall inside a reused generation batch, or None when every checkpoint resumes exactly.

    TRL generates once every ``steps_per_generation * num_iterations`` micro-batches and reuses the buffer in
    between; the buffer is not saved, so a resumed job regenerates. That is exact only when every checkpoint
    (every ``save_steps`` optimiser steps of ``gradient_accumulation_steps`` micro-batches) is a generation
    boundary.

    >>> resume_misalignment(1, 1, 1, save_steps=10) is None
    True
    >>> print(resume_misalignment(1, 1, 2, save_steps=5))  # doctest: +ELLIPSIS
    a checkpoint every 5 steps ... choose save_steps as a multiple of 2 for an exact resume
    """
    generate_every = steps_per_generation * num_iterations
    if (save_steps * gradient_accumulation_steps) % generate_every == 0:
        return None
    multiple = generate_every // math.gcd(generate_every, gradient_accumulation_steps)
    return (f"a checkpoint every {save_steps} steps of {gradient_accumulation_steps} micro-batches can fall inside "
            f"a generation batch reused for {generate_every} micro-batches (steps_per_generation="
            f"{steps_per_generation} x num_iterations={num_iterations}); choose save_steps as a multiple of "
            f"{multiple} for an exact resume")


class ResumeDataOrder(TrainerCallback):
    """On resume, advance the shuffling sampler past the epochs already trained (see the module docstring).

    At the start of every job it also warns, once, when the checkpoints cannot resume exactly
    (:func:`resume_misalignment`).
    """

    def __init__(self):
        self.epochs_skipped = 0
        """Permutations drawn to catch up on the last resume (0 when the job started from scratch)."""

    def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
        save_steps = getattr(args, "save_steps", 0) or 0
        if state.is_world_process_zero and save_steps >= 1 and float(save_steps).is_integer():  # < 1: a fraction
            save_steps = int(save_steps)
            accumulation = args.gradient_accumulation_steps
            per_generation = getattr(args, "steps_per_generation", None) or accumulation
            problem = resume_misalignment(accumulation, per_generation, getattr(args, "num_iterations", 1), save_steps)
            if problem:
                print(f"[rl-reasoner] warning: {problem}", file=sys.stderr, flush=True)
        if state.global_step == 0 or train_dataloader is None:
            return
        sampler = find_shuffling_sampler(train_dataloader)
        if sampler is None:
            return
        steps_per_epoch = _update_steps_per_epoch(len(train_dataloader), args.gradient_accumulation_steps)
        self.epochs_skipped = state.global_step // steps_per_epoch
        for _ in range(self.epochs_skipped):
            next(iter(sampler), None)  # each iteration draws the epoch's permutation first


def find_shuffling_sampler(dataloader, depth: int = 4):
    """The sampler inside ``dataloader`` (through accelerate's wrappers) that shuffles with its own generator."""
    import torch

    seen, frontier = set(), [dataloader]
    for _ in range(depth):
        found = []
        for node in frontier:
            for name in ("sampler", "batch_sampler", "base_dataloader"):
                child = getattr(node, name, None)
                if child is None or id(child) in seen:
                    continue
                seen.add(id(child))
                if getattr(child, "shuffle", False) and isinstance(getattr(child, "generator", None), torch.Generator):
                    return child
                found.append(child)
        frontier = found
    return None


def _update_steps_per_epoch(num_batches: int, gradient_accumulation_steps: int) -> int:
    """Optimiser steps per epoch, computed as transformers does (a last partial accumulation counts as a step)."""
    return max(1, num_batches // gradient_accumulation_steps + int(num_batches % gradient_accumulation_steps > 0))
