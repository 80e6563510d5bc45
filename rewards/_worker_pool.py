"""A pool of long-lived worker processes that run one function with a hard deadline per call.

Why not `concurrent.futures.ProcessPoolExecutor` or `multiprocessing.Pool`: neither can kill the one
worker stuck on a call and carry on; and with `spawn`/`forkserver` both re-import the user's `__main__`
in every child (a training script without an `if __name__ == "__main__":` guard would run again), while
`fork` from a process that already runs torch threads can deadlock. Each worker here is a fresh
interpreter started with `subprocess` (fork+exec: safe from any thread of any process) that imports
only the function it runs, and talks to the parent over two pipes.

Deadlines work in two steps: the worker interrupts its own call with `SIGALRM` a little before the
deadline (cheap: the worker survives), and the parent kills the worker when the deadline passes
anyway (a call stuck in C code never returns to the interpreter to see the alarm). A killed or
crashed worker is replaced. A call therefore never takes longer than its deadline, from any thread:
`signal.alarm` is only ever used inside the worker, on its main thread.

A deadline starts when a *ready* worker picks the call up: a worker imports its function and runs the
optional `warm_up` function (e.g. importing math-verify and sympy) before it says it is ready, so a cold
start or a replaced worker never eats into a call's deadline. Workers run with `PYTHONHASHSEED=0`, so
that code whose result depends on set or dict order (sympy does) decides the same way in every worker
of every process.
"""

from __future__ import annotations

import atexit
import importlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

SOFT_DEADLINE_SHARE = 0.8
"""The worker interrupts a call itself after this share of the deadline; the parent kills it at the deadline."""

STARTUP_TIMEOUT_S = 120.0
"""A worker that is not ready after this long (importing its function) is a fatal error."""

MAX_ATTEMPTS = 2
"""A call whose worker dies under it (killed, out of memory, crashed) is given to a fresh worker; this many deaths make it an "error"."""

MAX_START_FAILURES = 3
"""Workers that die while starting (killed from outside, say) are replaced; this many in one `map` is a fatal error."""

_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


@dataclass(frozen=True)
class Outcome:
    """What became of one call."""

    status: str
    """"ok" (the call returned `value`), "timeout" (past its deadline), or "error" (it raised, or its worker died twice)."""
    value: Any = None
    """The return value for "ok", a short description of the failure otherwise."""


