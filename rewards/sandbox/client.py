"""The sandbox as `code_tests` uses it: `SandboxRun` (one program and its input or tests), `Sandbox` (a pool of
slots running them concurrently), and the process-wide `default_sandbox()`."""

from __future__ import annotations

import atexit
import os
import queue
import sys
from concurrent.futures import ThreadPoolExecutor
from _thread import allocate_lock
from collections.abc import Sequence
from dataclasses import dataclass

from .limits import Limits
from .result import Result, SandboxError
from .slot import Slot


@dataclass(frozen=True)
class SandboxRun:
    """One program to run in the sandbox, and what to run it against: with `tests` it is a tests run,
    otherwise a stdio run fed `stdin`. (Not a training job: that is `rl_reasoner.job.Job`.)"""

    program: str
    """Python source of the program."""
    stdin: str = ""
    """Input of a stdio run."""
    tests: str | None = None
    """Trusted Python test code run against the program's top-level functions."""
    entry_point: str | None = None
    """With `tests`: the function passed to the tests' `check`, as HumanEval does."""
    limits: Limits | None = None
    """Overrides the sandbox's default limits."""

    def __post_init__(self) -> None:
        if not isinstance(self.program, str):
            raise TypeError(f"SandboxRun.program must be a string, got {type(self.program).__name__}")
        if not isinstance(self.stdin, str):
            raise TypeError(f"SandboxRun.stdin must be a string, got {type(self.stdin).__name__}")
        if self.tests is not None and not isinstance(self.tests, str):
            raise TypeError(f"SandboxRun.tests must be a string of Python test code, got {type(self.tests).__name__}")
        if self.entry_point is not None and not (isinstance(self.entry_point, str) and self.entry_point.isidentifier()):
            raise ValueError(f"SandboxRun.entry_point must be a Python identifier, got {self.entry_point!r}")
        if self.entry_point is not None and self.tests is None:
            raise ValueError("SandboxRun.entry_point needs tests that define check()")


class Sandbox:
    """A pool of `workers` sandbox servers running programs (`SandboxRun`s) concurrently.

    Thread-safe; servers start on first use and are restarted if they die. Use one per process
    (`default_sandbox()`), or as a context manager.

    >>> with Sandbox(workers=1) as sandbox:
    ...     sandbox.run("print(int(input()) * 2)", stdin="21").stdout
    '42\\n'
    """

    def __init__(
        self,
        workers: int | None = None,
        limits: Limits | None = None,
        *,
        network_namespace: bool = True,
        private_root: bool = True,
        cgroup: bool = True,
        scratch_bytes: int = 64 << 20,
    ):
        """`workers`: concurrent jobs (default: the CPUs this process may use, at most 8).
        `network_namespace`/`private_root`/`cgroup`: turn a protection off (for tests of the fallbacks).
        `scratch_bytes`: size of each slot's tmpfs holding the job directories."""
        if not sys.platform.startswith("linux"):
            raise SandboxError("the sandbox needs Linux (namespaces, memfd, pidfd)")
        if workers is None:
            workers = min(8, len(os.sched_getaffinity(0)))
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a positive integer, got {workers!r}")
        self.limits = limits or Limits()
        self._options = {
            "network_namespace": bool(network_namespace),
            "private_root": bool(private_root),
            "cgroup": bool(cgroup),
            "scratch_bytes": int(scratch_bytes),
        }
        cpus = sorted(os.sched_getaffinity(0))
        self._slots = [Slot({**self._options, "cpu": cpus[index % len(cpus)]}) for index in range(workers)]
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        for slot in self._slots:
            self._idle.put(slot)
        self._closed = False
        self._pid = os.getpid()  # a forked copy of the caller must not share the servers

    @property
    def workers(self) -> int:
        """How many jobs run at once."""
        return len(self._slots)

    @property
    def isolation(self) -> dict[str, str]:
        """What protects the jobs here (starts one server to find out): `user`, `network`, `filesystem`,
        `limits` (cgroup per job, or per process), `ipc`."""
        slot = self._idle.get()
        try:
            slot.ensure_started()
            return dict(slot.isolation)
        finally:
            self._idle.put(slot)

    def run(
        self,
        program: str,
        *,
        stdin: str = "",
        tests: str | None = None,
        entry_point: str | None = None,
        limits: Limits | None = None,
    ) -> Result:
        """Run one program (see `SandboxRun`) and wait for its result."""
        return self.run_one(SandboxRun(program, stdin, tests, entry_point, limits))

    def run_one(self, run: SandboxRun) -> Result:
        """Run one `SandboxRun` on the next free slot."""
        if self._closed:
            raise SandboxError("the sandbox is closed")
        if os.getpid() != self._pid:
            raise SandboxError("this sandbox belongs to the parent process; create one here (default_sandbox())")
        slot = self._idle.get()
        try:
            return slot.run(run, run.limits or self.limits)
        finally:
            self._idle.put(slot)

    def run_many(self, runs: Sequence[SandboxRun]) -> list[Result]:
        """Run `runs` on all slots at once; results in the order of `runs`."""
        runs = list(runs)
        if len(runs) <= 1 or self.workers == 1:
            return [self.run_one(run) for run in runs]
        with ThreadPoolExecutor(min(self.workers, len(runs)), thread_name_prefix="sandbox") as pool:
            return list(pool.map(self.run_one, runs))

    def close(self) -> None:
        """Stop every server (their namespaces and scratch files go with them)."""
        self._closed = True
        if os.getpid() != self._pid:
            return  # the parent's servers, not ours to stop
        for slot in self._slots:
            slot.stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_DEFAULT: Sandbox | None = None
_DEFAULT_LOCK = allocate_lock()


def default_sandbox() -> Sandbox:
    """The process-wide shared `Sandbox` (default limits and workers), closed at exit."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None or _DEFAULT._closed or _DEFAULT._pid != os.getpid():
            _DEFAULT = Sandbox()
            atexit.register(_DEFAULT.close)
        return _DEFAULT
