"""The resource limits of one run (the client sets them; the server enforces them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Resource limits of one job's program (the tester has its own, `TESTER_MEMORY_BYTES`, and the job's
    wall-clock time)."""

    wall_seconds: float = 5.0
    """Wall-clock time for the whole job, from fork to verdict."""
    cpu_seconds: float = 4.0
    """CPU time of the program process (RLIMIT_CPU, rounded up to whole seconds)."""
    memory_bytes: int = 512 << 20
    """Address space of each process (RLIMIT_AS); the forked interpreter itself uses ~30 MB of it."""
    max_processes: int = 16
    """Processes and threads of the program's uid (RLIMIT_NPROC; root only, where the uid is dedicated)."""
    max_file_bytes: int = 16 << 20
    """Largest file the program may write (RLIMIT_FSIZE); the job's tmpfs is bounded separately."""
    max_output_bytes: int = 1 << 20
    """stdout + stderr the program may print; beyond it the job is killed (`sandbox:output`)."""
    max_open_files: int = 64
    """File descriptors (RLIMIT_NOFILE)."""

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            kind = float if name.endswith("seconds") else int
            if isinstance(value, bool) or not isinstance(value, (int, kind)) or not value > 0:
                raise ValueError(f"Limits.{name} must be a positive {kind.__name__}, got {value!r}")
