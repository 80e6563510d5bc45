"""Preemption: on SIGTERM, save a checkpoint at the end of the current step and exit.

Clusters send SIGTERM some time before they kill a job (SLURM at the end of the time limit or on preemption,
Kubernetes on eviction). :class:`PreemptionCallback` turns that signal into "finish this optimiser step, write a
checkpoint, stop", so that ``rl-reasoner train CONFIG --resume`` continues exactly from there. It does not try to
save in the middle of a step: the weights, optimiser and generation buffer are only consistent between steps, and
under DeepSpeed/FSDP saving is a collective every rank must enter at the same step.

With several processes the signal may reach the ranks at slightly different moments, so at every step end the
ranks agree (one all-reduce of a single number) and all of them stop at the same step. After the checkpoint is
written the process exits with :data:`PREEMPTED_EXIT_CODE`; the final evaluation and the ``final/`` model are
left to the resumed run. Further signals are ignored while the step finishes: under SLURM a worker may get SIGTERM
twice (from the scheduler and from the launcher forwarding it), and the second must not undo the first. To stop at
once, use SIGKILL or Ctrl-C (SIGINT).

Launchers: ``torchrun`` / ``accelerate launch`` forward SIGTERM to the workers and kill them 30 s later
(``TORCH_ELASTIC_SHUTDOWN_TIMEOUT`` changes that): the current step and the checkpoint must fit in that time, or
ask the scheduler for an earlier signal (``#SBATCH --signal=TERM@300``). docs/scaling.md has the details.

Example::

    trainer.add_callback(PreemptionCallback())
    trainer.train()   # SIGTERM during step 17 → checkpoint-17 is written, then SystemExit(143)
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

from transformers import TrainerCallback

PREEMPTED_EXIT_CODE = 143
"""Exit status after a preemption checkpoint: 128 + SIGTERM, what shells and schedulers read as "terminated".
It is not 0 on purpose: a pipeline ``train && eval`` must not go on with an unfinished model."""


class PreemptionCallback(TrainerCallback):
    """Save a checkpoint at the end of the step during which one of ``signals`` arrived, then exit."""

    def __init__(self, signals: Sequence[signal.Signals] = (signal.SIGTERM,), exit_code: int = PREEMPTED_EXIT_CODE):
        self.signals = tuple(signals)
        """The signals that mean "save and stop" (SIGTERM; add SIGUSR1 for ``#SBATCH --signal=USR1@...``)."""
        self.exit_code = exit_code
        """Status the process exits with once the checkpoint is written."""
        self.received: int | None = None
        """The signal number received on this process, if any."""
        self.stopping = False
        """True once all ranks agreed to stop at this step (set at the step end, acted on after the save)."""
        self._previous: dict[int, object] = {}
        self.install()

    def install(self) -> None:
        """Install the handlers (main thread only; elsewhere, e.g. a notebook worker thread, do nothing)."""
        for sig in self.signals:
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # signal only works in the main thread of the main interpreter
                return

    def uninstall(self) -> None:
        """Give the signals back to the handlers that were there before."""
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()

    def _handle(self, signum, frame) -> None:
        if self.received is not None:  # already stopping at the end of this step
            return
        self.received = signum
        print(f"[rl-reasoner] received {signal.Signals(signum).name}: saving a checkpoint at the end of this step, "
              "then exiting", file=sys.stderr, flush=True)

    # -- hooks ------------------------------------------------------------------------------------------------

    def on_step_end(self, args, state, control, **kwargs):
        if any_rank(self.received is not None, args.device):
            self.stopping = True
            control.should_save = True
            control.should_training_stop = True

    def on_save(self, args, state, control, **kwargs):
        if not self.stopping:
            return
        if state.is_world_process_zero:
            print(f"[rl-reasoner] preempted: checkpoint-{state.global_step} saved; continue with "
                  "`rl-reasoner train CONFIG --resume`", file=sys.stderr, flush=True)
        raise SystemExit(self.exit_code)

    def on_train_end(self, args, state, control, **kwargs):
        self.uninstall()


def any_rank(flag: bool, device=None) -> bool:
    """True when ``flag`` is true on at least one process (a MAX all-reduce; no communication when alone).

    >>> any_rank(True), any_rank(False)
    (True, False)
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flag
    import torch

    value = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())
