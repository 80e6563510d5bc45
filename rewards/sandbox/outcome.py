"""Watching a running program (its output, its end, the wall-clock deadline) and naming how the run ended."""

from __future__ import annotations

import math
import os
import select
import signal
import time

from .limits import Limits


class Watch:
    """Waits until `end_fd` is readable (the program's pidfd, or the tester's socket), the wall deadline
    passes, or the output exceeds its limit; meanwhile reads the program's stdout and stderr."""

    def __init__(self, limits: Limits, start: float, out: int, err: int, end_fd: int, end_is_pidfd: bool):
        self.limits, self.deadline = limits, start + limits.wall_seconds
        self.stdout, self.stderr = bytearray(), bytearray()
        self.output_bytes = 0
        self.timed_out = self.overflow = False
        self.out, self.err, self.end_fd = out, err, end_fd
        self.closed: set[int] = set()

    def run(self) -> None:
        poller = select.poll()
        for fd in (self.out, self.err, self.end_fd):
            poller.register(fd, select.POLLIN)
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0:
                self.timed_out = True
                return
            for fd, _ in poller.poll(math.ceil(left * 1000)):
                if fd == self.end_fd:
                    return
                data = os.read(fd, 1 << 16)
                if not data:
                    poller.unregister(fd)
                    self.closed.add(fd)
                elif self._keep(fd, data):
                    return

    def drain(self, fd: int) -> None:
        """Read what the program wrote before it ended (it may still sit in the pipe)."""
        if fd in self.closed or self.overflow:
            return
        os.set_blocking(fd, False)
        while True:
            try:
                data = os.read(fd, 1 << 16)
            except BlockingIOError:
                return
            if not data or self._keep(fd, data):
                return

    def _keep(self, fd: int, data: bytes) -> bool:
        """Keep output; True when over the limit (the job is then killed)."""
        self.output_bytes += len(data)
        if self.output_bytes > self.limits.max_output_bytes:
            self.overflow = True
            return True
        if fd == self.out:
            self.stdout += data
        else:
            self.stderr += data
            if len(self.stderr) > 8192:
                del self.stderr[:-4096]
        return False


def outcome(
    watch: Watch, verdict: tuple[str, str] | None, exited: bool, status: int, usage, limits: Limits
) -> tuple[str, str]:
    """(status, detail) of a finished job. `verdict` is the tester's (None for stdio); `exited`: whether
    the program ended by itself, with wait `status` and resource `usage`."""
    if watch.overflow:
        return "sandbox:output", f"printed more than {limits.max_output_bytes} bytes"
    if watch.timed_out:
        return "timeout", f"still running after {limits.wall_seconds:g} s"
    if verdict is not None:
        kind, detail = verdict
        if kind in ("failed", "error") and detail.startswith("MemoryError"):
            return "sandbox:memory", detail
        if kind != "exited" or not exited:
            return kind, detail
    stderr = bytes(watch.stderr).decode("utf-8", "replace")
    last_line = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "")
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number == signal.SIGXCPU or usage.ru_utime + usage.ru_stime >= math.ceil(limits.cpu_seconds) - 0.05:
            return "timeout", f"used more than {math.ceil(limits.cpu_seconds)} s of CPU"
        if number == signal.SIGXFSZ:
            return "sandbox:file-size", f"wrote a file over {limits.max_file_bytes} bytes"
        return "error", f"killed by {signal.Signals(number).name}"
    code = os.WEXITSTATUS(status)
    if code == 0:
        return ("exited", "the program exited before the tests were done") if verdict else ("ok", "")
    if "MemoryError" in stderr:
        return "sandbox:memory", last_line
    if "File too large" in stderr:  # Python ignores SIGXFSZ: the write fails with EFBIG
        return "sandbox:file-size", last_line
    if "Resource temporarily unavailable" in stderr or "can't start new thread" in stderr:
        return "sandbox:processes", last_line
    return "error", last_line or f"exit status {code}"