def default_workers() -> int:
    """Workers per process: `RL_REASONER_REWARD_WORKERS` if set, else this process's share of the CPU cores.

    The share divides the usable cores by `LOCAL_WORLD_SIZE` (set by torchrun/accelerate), so eight
    trainer processes on one node do not start eight workers per core; capped at 16.

    >>> default_workers() >= 1
    True
    """
    configured = os.environ.get("RL_REASONER_REWARD_WORKERS")
    if configured:
        workers = int(configured)
        if workers < 1:
            raise ValueError(f"RL_REASONER_REWARD_WORKERS must be >= 1, got {configured!r}")
        return workers
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    local_processes = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return max(1, min(16, cores // local_processes))


@dataclass
class _Worker:
    process: subprocess.Popen
    to_worker: Connection
    from_worker: Connection
    ready: bool = False
    started: float = field(default_factory=time.monotonic)
    job: int | None = None
    deadline: float = 0.0

    def kill(self) -> None:
        for connection in (self.to_worker, self.from_worker):
            connection.close()
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - the kernel did not reap a SIGKILLed child
            pass


class WorkerPool:
    """Runs `function(*args)` in worker processes, each call bounded by a deadline.

    `function` is named as `"package.module:function"` so that a worker can import it. The pool is
    thread-safe (calls from several threads run one batch at a time) and fork-aware (a forked child
    process that uses the pool starts its own workers).
    """

    def __init__(self, function: str, workers: int | None = None, warm_up: str | None = None):
        for named in (function, warm_up or "warm:up"):
            module, _, name = named.partition(":")
            if not module or not name:
                raise ValueError(f"function must be given as 'package.module:function', got {named!r}")
        self.function = function
        self.warm_up = warm_up
        self.workers = default_workers() if workers is None else workers
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def map(self, calls: Sequence[tuple], timeout: float) -> list[Outcome]:
        """Run `function(*args)` for every `args` in `calls` in parallel; each call gets `timeout` seconds.

        The deadline of a call starts when a worker picks it up, so the whole batch takes at most about
        `ceil(len(calls) / workers) * timeout` (plus the start of the workers on first use).
        """
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        if not calls:
            return []
        with self._lock:
            if os.getpid() != self._pid:  # we are a forked copy: the workers belong to the parent
                self._workers, self._pid = [], os.getpid()
            return self._run(list(calls), timeout)

    def close(self) -> None:
        """Stop all workers (they also exit on their own when this process dies)."""
        with self._lock:
            if os.getpid() == self._pid:
                for worker in self._workers:
                    worker.kill()
            self._workers = []

    def _start_worker(self) -> _Worker:
        parent_reads, worker_writes = os.pipe()
        worker_reads, parent_writes = os.pipe()
        bootstrap = (
            "import sys; sys.path[:1] = [sys.argv[1]] if sys.path[:1] == [''] else [sys.argv[1], *sys.path[:1]]; "
            "from rewards._worker_pool import _worker_main; _worker_main(*sys.argv[2:])"
        )
        argv = [
            sys.executable, "-c", bootstrap, _PACKAGE_ROOT, self.function, str(worker_reads), str(worker_writes),
            self.warm_up or "",
        ]  # fmt: skip
        try:
            process = subprocess.Popen(
                argv,
                pass_fds=(worker_reads, worker_writes),
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONHASHSEED": "0"},  # one verdict for one input, in every worker
                start_new_session=True,  # a Ctrl-C to the trainer goes to the trainer, which then closes the pipes
            )
        finally:
            os.close(worker_reads)
            os.close(worker_writes)
        return _Worker(process, Connection(parent_writes, readable=False), Connection(parent_reads, writable=False))

    def _run(self, calls: list[tuple], timeout: float) -> list[Outcome]:
        results: list[Outcome | None] = [None] * len(calls)
        pending = deque(range(len(calls)))
        soft_timeout = timeout * SOFT_DEADLINE_SHARE
        self._start_failures = 0
        self._pending, self._attempts = pending, [0] * len(calls)
        while pending or any(worker.job is not None for worker in self._workers):
            while len(self._workers) < min(self.workers, len(pending) + self._busy()):
                self._workers.append(self._start_worker())
            for worker in list(self._workers):
                if worker.ready and worker.job is None and pending:
                    job = pending.popleft()
                    try:
                        worker.to_worker.send((calls[job], soft_timeout))
                    except OSError:  # it died while idle (e.g. the OOM killer): give the call to another
                        pending.appendleft(job)
                        self._retire(worker)
                        continue
                    worker.job, worker.deadline = job, time.monotonic() + timeout
                    self._attempts[job] += 1
            now = time.monotonic()
            waits = [worker.deadline - now for worker in self._workers if worker.job is not None]
            waits += [worker.started + STARTUP_TIMEOUT_S - now for worker in self._workers if not worker.ready]
            readable = wait([worker.from_worker for worker in self._workers], timeout=max(0.0, min(waits, default=0)))
            for worker in list(self._workers):
                if worker.from_worker in readable:
                    self._receive(worker, results)
            now = time.monotonic()
            for worker in list(self._workers):
                if worker.job is not None and now >= worker.deadline:
                    results[worker.job] = Outcome("timeout", f"killed after {timeout:g} s")
                    self._retire(worker)
                elif not worker.ready and now >= worker.started + STARTUP_TIMEOUT_S:
                    self._retire(worker)
                    raise RuntimeError(f"a worker for {self.function} did not start within {STARTUP_TIMEOUT_S:g} s")
        return [result if result is not None else Outcome("error", "lost") for result in results]

    def _busy(self) -> int:
        return sum(worker.job is not None for worker in self._workers)

    def _receive(self, worker: _Worker, results: list[Outcome | None]) -> None:
        try:
            message = worker.from_worker.recv()
        except (EOFError, OSError):
            was_ready, job = worker.ready, worker.job
            self._retire(worker)
            if not was_ready:
                self._start_failures += 1
                if self._start_failures >= MAX_START_FAILURES:
                    raise RuntimeError(
                        f"workers for {self.function} exited while starting {self._start_failures} times "
                        f"(last exit code {worker.process.returncode}); their error is on stderr"
                    ) from None
                return  # killed while starting: the loop starts another
            if job is not None and self._attempts[job] < MAX_ATTEMPTS:
                self._pending.appendleft(job)  # killed or crashed under it: once more, on a fresh worker
            elif job is not None:
                results[job] = Outcome("error", f"worker died (exit code {worker.process.returncode}), twice")
            return
        if message == "ready":
            worker.ready = True
            return
        if worker.job is not None:
            status, value = message
            results[worker.job] = Outcome(status, value)
            worker.job = None

    def _retire(self, worker: _Worker) -> None:
        worker.kill()
        self._workers.remove(worker)


class _SoftTimeout(BaseException):
    """Raised by the worker's alarm; a BaseException so that `except Exception` in the called code cannot swallow it."""


def _worker_main(function: str, read_fd: str, write_fd: str, warm_up: str = "") -> None:
    """The loop of a worker process: warm up, say "ready", then receive `(args, soft_timeout)`, send `(status, value)`."""
    inbox = Connection(int(read_fd), writable=False)
    outbox = Connection(int(write_fd), readable=False)
    os.dup2(2, 1)  # stray prints go to stderr, never into the protocol
    module, _, name = function.partition(":")
    target: Callable = getattr(importlib.import_module(module), name)
    if warm_up:
        warm_module, _, warm_name = warm_up.partition(":")
        getattr(importlib.import_module(warm_module), warm_name)()
    armed = False

    def on_alarm(signum, frame):
        if armed:
            raise _SoftTimeout()

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    outbox.send("ready")
    while True:
        try:
            args, soft_timeout = inbox.recv()
        except (EOFError, OSError):  # the parent closed the pool or died
            return
        try:
            armed = True
            signal.setitimer(signal.ITIMER_REAL, soft_timeout)
            try:
                outcome = ("ok", target(*args))
            except Exception as error:  # noqa: BLE001 - the parent decides what an error means
                outcome = ("error", f"{type(error).__name__}: {str(error)[:300]}")
            finally:
                armed = False
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _SoftTimeout:
            armed = False
            outcome = ("timeout", "interrupted")
        try:
            outbox.send(outcome)
        except (BrokenPipeError, OSError):
            return


_POOLS: dict[str, WorkerPool] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(function: str, warm_up: str | None = None) -> WorkerPool:
    """The process-wide pool for `function` (whose workers run `warm_up` before their first call), created on first use."""
    with _POOLS_LOCK:
        pool = _POOLS.get(function)
        if pool is None:
            pool = _POOLS[function] = WorkerPool(function, warm_up=warm_up)
        elif warm_up is not None and pool.warm_up is None:
            pool.warm_up = warm_up  # first asked for without one (e.g. to close it): later workers warm up
        return pool


@atexit.register
def _close_pools() -> None:
    for pool in list(_POOLS.values()):
        pool.close()
