"""How a sandbox run ends: every status a `Result` can have, and the `Result` itself (what the client gets)."""

from __future__ import annotations

from dataclasses import dataclass


STATUSES = {
    "passed": "tests: every test ran and passed",
    "failed": "tests: an assertion failed",
    "ok": "stdio: the program exited with status 0 (compare its stdout)",
    "error": "the program raised, exited non-zero or was killed by a signal (see `detail`)",
    "exited": "tests: the program exited (sys.exit, os._exit, exit()) before the tests were done",
    "timeout": "wall-clock or CPU time limit",
    "sandbox:memory": "memory limit (MemoryError or allocation failure)",
    "sandbox:output": "more stdout+stderr than the output limit",
    "sandbox:file-size": "wrote a file larger than the file size limit",
    "sandbox:processes": "process limit (fork or thread creation refused)",
    "no-tests": "tests: they never called the program (or define no `check`); not scorable",
    "unsupported": "tests: they passed a value that cannot cross to the program; not scorable",
    "bad-tests": "tests: they cannot run (a SyntaxError, a name nobody defines, they exit or kill the tester); not scorable",
    "sandbox:crashed": "the sandbox server died during the job (counted as a failure)",
}
"""Every `Result.status`, with what it means."""


NOT_SCORABLE = frozenset({"no-tests", "unsupported", "bad-tests"})
"""Statuses whose `Result.passed` is `None`: the tests, not the program, are at fault."""


class SandboxError(RuntimeError):
    """The sandbox could not start or is not supported on this system."""


@dataclass(frozen=True)
class Result:
    """How a job ended."""

    status: str
    """One of `STATUSES`."""
    passed: bool | None
    """Tests job: True iff every test ran and passed; None when not scorable (`NOT_SCORABLE`). Stdio: None."""
    stdout: str = ""
    """The program's stdout (at most the output limit)."""
    stderr: str = ""
    """The last 4 KB of the program's stderr."""
    exit_code: int | None = None
    """The program's exit status, or -signal; None when it was still running at the end (tests, timeout)."""
    detail: str = ""
    """One line saying why (the failing exception, the limit hit)."""
    seconds: float = 0.0
    """Wall-clock time of the job inside the sandbox."""
