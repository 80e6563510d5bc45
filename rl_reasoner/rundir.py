"""The run directory: the record of one job (layout in docs/architecture.md).

Every JSONL file is append-only and flushed after each write, so a job killed at any moment leaves every
finished step readable (at worst the last line is torn; readers skip it). On resume, :meth:`RunDir.rewind`
drops the lines of steps after the checkpoint being resumed, so no step is recorded twice.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import platform
import sys
from pathlib import Path
from typing import Iterable, Iterator

import yaml

JSONL_FILES = ("metrics", "samples", "eval", "eval_samples")


class RunInUse(Exception):
    """Another live process is training into the run directory."""


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"
        self._lock = None

    def create(self) -> "RunDir":
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        return self

    def lock(self) -> None:
        """Hold the directory for this process until :meth:`unlock` or the process ends (the OS drops the lock).

        Two jobs writing into one directory (a ``--resume`` started while the first job still runs) would rewind
        and interleave each other's records and checkpoints; the second is refused with :class:`RunInUse`.

        >>> import tempfile; run = RunDir(Path(tempfile.mkdtemp()) / "r"); run.lock()
        >>> RunDir(run.path).lock()
        Traceback (most recent call last):
        ...
        rl_reasoner.rundir.RunInUse: ... is in use by process ...; wait for that job to end or stop it ...
        >>> run.unlock(); RunDir(run.path).lock()
        """
        self.path.mkdir(parents=True, exist_ok=True)
        handle = open(self.path / ".lock", "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunInUse(f"{self.path} is in use by {holder}; wait for that job to end or stop it "
                           f"(Ctrl-C, or SIGTERM: it saves a checkpoint first), or train elsewhere: "
                           f"--set run.name=OTHER") from None
        handle.truncate(0)
        handle.write(f"process {os.getpid()} on {platform.node()}\n")
        handle.flush()
        self._lock = handle

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the descriptor releases the flock
            self._lock = None

    def file(self, name: str) -> Path:
        return self.path / f"{name}.jsonl"

    def write_config(self, resolved: dict) -> None:
        tmp = self.path / "config.yaml.tmp"
        tmp.write_text(yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))
        os.replace(tmp, self.path / "config.yaml")

    def append(self, name: str, records: Iterable[dict]) -> None:
        """Append records as JSON lines and flush them to the OS (one write call per batch)."""
        lines = "".join(json.dumps(_jsonable(r), ensure_ascii=False) + "\n" for r in records)
        if not lines:
            return
        with open(self.file(name), "a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())

    def read_config(self) -> dict | None:
        """The run's ``config.yaml`` as a mapping, or None when it is missing or unreadable."""
        try:
            config = yaml.safe_load((self.path / "config.yaml").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return None
        return config if isinstance(config, dict) else None

    def records_held(self) -> list[str]:
        """What this directory already records of a run (non-empty JSONL files, checkpoints, final/); [] if none.

        A directory holding only ``config.yaml`` (a job that failed before its first record) holds nothing.
        """
        held = [f"{name}.jsonl" for name in JSONL_FILES if self.file(name).is_file() and self.file(name).stat().st_size]
        if self.checkpoints.is_dir() and any(self.checkpoints.glob("checkpoint-*")):
            held.append("checkpoints/")
        if (self.path / "final").exists():
            held.append("final/")
        return held

    def read(self, name: str) -> list[dict]:
        return list(read_jsonl(self.file(name)))

    def rewind(self, step: int) -> None:
        """Keep only whole records with ``step <= step`` in every JSONL file (atomic rewrite)."""
        for name in JSONL_FILES:
            path = self.file(name)
            if not path.exists():
                continue
            kept = [r for r in read_jsonl(path) if r.get("step", 0) <= step]
            tmp = path.with_suffix(".jsonl.tmp")
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
            os.replace(tmp, path)


class BadLine(ValueError):
    """A line of a JSONL file read with ``strict=True`` that is not JSON; ``number`` counts from 1."""

    def __init__(self, number: int, reason: str):
        super().__init__(f"line {number}: {reason}")
        self.number, self.reason = number, reason


def read_jsonl(path: str | Path, skipped: list | None = None, *, strict: bool = False) -> Iterator:
    """Yield the records of a JSONL file: the one JSONL reader (run records, task data files, benches).

    A job killed mid-write leaves a torn last line, possibly cut inside a multi-byte UTF-8 character; a disk
    fault can leave binary garbage. Such lines are skipped, never fatal: a one-line warning on stderr names the
    file and how many were skipped, and their line numbers are appended to ``skipped`` when it is given. Only
    JSON objects are records; a missing file has none.

    ``strict=True`` reads data a person wrote (a task's data file), where losing a line silently would be wrong:
    a line that is not UTF-8 JSON raises :class:`BadLine` naming it, and every value is yielded as it is, for the
    caller to check. Blank lines are skipped either way.

    >>> import tempfile; f = Path(tempfile.mkdtemp()) / "m.jsonl"
    >>> _ = f.write_bytes(b'{"step": 1}\\n\\xff\\xfe\\n{"step": 2, "text": "\\xc3')   # garbage, then a torn "é"
    >>> lost = []; [r["step"] for r in read_jsonl(f, lost)], lost
    ([1], [2, 3])
    >>> list(read_jsonl(f, strict=True))
    Traceback (most recent call last):
    rl_reasoner.rundir.BadLine: line 2: not UTF-8 text (invalid start byte at byte 0 of the line)
    """
    path = Path(path)
    if not strict and not path.exists():
        return
    lost = [] if skipped is None else skipped
    before = len(lost)
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as error:
                if strict:
                    reason = f"not UTF-8 text ({error.reason} at byte {error.start} of the line)"
                    raise BadLine(number, reason) from None
                lost.append(number)
                continue
            except ValueError as error:
                if strict:
                    raise BadLine(number, getattr(error, "msg", str(error))) from None
                lost.append(number)
                continue
            if strict or isinstance(record, dict):
                yield record
            else:
                lost.append(number)
    if len(lost) > before:
        count = len(lost) - before
        print(f"[rl-reasoner] {path}: skipped {count} unreadable line{'s' if count > 1 else ''} "
              f"(torn or corrupt; line {', '.join(map(str, lost[before:before + 5]))}"
              f"{', ...' if count > 5 else ''})", file=sys.stderr, flush=True)


def _jsonable(value):
    """Make a record JSON-safe: NaN/inf become None, tensors and numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
