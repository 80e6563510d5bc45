"""A sandbox for untrusted Python programs: run one, or run tests against one, and get a verdict the program
cannot forge.

Two kinds of job:

- **stdio**: run the program with `stdin`; the caller compares its stdout (`Sandbox.run(program, stdin=...)`).
- **tests**: run trusted Python test code against the program's functions, HumanEval style
  (`Sandbox.run(program, tests=..., entry_point=...)` calls `check(<entry_point>)` after the tests).

How a job runs
--------------
Each worker slot is a long-lived *server* process (this file run as `python -I -S sandbox.py`, started
with fork+exec from the caller, so it is safe from any thread). At start it enters a network namespace
of its own (no interface is up: no network at all) and a mount namespace with a private root (the system
directories and the Python standard library, read-only; a small tmpfs as `/tmp`), makes itself the
reaper of every orphan below it, pins itself to one CPU, and imports the modules programs commonly use.
It never reads a job's program, input or tests: they arrive as memfds that it hands on unread, so no
test of any job is ever in the memory that programs are forked from.

- The **program process** is forked per job (no exec: it costs about a millisecond, not an interpreter
  start-up), as the slot's own unprivileged uid, in its own session and IPC namespace, chrooted to the
  private root, in a fresh directory `/tmp/job-N` (the only place it can write), with rlimits on CPU
  time, address space, processes (binding, as the uid is not root), file size and open files, a seccomp
  filter (no keyrings), an empty environment and `no_new_privs`. Where the kernel allows, the server
  and so every process of its jobs live in a cgroup of the slot (memory and processes per job, the
  slot's one CPU). It runs the program; in a tests job it then answers requests about its top-level
  functions and classes over a pipe, each return value sent with `marshal`, which refuses anything
  that is not exactly a builtin value; other values stay in the program and the tests get a handle.
- The **tester process** is forked once per slot, as a second uid, not dumpable (the program cannot
  ptrace it, read its memory or signal it), outside the slot's cgroup. For each tests job it runs the
  tests (with the real builtins) with the program's functions replaced by proxies that call the program
  process, re-checks that every value coming back is a plain builtin value, and sends its verdict to the
  server over a socket only it holds, after `check` has returned; it is replaced when the tests left
  state in it (a timer, a signal handler, a builtin...). The tests, and the expected values in them,
  never enter the program's process.

The server watches the job with a wall-clock deadline, reads the program's stdout/stderr up to the
output limit, kills the program, then every process left below itself but the tester (it is their
subreaper: a double fork or `setsid` does not escape), and wipes the scratch directory.

Threat model
------------
The program is arbitrary Python (and through `ctypes`, arbitrary native code) written to get a pass
without solving the task, or to do harm. These score 0 (or `None` where the *tests* are at fault), in
bounded time, and leave the host as it was (`tests/test_sandbox.py` runs each): infinite loops, fork
bombs (RLIMIT_NPROC binds for the slot uid; all processes are killed afterwards), memory bombs, huge
output or files, writing or deleting anything outside its directory (the root is read-only, the host's
files are not even visible), sockets (an empty network namespace), early exits (`sys.exit`,
`os._exit`, `exit()` before or during the tests: no verdict), printing "PASSED" (stdout is not the
channel), overriding `assert`/`AssertionError`/builtins/`check` (the tests run in another process),
tampering with signals (limits are enforced with SIGKILL from outside), killing the parent or other
processes (other uids), escaping the chroot, reading the tests, the environment or datasets on disk,
walking the caller's stack or the heap for expected values (they are in another process), objects
whose `__eq__` or `__bool__` is always true (they stay in the program; the tests' handle equals only
itself), builtins redefined by the program (the tests see the real ones), `StopIteration` raised into
a loop of the tests (a `RuntimeError` there), state shared between jobs (IPC namespace per job, no
keyrings, a tester replaced when tests leave state in it), starving a neighbour (the slot's cpuset), background processes
(killed), directory trees deep enough to crash a recursive removal, tests that never call the program
(`no-tests`) or cannot run (`bad-tests`), both scored `None`.

Out of scope / known limits: tests that trust helpers the program itself defines (a HumanEval test
that checks `decode(encode(x)) == x` with the program's `encode` can be fooled by the program, as in
HumanEval itself); timing side channels; kernel exploits; without a cgroup, memory and processes are
limited per process only; values crossing to the program must be marshallable or handles of its own
objects (tests passing functions get `unsupported`, scored `None`); mutation of an argument in place
is not seen by the tests. Programs get the standard library only (every package directory is hidden),
no `/proc` and no `/dev/shm`.

Other identities (reported by `Sandbox.isolation`): where uids cannot be switched (not root, or root of
a user namespace as in rootless containers), the server enters a user namespace if needed, so that it
still has the network namespace and the private root, and its children keep the caller's uid with every
capability dropped: they cannot leave the chroot or remount, but RLIMIT_NPROC cannot be set (it would
count the caller's own processes) and a program could kill the tester or the server (its job then
fails). Fallbacks: without a network namespace, a seccomp filter refuses every socket but AF_UNIX (and
io_uring); without a mount namespace, the program sees the host's files (as the slot uid it can write
only to world-writable directories, swept of its files after each job).
"""

from __future__ import annotations

import builtins
import ctypes
import errno
import gc
import fcntl
import json
import marshal
import math
import os
import platform
import resource
import select
import signal
import socket
import stat
import struct
import sys
import time
import traceback
from _thread import allocate_lock
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

# Not imported here: `threading` (and `subprocess`, `queue`, `tempfile`, which import it or `random`). The
# server runs this file and forks for every job; `threading`'s at-fork hook alone costs each child ~0.3 ms.
# The caller's side imports them where it uses them.

__all__ = ["Job", "Limits", "Result", "Sandbox", "SandboxError", "STATUSES", "default_sandbox"]

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

UID_BASE = 61000
"""Slot k uses uid/gid `UID_BASE + 2k` for programs and `UID_BASE + 2k + 1` for tests (root only)."""

PRELOADED_MODULES = (
    "typing", "math", "cmath", "re", "collections", "itertools", "functools", "heapq", "bisect", "string",
    "hashlib", "copy", "fractions", "decimal", "datetime", "operator", "array", "dataclasses", "json",
    "traceback", "shutil", "_sitebuiltins",
)  # fmt: skip
"""Imported once by each server so programs and tests do not pay for it (`typing` alone is ~9 ms). Not
`random` (nor `statistics`, `tempfile`, which import it): its at-fork reseeding costs each job ~0.1 ms."""

_PROGRAM_NAME = "main.py"
_MAX_FRAME = 64 << 20
_FRAME = struct.Struct("<I")


class SandboxError(RuntimeError):
    """The sandbox could not start or is not supported on this system."""


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


@dataclass(frozen=True)
class Job:
    """One program to run: with `tests` it is a tests job, otherwise a stdio job fed `stdin`."""

    program: str
    """Python source of the program."""
    stdin: str = ""
    """Input of a stdio job."""
    tests: str | None = None
    """Trusted Python test code run against the program's top-level functions."""
    entry_point: str | None = None
    """With `tests`: the function passed to the tests' `check`, as HumanEval does."""
    limits: Limits | None = None
    """Overrides the sandbox's default limits."""

    def __post_init__(self) -> None:
        if not isinstance(self.program, str):
            raise TypeError(f"Job.program must be a string, got {type(self.program).__name__}")
        if not isinstance(self.stdin, str):
            raise TypeError(f"Job.stdin must be a string, got {type(self.stdin).__name__}")
        if self.tests is not None and not isinstance(self.tests, str):
            raise TypeError(f"Job.tests must be a string of Python test code, got {type(self.tests).__name__}")
        if self.entry_point is not None and not (isinstance(self.entry_point, str) and self.entry_point.isidentifier()):
            raise ValueError(f"Job.entry_point must be a Python identifier, got {self.entry_point!r}")
        if self.entry_point is not None and self.tests is None:
            raise ValueError("Job.entry_point needs tests that define check()")


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


# --------------------------------------------------------------------------------------------------------
# The caller's side: a pool of servers, one per slot.
# --------------------------------------------------------------------------------------------------------


class Sandbox:
    """A pool of `workers` sandbox servers running jobs concurrently.

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
        import queue

        cpus = sorted(os.sched_getaffinity(0))
        self._slots = [_Slot({**self._options, "cpu": cpus[index % len(cpus)]}) for index in range(workers)]
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
        """Run one job (see `Job`) and wait for its result."""
        return self.run_job(Job(program, stdin, tests, entry_point, limits))

    def run_job(self, job: Job) -> Result:
        """Run one `Job` on the next free slot."""
        if self._closed:
            raise SandboxError("the sandbox is closed")
        if os.getpid() != self._pid:
            raise SandboxError("this sandbox belongs to the parent process; create one here (default_sandbox())")
        slot = self._idle.get()
        try:
            return slot.run(job, job.limits or self.limits)
        finally:
            self._idle.put(slot)

    def run_many(self, jobs: Sequence[Job]) -> list[Result]:
        """Run `jobs` on all slots at once; results in the order of `jobs`."""
        jobs = list(jobs)
        if len(jobs) <= 1 or self.workers == 1:
            return [self.run_job(job) for job in jobs]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(self.workers, len(jobs)), thread_name_prefix="sandbox") as pool:
            return list(pool.map(self.run_job, jobs))

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
            import atexit

            atexit.register(_DEFAULT.close)
        return _DEFAULT


def _state_dir() -> str:
    """A directory only this user can write, for the slots' uid locks and mount points."""
    import tempfile

    path = os.path.join(tempfile.gettempdir(), f"rl-reasoner-sandbox-{os.geteuid()}")
    os.makedirs(path, mode=0o711, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise SandboxError(f"{path} must be a directory owned by uid {os.geteuid()} and writable only by it")
    os.chmod(path, 0o711)
    return path


class _Slot:
    """One server process and the socket to it; used by one thread at a time."""

    def __init__(self, options: dict):
        self.options = options
        self.process = None  # subprocess.Popen of the server
        self.socket: socket.socket | None = None
        self.isolation: dict[str, str] = {}
        self.workdir = ""

    def ensure_started(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self.stop()
        state = _state_dir()
        lock_fd, uid = _claim_uids(state)
        self.workdir = os.path.join(state, f"slot-{uid}")
        os.makedirs(self.workdir, mode=0o711, exist_ok=True)
        os.chmod(self.workdir, 0o711)
        import subprocess

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        config = {**self.options, "socket_fd": theirs.fileno(), "uid": uid, "workdir": self.workdir}
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-B", os.path.abspath(__file__), "--serve", json.dumps(config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,  # what goes wrong in a job is in its Result
                pass_fds=(theirs.fileno(), lock_fd),
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                start_new_session=True,
            )
        finally:
            theirs.close()
            os.close(lock_fd)  # the server holds the lock now
        self.socket = ours
        ours.settimeout(60)
        try:
            hello = _recv_json(ours)
        except (OSError, ValueError) as error:
            hello = {"error": repr(error)}
        if hello is None or "error" in hello:
            self.stop(kill=True)
            raise SandboxError(f"the sandbox server failed to start: {hello and hello['error']}")
        self.isolation = hello["isolation"]

    def run(self, job: Job, limits: Limits) -> Result:
        self.ensure_started()
        assert self.socket is not None
        header = {"limits": asdict(limits), "entry_point": job.entry_point, "tests": job.tests is not None}
        data = job.tests if job.tests is not None else job.stdin
        fds = [_memfd("program", job.program), _memfd("data", data)]
        try:
            self.socket.settimeout(limits.wall_seconds + 30)
            payload = json.dumps(header).encode()
            socket.send_fds(self.socket, [_FRAME.pack(len(payload)) + payload], fds)
            reply = _recv_json(self.socket)
        except (OSError, ValueError):
            reply = None
        finally:
            for fd in fds:
                os.close(fd)
        if reply is None:  # the server died or hung: the job fails, the next one gets a new server
            self.stop(kill=True)
            return Result("sandbox:crashed", False if job.tests is not None else None, detail="the server died")
        return Result(**reply)

    def stop(self, kill: bool = False) -> None:
        """Close the socket: the server cleans up and exits (killed after 10 s, or at once with `kill`).
        Its jobs' processes die with it (parent-death signal)."""
        if self.socket is not None:
            self.socket.close()
            self.socket = None
        if self.process is not None:
            import subprocess

            try:
                self.process.wait(timeout=0 if kill else 10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            self.process = None


def _claim_uids(state: str) -> tuple[int, int]:
    """A lock on the first free slot uid pair (shared by every process on this host), and the uid."""
    if os.geteuid() != 0:
        fd = os.open(os.path.join(state, "shared.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        return fd, os.geteuid()
    for slot in range(2000):
        uid = UID_BASE + 2 * slot
        fd = os.open(os.path.join(state, f"uid-{uid}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return fd, uid
    raise SandboxError("all sandbox uids are in use")


def _memfd(name: str, text: str) -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    data = text.encode("utf-8", "surrogatepass")
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    return fd


def _recv_json(sock: socket.socket) -> dict | None:
    head = _recv_exact(sock, _FRAME.size)
    if head is None:
        return None
    body = _recv_exact(sock, _FRAME.unpack(head)[0])
    return None if body is None else json.loads(body)


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _send_json(sock: socket.socket, message: dict) -> None:
    payload = json.dumps(message).encode()
    sock.sendall(_FRAME.pack(len(payload)) + payload)


# --------------------------------------------------------------------------------------------------------
# Kernel interfaces (ctypes; the server and its children only).
# --------------------------------------------------------------------------------------------------------

_CLONE_NEWNS, _CLONE_NEWUSER, _CLONE_NEWNET, _CLONE_NEWIPC = 0x00020000, 0x10000000, 0x40000000, 0x08000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_SET_SECCOMP = 1, 4, 22
_PR_SET_CHILD_SUBREAPER, _PR_SET_NO_NEW_PRIVS = 36, 38
_M_ARENA_MAX = -8

_libc = ctypes.CDLL(None, use_errno=True)


def _checked(result: int) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number))


def _unshare(flags: int) -> None:
    _checked(_libc.unshare(ctypes.c_int(flags)))


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encode = lambda text: None if text is None else text.encode()  # noqa: E731
    _checked(_libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)))


def _prctl(option: int, value: int | ctypes.c_void_p) -> None:
    zero = ctypes.c_ulong(0)
    argument = value if isinstance(value, ctypes.c_void_p) else ctypes.c_ulong(value)
    _checked(_libc.prctl(ctypes.c_int(option), argument, zero, zero, zero))


_SYS_CAPSET = {"x86_64": 126, "aarch64": 91}


def _drop_capabilities() -> None:
    """Clear the effective, permitted and inheritable capability sets (`no_new_privs` keeps them empty)."""
    header = ctypes.create_string_buffer(struct.pack("Ii", 0x20080522, 0))  # _LINUX_CAPABILITY_VERSION_3
    data = ctypes.create_string_buffer(24)  # two {effective, permitted, inheritable} u32 triples, all zero
    _checked(_libc.syscall(ctypes.c_long(_SYS_CAPSET[platform.machine()]), header, data))


# Seccomp: audit arch and the syscalls filtered, per machine.
_SECCOMP_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_SYSCALLS = {
    "x86_64": {"socket": 41, "io_uring_setup": 425, "add_key": 248, "request_key": 249, "keyctl": 250,
               "sched_setaffinity": 203},
    "aarch64": {"socket": 198, "io_uring_setup": 425, "add_key": 217, "request_key": 218, "keyctl": 219,
                "sched_setaffinity": 122},
}  # fmt: skip


def _seccomp_program(refused: Sequence[str], unix_sockets_only: bool) -> bytes:
    """A seccomp filter: the `refused` syscalls fail with EACCES, as do syscalls of another ABI (x32,
    i386 via int 0x80); with `unix_sockets_only`, socket() fails unless AF_UNIX (and io_uring is refused)."""
    machine = platform.machine()
    numbers = [_SYSCALLS[machine][name] for name in refused]
    if unix_sockets_only:
        numbers.append(_SYSCALLS[machine]["io_uring_setup"])
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | errno.EACCES
    # (code, jump-if-true target, jump-if-false target, k); targets: "next", "allow", "deny" or an index
    program: list[tuple[int, str, str, int]] = [(ld_abs, "next", "next", 4), (jeq, "next", "deny", _SECCOMP_ARCH[machine])]
    program += [(ld_abs, "next", "next", 0), (jge, "deny", "next", 0x40000000)]
    program += [(jeq, "deny", "next", number) for number in numbers]
    if unix_sockets_only:
        program += [(jeq, "next", "allow", _SYSCALLS[machine]["socket"]), (ld_abs, "next", "next", 16)]
        program += [(jeq, "allow", "deny", socket.AF_UNIX)]
    program += [(ret, "next", "next", allow), (ret, "next", "next", deny)]
    where = {"allow": len(program) - 2, "deny": len(program) - 1}
    encoded = []
    for index, (code, if_true, if_false, k) in enumerate(program):
        jump = lambda target: 0 if target == "next" else where[target] - index - 1  # noqa: E731
        encoded.append(struct.pack("HBBI", code, jump(if_true), jump(if_false), k))
    return b"".join(encoded)


class _PreparedCall:
    """A libc call whose ctypes arguments are built once, in the server: a forked child then only makes the
    system call. (Building ctypes objects, or opening a file in text mode, in each child costs ~0.1-0.4 ms of
    CPU per job: every page of the server's memory they touch is copied on write.)"""

    def __init__(self, function, *args, keep: object = None):
        self.function, self.args, self.keep = function, args, keep  # `keep`: buffers `args` point into

    def __call__(self) -> None:
        _checked(self.function(*self.args))


def _prctl_call(option: int, value: int = 0) -> _PreparedCall:
    zero = ctypes.c_ulong(0)
    return _PreparedCall(_libc.prctl, ctypes.c_int(option), ctypes.c_ulong(value), zero, zero, zero)


def _seccomp_call(filters: bytes) -> _PreparedCall:
    """The call that installs a seccomp filter made by `_seccomp_program`. Needs `no_new_privs` (or root)."""
    buffer = ctypes.create_string_buffer(filters)
    fprog = ctypes.create_string_buffer(struct.pack("HxxxxxxQ", len(filters) // 8, ctypes.addressof(buffer)))
    mode_filter, zero = 2, ctypes.c_ulong(0)
    pointer = ctypes.c_void_p(ctypes.addressof(fprog))
    return _PreparedCall(
        _libc.prctl, ctypes.c_int(_PR_SET_SECCOMP), ctypes.c_ulong(mode_filter), pointer, zero, zero, keep=(buffer, fprog)
    )


_UNSHARE_IPC = _PreparedCall(_libc.unshare, ctypes.c_int(_CLONE_NEWIPC))
_DEATH_SIGNAL = _prctl_call(_PR_SET_PDEATHSIG, signal.SIGKILL)
_NOT_DUMPABLE = _prctl_call(_PR_SET_DUMPABLE, 0)


def _write_proc(path: str, text: bytes) -> None:
    """Write a small /proc or /sys file with plain fds (no file object: see `_PreparedCall`)."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text)
    finally:
        os.close(fd)


# Cgroups: one per slot, holding the server and so every process of its jobs (children inherit it).
_CGROUP_V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuset")


class _Cgroup:
    """The slot's cgroup (v1: one directory per controller; v2: one directory) and the cgroup(s) the
    server came from, where the tester goes back to. Limits are written only when they change."""

    def __init__(self, name: str, cpu: int | None):
        self.version, self.dirs, self.homes, self.written = 0, {}, {}, {}
        own = {}
        with open("/proc/self/cgroup") as file:
            for line in file:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                for controller in controllers.split(",") if controllers else [""]:
                    own[controller] = path
        if all(os.path.isdir(f"/sys/fs/cgroup/{c}") and c in own for c in _CGROUP_V1_CONTROLLERS):
            for controller in _CGROUP_V1_CONTROLLERS:
                home = f"/sys/fs/cgroup/{controller}{own[controller].rstrip('/')}"
                self.homes[controller] = home
                self.dirs[controller] = self._make(f"{home}/{name}")
            self.version = 1
            with open(f"{self.homes['cpuset']}/cpuset.effective_mems") as file:
                self.set("cpuset", "cpuset.mems", file.read().strip() or "0")
            if cpu is None:
                with open(f"{self.homes['cpuset']}/cpuset.effective_cpus") as file:
                    self.set("cpuset", "cpuset.cpus", file.read().strip())
            self.set("memory", "memory.swappiness", "0")
        elif os.path.exists("/sys/fs/cgroup/cgroup.controllers") and "" in own:
            home = f"/sys/fs/cgroup{own[''].rstrip('/')}"
            with open(f"{home}/cgroup.subtree_control", "w") as file:
                file.write("+memory +pids +cpu +cpuset")
            self.homes[""] = home
            self.dirs[""] = self._make(f"{home}/{name}")
            self.version = 2
        else:
            raise OSError(errno.ENOENT, "no cgroup hierarchy with memory, pids, cpu and cpuset")
        if cpu is not None:
            self.set("cpuset", "cpuset.cpus", str(cpu))
        self.enter("dirs")

    @staticmethod
    def _make(path: str) -> str:
        try:
            os.mkdir(path, 0o755)
        except FileExistsError:
            pass
        return path

    def set(self, controller: str, name: str, value: str) -> None:
        key = (controller, name)
        if self.written.get(key) != value:
            with open(f"{self.dirs[controller if self.version == 1 else '']}/{name}", "w") as file:
                file.write(value)
            self.written[key] = value

    def read(self, controller: str, name: str) -> str:
        with open(f"{self.dirs[controller if self.version == 1 else '']}/{name}") as file:
            return file.read()

    def enter(self, which: str) -> None:
        """Move this process into the slot's cgroup (`dirs`) or back where the server came from (`homes`)."""
        for path in getattr(self, which).values():
            with open(f"{path}/cgroup.procs", "w") as file:
                file.write("0")

    def limit(self, memory_bytes: int, processes: int) -> None:
        """Per-job limits of everything in the slot's cgroup (the server's own use is added)."""
        if self.version == 1:
            self.set("memory", "memory.limit_in_bytes", str(memory_bytes))
            self.set("pids", "pids.max", str(processes))
        else:
            self.set("", "memory.max", str(memory_bytes))
            self.set("", "memory.swap.max", "0")
            self.set("", "pids.max", str(processes))

    def usage(self) -> int:
        return int(self.read("memory", "memory.usage_in_bytes" if self.version == 1 else "memory.current"))

    def oom_kills(self) -> int:
        text = self.read("memory", "memory.oom_control" if self.version == 1 else "memory.events")
        return next((int(line.split()[1]) for line in text.splitlines() if line.startswith("oom_kill ")), 0)

    def remove(self) -> None:
        for path in self.dirs.values():
            try:
                os.rmdir(path)
            except OSError:
                pass


# --------------------------------------------------------------------------------------------------------
# The server: `python -I -S sandbox.py --serve CONFIG`.
# --------------------------------------------------------------------------------------------------------

_CGROUP_SLACK_BYTES = 16 << 20
"""Added to a job's memory limit in the slot's cgroup: the server's growth, page tables, kernel memory."""

TESTER_MEMORY_BYTES = 1 << 30
"""Address space of the tester process (it holds the values the program returns)."""
TESTER_JOBS = 500
"""The tester process is replaced after this many jobs (and whenever a job times out in it)."""


@dataclass
class _Server:
    """State of one sandbox server (a slot)."""

    uid: int
    """Program uid (the tester uses uid + 1); the server's own uid when not root."""
    workdir: str
    """A host directory of this slot: mount point of the private root, or parent of job directories."""
    own_uids: bool = False
    """Whether program and tester get uids of their own (and RLIMIT_NPROC binds): real root only."""
    drop_caps: bool = False
    """Whether children drop all capabilities (they keep uid 0 of a user namespace: the caller's uid)."""
    network: str = "none"
    """'namespace', 'seccomp' or 'none'."""
    root: str | None = None
    """The private root the children chroot to, or None (host filesystem)."""
    cgroup: _Cgroup | None = None
    """The slot's cgroup (per-job memory, processes and CPU share), or None: limits per process only."""
    seccomp: _PreparedCall | None = None
    """Installs the seccomp filter every program gets (keyrings; sockets and CPU affinity in the fallbacks)."""
    ipc_namespace: bool = False
    """Whether each program gets an IPC namespace of its own (SysV and POSIX IPC die with the job)."""
    cpu: int | None = None
    server_bytes: int = 0
    oom_kills: int = 0
    oom_protected: bool = False
    """Memory the server itself holds in the slot's cgroup (added to each job's memory limit)."""
    devnull: int = -1
    jobs: int = 0
    tester_pid: int | None = None
    tester_socket: socket.socket | None = None
    tester_jobs: int = 0
    isolation: dict = field(default_factory=dict)

    @property
    def tester_uid(self) -> int:
        return self.uid + 1 if self.own_uids else self.uid

    def job_dir(self) -> tuple[str, str]:
        """A fresh job directory, as (path seen by the server, path seen by the program)."""
        self.jobs += 1
        name = f"job-{self.jobs}"
        inside = f"/tmp/{name}" if self.root else os.path.join(self.workdir, name)
        outside = os.path.join(self.root, "tmp", name) if self.root else inside
        os.mkdir(outside, 0o700)
        if self.own_uids:
            os.chown(outside, self.uid, self.uid)
        return outside, inside

    def tester(self) -> socket.socket:
        """The socket to the tester process, started (forked from this clean server) if needed."""
        if self.tester_socket is None or self.tester_jobs >= TESTER_JOBS:
            self.stop_tester()
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            rlimits = _rlimits(None, self.own_uids)
            fds = [self.devnull, self.devnull, self.devnull, theirs.fileno()]
            self.tester_pid = _spawn(self, fds, self.tester_uid, "/", rlimits, lambda: _tester_main(3), dumpable=False)
            theirs.close()
            self.tester_socket, self.tester_jobs = ours, 0
        self.tester_jobs += 1
        return self.tester_socket

    def stop_tester(self) -> None:
        if self.tester_socket is not None:
            self.tester_socket.close()
            self.tester_socket = None
        if self.tester_pid is not None:
            os.kill(self.tester_pid, signal.SIGKILL)
            os.waitpid(self.tester_pid, 0)
            self.tester_pid = None


def _serve(config: dict) -> None:
    sock = socket.socket(fileno=config["socket_fd"])
    try:
        server = _start_server(config)
    except Exception as error:  # reported to the caller, which raises SandboxError
        _send_json(sock, {"error": f"{type(error).__name__}: {error}"})
        return
    _send_json(sock, {"isolation": server.isolation})
    try:
        while (request := _receive_job(sock)) is not None:
            header, fds = request
            try:
                result = _run_job(server, header, fds)
            except Exception as error:  # noqa: BLE001 - a bug or an exhausted resource: fail the job, restart
                detail = f"the server failed: {_describe_exception(error)}"
                result = {"status": "sandbox:crashed", "passed": False if header.get("tests") else None, "detail": detail}
            finally:
                for fd in fds:
                    os.close(fd)
            _send_json(sock, result)
            if result["status"] == "sandbox:crashed":
                break
    finally:  # the caller is gone (or closed the sandbox)
        server.stop_tester()
        _kill_descendants(server)


def _receive_job(sock: socket.socket) -> tuple[dict, list[int]] | None:
    """The next job's header and fds (program, stdin or tests), or None when the caller hung up."""
    try:
        message, fds, _, _ = socket.recv_fds(sock, 1 << 16, 4)
    except OSError:
        return None
    if not message:
        return None
    size = _FRAME.unpack_from(message)[0]
    body = message[_FRAME.size :]
    while len(body) < size:
        more = sock.recv(size - len(body))
        if not more:
            return None
        body += more
    return json.loads(body), fds


def _start_server(config: dict) -> _Server:
    if not hasattr(os, "pidfd_open"):
        raise SandboxError("the sandbox needs os.pidfd_open (Linux 5.3+)")
    server = _Server(uid=config["uid"], workdir=config["workdir"], cpu=config.get("cpu"))
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    _prctl(_PR_SET_NO_NEW_PRIVS, 1)  # inherited by every child: no setuid binary can give root back
    if config.get("cpu") is not None:  # program and tester on one CPU: a call costs ~3 us, not ~200 us
        os.sched_setaffinity(0, {config["cpu"]})
    _libc.mallopt(ctypes.c_int(_M_ARENA_MAX), ctypes.c_int(2))  # threads must not eat RLIMIT_AS in arenas
    server.devnull = os.open(os.devnull, os.O_RDWR)
    if os.geteuid() != 0:
        try:
            _enter_user_namespace()  # root in it (for namespaces and mounts), the caller's uid outside
        except OSError:
            pass
    server.own_uids = os.geteuid() == 0 and _can_switch_to(server.uid)
    server.drop_caps = os.geteuid() == 0 and not server.own_uids
    if config["network_namespace"]:
        try:
            _unshare(_CLONE_NEWNET)
            server.network = "namespace"
        except OSError:
            pass
    if server.network == "none" and platform.machine() in _SECCOMP_ARCH:
        server.network = "seccomp"
    if os.geteuid() == 0 and config["private_root"]:
        try:
            server.root = _private_root(config["workdir"], config["scratch_bytes"])
        except OSError:
            server.root = None
    for module in PRELOADED_MODULES:
        __import__(module)
    # What `site` would do, and the environment and argv programs see (inherited, so done once here).
    import _sitebuiltins

    builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")
    builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")
    sys.argv = [_PROGRAM_NAME]
    os.environ.clear()
    os.environ.update({"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp", "TMPDIR": "/tmp"})
    server.ipc_namespace = server.root is not None and _can_unshare(_CLONE_NEWIPC)
    if server.own_uids and config.get("cgroup", True):
        try:
            server.cgroup = _Cgroup(f"rl-reasoner-sandbox-{server.uid}", config.get("cpu"))
        except OSError:
            server.cgroup = None
    if server.cgroup is not None:
        try:  # at the memory limit the kernel kills a job's process, never its server (needs CAP_SYS_RESOURCE)
            _write_proc("/proc/self/oom_score_adj", b"-1000")
            server.oom_protected = True
        except OSError:
            pass
    refused = ["add_key", "request_key", "keyctl"] + ["sched_setaffinity"] * (server.cgroup is None)
    if platform.machine() in _SYSCALLS:
        server.seccomp = _seccomp_call(_seccomp_program(refused, unix_sockets_only=server.network == "seccomp"))
    _kill_descendants(server)
    gc.collect()
    gc.freeze()  # children never scan (and so never copy) the server's objects in their collections
    if server.cgroup is not None:
        server.server_bytes = server.cgroup.usage()
        server.oom_kills = server.cgroup.oom_kills()
    if server.own_uids:
        user = f"uids {server.uid}/{server.tester_uid}"
    else:
        user = "the caller's uid" + (", all capabilities dropped" if server.drop_caps else " (not root)")
    server.isolation = {
        "user": user,
        "network": server.network,
        "filesystem": "private read-only root" if server.root else "host" + " (swept after each job)" * server.own_uids,
        "limits": (
            f"cgroup v{server.cgroup.version} per job (memory, processes, one CPU)"
            if server.cgroup
            else "per process (rlimits), CPU affinity locked"
        ),
        "ipc": "namespace per job" if server.ipc_namespace else "host",
    }
    return server


def _enter_user_namespace() -> None:
    """Become root of a new user namespace, mapped to the caller's uid and gid outside."""
    uid, gid = os.getuid(), os.getgid()
    _unshare(_CLONE_NEWUSER)
    for path, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{path}", "w") as file:
            file.write(text)


def _can_unshare(flags: int) -> bool:
    """Whether a child can enter new namespaces of `flags`."""
    pid = os.fork()
    if pid == 0:
        try:
            _unshare(flags)
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    return os.waitpid(pid, 0)[1] == 0


def _can_switch_to(uid: int) -> bool:
    """Whether a child can become `uid` (not in a user namespace that maps only one uid)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    return os.waitpid(pid, 0)[1] == 0


def _private_root(mount_point: str, scratch_bytes: int) -> str:
    """Enter a mount namespace and build, at `mount_point`, a read-only root with the system directories
    and the standard library, `/dev/{null,zero,random,urandom,full}`, and a tmpfs `/tmp`."""
    _unshare(_CLONE_NEWNS)
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    _mount("tmpfs", mount_point, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=4m,mode=0755")
    sources = ["/usr", "/bin", "/lib", "/lib32", "/lib64", "/sbin"]
    sources += [path for path in sys.path if path and os.path.isdir(path)]
    sources += [f"/etc/{name}" for name in ("ld.so.cache", "localtime", "passwd", "group", "nsswitch.conf")]
    sources += [f"/dev/{name}" for name in ("null", "zero", "random", "urandom", "full")]
    bound: list[str] = []
    for source in sources:
        if not os.path.exists(source) or any(source == b or source.startswith(b + "/") for b in bound):
            continue
        target = mount_point + source
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        if os.path.islink(source):  # merged /usr: /bin -> usr/bin
            os.symlink(os.readlink(source), target)
            continue
        if os.path.isdir(source):
            os.makedirs(target, mode=0o755, exist_ok=True)
        else:
            open(target, "w").close()
        _mount(source, target, None, _MS_BIND)
        _mount(None, target, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID)
        bound.append(source)
    for path in _package_directories():  # the standard library only: every package directory is hidden
        if os.path.isdir(mount_point + path):
            _mount("tmpfs", mount_point + path, "tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV, "size=4k,mode=0555")
    os.mkdir(mount_point + "/tmp", 0o755)
    os.symlink("/tmp/.stdin", mount_point + "/dev/stdin")
    options = f"size={scratch_bytes},nr_inodes=8192,mode=0755"
    _mount("tmpfs", mount_point + "/tmp", "tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, options)
    _mount(None, mount_point, None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV, "size=4m,mode=0755")
    return mount_point


PACKAGE_DIRECTORIES = (
    "/usr/lib/python*/dist-packages", "/usr/lib/python*/site-packages", "/usr/local/lib/python*/dist-packages",
    "/usr/local/lib/python*/site-packages", "/usr/share/pyshared", "/usr/share/python*",
)  # fmt: skip
"""Where system Python packages live: hidden (an empty read-only tmpfs on top) in the private root, as are
the `site-packages`/`dist-packages` of the interpreter's own prefix."""


def _package_directories() -> list[str]:
    import glob

    found = [path for pattern in PACKAGE_DIRECTORIES for path in glob.glob(pattern)]
    for prefix in {sys.base_prefix, sys.prefix, sys.exec_prefix}:
        found += glob.glob(os.path.join(prefix, "lib", "python*", "*-packages"))
    found += [os.path.join(path, name) for path in sys.path if path for name in ("site-packages", "dist-packages")]
    return sorted({os.path.realpath(path) for path in found if os.path.isdir(path)})


def _run_job(server: _Server, header: dict, fds: list[int]) -> dict:
    """Run one job; the reply is a `Result` as a dict."""
    start = time.monotonic()
    limits = Limits(**header["limits"])
    tests = bool(header["tests"])
    program_fd, data_fd = fds
    outside, inside = server.job_dir()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    calls_r, calls_w = os.pipe() if tests else (server.devnull, server.devnull)
    answers_r, answers_w = os.pipe() if tests else (server.devnull, server.devnull)
    os.lseek(data_fd, 0, os.SEEK_SET)
    program_fds = [server.devnull if tests else data_fd, out_w, err_w, program_fd, calls_r, answers_w]
    rlimits = _rlimits(limits, server.own_uids)
    if server.cgroup is not None:  # the server's own memory and process are in the job's cgroup too
        server.cgroup.limit(limits.memory_bytes + server.server_bytes + _CGROUP_SLACK_BYTES, limits.max_processes + 1)
    if server.root is not None:  # /dev/stdin (a link to /tmp/.stdin: there is no /proc) reads the input
        _write_stdin_file(server, None if tests else data_fd)
    if tests:
        server.tester()  # started before the program, which could fill the slot's process limit
    program = _spawn(server, program_fds, server.uid, inside, rlimits, lambda: _program_main(tests))
    pidfd = os.pidfd_open(program)
    if tests:
        job = json.dumps({"job": server.jobs, "entry_point": header["entry_point"]}).encode()
        tester = _send_to_tester(server, job, [data_fd, program_fd, calls_w, answers_r])
    for fd in {out_w, err_w, calls_r, calls_w, answers_r, answers_w} - {server.devnull}:
        os.close(fd)
    watch = _Watch(limits, start, out_r, err_r, tester.fileno() if tests else pidfd, end_is_pidfd=not tests)
    watch.run()
    verdict = None
    if tests:
        stopped = watch.timed_out or watch.overflow
        if stopped:  # the tester then gets no more answers and reports at once, unless it is stuck itself
            os.kill(program, signal.SIGKILL)
        verdict = _receive_verdict(server, server.jobs, 0.2 if stopped else 1.0)
    exited = _wait_readable(pidfd, 0.1 if verdict and verdict[0] == "exited" and not watch.timed_out else 0.0)
    for fd in (out_r, err_r):
        watch.drain(fd)
    os.close(pidfd)
    os.kill(program, signal.SIGKILL)  # still our unreaped child: the pid cannot have been reused
    program_status, program_usage = os.wait4(program, 0)[1:]
    _kill_descendants(server)
    for fd in (out_r, err_r):
        os.close(fd)
    _clean_up_files(server, outside)
    status, detail = _outcome(watch, verdict, exited, program_status, program_usage, limits)
    if server.cgroup is not None and status != "passed":
        kills = server.cgroup.oom_kills()
        if kills > server.oom_kills:
            server.oom_kills = kills
            status, detail = "sandbox:memory", f"over {limits.memory_bytes} bytes for the job (its processes together)"
    return {
        "status": status,
        "passed": (status == "passed") if tests and status not in NOT_SCORABLE else None,
        "stdout": bytes(watch.stdout).decode("utf-8", "replace"),
        "stderr": bytes(watch.stderr[-4096:]).decode("utf-8", "replace"),
        "exit_code": os.waitstatus_to_exitcode(program_status) if exited else None,
        "detail": detail,
        "seconds": round(time.monotonic() - start, 6),
    }


def _write_stdin_file(server: _Server, data_fd: int | None) -> None:
    """`/tmp/.stdin` of the private root: a copy of the input (made by the kernel, the server does not read
    it), empty in a tests job."""
    path = os.path.join(server.root or "", "tmp", ".stdin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o444)
    try:
        if data_fd is not None:
            size = os.fstat(data_fd).st_size
            offset = 0
            while offset < size and (copied := os.sendfile(fd, data_fd, offset, size - offset)):
                offset += copied
    finally:
        os.close(fd)


def _send_to_tester(server: _Server, job: bytes, fds: list[int]) -> socket.socket:
    """Hand a job to the tester (restarting it once if it died since the last job)."""
    for attempt in range(2):
        tester = server.tester()
        try:
            socket.send_fds(tester, [job], fds)
            return tester
        except OSError:
            server.stop_tester()
            if attempt:
                raise
    raise AssertionError("unreachable")


def _receive_verdict(server: _Server, job: int, seconds: float) -> tuple[str, str]:
    """The tester's verdict on `job`; a tester that does not answer in `seconds` is replaced."""
    assert server.tester_socket is not None
    deadline = time.monotonic() + seconds
    while _wait_readable(server.tester_socket.fileno(), max(0.0, deadline - time.monotonic())):
        message = server.tester_socket.recv(1 << 16)
        if not message:  # the tester died during the tests (os._exit, a signal): the program cannot kill it
            server.stop_tester()
            if server.own_uids:
                return "bad-tests", "the tests ended the tester process before their verdict"
            return "error", "the tester process died"
        try:
            number, kind, detail, clean = marshal.loads(message)
        except (ValueError, EOFError, TypeError):
            break
        if number == job:
            if not clean:  # the tests left state behind (a timer, a handler, a builtin...): a new tester
                server.stop_tester()
            return kind, detail
    server.stop_tester()
    return "error", "the tests did not finish"


class _Watch:
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


def _wait_readable(fd: int, seconds: float) -> bool:
    return bool(select.select([fd], [], [], seconds)[0])


def _outcome(
    watch: _Watch, verdict: tuple[str, str] | None, exited: bool, status: int, usage, limits: Limits
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


def _rlimits(limits: Limits | None, own_uids: bool) -> dict[int, int]:
    """The rlimits of a program (`limits`) or of the tester (None)."""
    if limits is None:
        rlimits = {resource.RLIMIT_AS: TESTER_MEMORY_BYTES, resource.RLIMIT_FSIZE: 0, resource.RLIMIT_NOFILE: 64}
    else:
        rlimits = {
            resource.RLIMIT_CPU: math.ceil(limits.cpu_seconds),
            resource.RLIMIT_AS: limits.memory_bytes,
            resource.RLIMIT_FSIZE: limits.max_file_bytes,
            resource.RLIMIT_NOFILE: limits.max_open_files,
        }
    rlimits[resource.RLIMIT_CORE] = 0
    if own_uids:  # with the caller's uid it would count the caller's own processes and threads too
        rlimits[resource.RLIMIT_NPROC] = 1 if limits is None else limits.max_processes
    return rlimits


def _spawn(server: _Server, fds: list[int], uid: int, cwd: str, rlimits: dict[int, int], main, dumpable=True) -> int:
    """Fork a confined child whose fds 0..n-1 are `fds`; it runs `main()` and exits with its status."""
    pid = os.fork()
    if pid:
        return pid
    code = 70
    try:
        os.setsid()
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 512) for fd in fds]
        for target, fd in enumerate(high):
            os.dup2(fd, target)
        os.closerange(len(fds), 1 << 30)
        _confine(server, uid, cwd, rlimits, dumpable)
        code = main()
    except BaseException:  # noqa: BLE001 - the child must never return into the server
        try:
            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)


def _confine(server: _Server, uid: int, cwd: str, rlimits: dict[int, int], dumpable: bool) -> None:
    """Limits, filesystem, identity and environment of a freshly forked child (runs as root until setuid)."""
    program = dumpable  # the tester is the one child that is not dumpable
    for limit, value in rlimits.items():
        # RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL one second later (if SIGXCPU is ignored)
        resource.setrlimit(limit, (value, value + 1 if limit == resource.RLIMIT_CPU else value))
    if server.cgroup is not None:
        if program and server.oom_protected:
            _write_proc("/proc/self/oom_score_adj", b"0")  # the server's -1000 is inherited: a memory bomb must be the one killed
        elif not program:
            server.cgroup.enter("homes")  # the tester is not limited by (nor counted in) the job's cgroup
            if server.cpu is not None:
                os.sched_setaffinity(0, {server.cpu})  # leaving the slot's cpuset reset its affinity
    if program and server.cgroup is not None:  # below its server in the slot's cgroup: the server's deadline holds
        os.setpriority(os.PRIO_PROCESS, 0, 10)  # (relative to the server only: the cgroup competes as a whole)
    if program and server.ipc_namespace:
        _UNSHARE_IPC()  # SysV and POSIX IPC objects of the job die with its last process
    if server.root:
        os.chroot(server.root)
    os.chdir(cwd)
    if server.own_uids:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)  # an unprivileged uid: all capabilities go
    elif server.drop_caps:
        _drop_capabilities()  # uid 0 of a user namespace, without capabilities: no way out of the chroot
    _DEATH_SIGNAL()  # after setuid, which clears it
    if not dumpable:
        _NOT_DUMPABLE()  # no ptrace, no /proc/<pid>/mem, even for the same uid
    if program and server.seccomp is not None:
        server.seccomp()
    os.environ["HOME"] = os.environ["TMPDIR"] = cwd  # the rest was set in the server
    os.umask(0o077)


def _kill_descendants(server: _Server) -> None:
    """Kill and reap every process below the server but the tester. The server is their subreaper (orphans
    come back to it), so when it has no child but the tester, nothing is left."""
    for _ in range(1000):
        _reap(server)
        if not [pid for pid in _children_of(os.getpid()) if pid != server.tester_pid]:
            return
        for pid in _below(_children_map(), os.getpid(), skip=server.tester_pid):
            try:
                pidfd = os.pidfd_open(pid)
            except OSError:
                continue
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except OSError:
                pass
            finally:
                os.close(pidfd)
        time.sleep(0.001)


def _reap(server: _Server) -> None:
    try:
        while pid := os.waitpid(-1, os.WNOHANG)[0]:
            if pid == server.tester_pid:
                server.tester_pid = None
                server.stop_tester()
    except ChildProcessError:
        pass


def _children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", "rb") as file:
            return [int(child) for child in file.read().split()]
    except OSError:
        return _children_map().get(pid, [])


def _children_map() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as file:
                parent = int(file.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(name))
    return children


def _below(children: dict[int, list[int]], root: int, skip: int | None) -> list[int]:
    """Pids of every process below `root`, except the subtree of `skip`."""
    found, frontier = [], [root]
    while frontier:
        below = [pid for pid in children.get(frontier.pop(), []) if pid != skip]
        found += below
        frontier += below
    return found


def _clean_up_files(server: _Server, job_dir: str) -> None:
    """Delete what the job wrote: the whole scratch tmpfs of the private root, else the job directory
    and what the program's uid left in the usual world-writable places."""
    if server.root is None:
        _remove(job_dir)
        if server.own_uids:
            _sweep_world_writable(server.uid)
        return
    with os.scandir(os.path.join(server.root, "tmp")) as entries:
        paths = [entry.path for entry in entries]
    for path in paths:
        _remove(path)


def _remove(path: str) -> None:
    """Delete a file or a directory tree however deep (no recursion, no long paths: one directory fd at a
    time, walking down by name and back up by `..`); errors are ignored."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        try:
            os.unlink(path)
        except OSError:
            pass
        return
    names: list[str] = []  # the directories walked down into, below `path`
    try:
        while True:
            below = None
            with os.scandir(fd) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            below = below or entry.name
                        else:
                            os.unlink(entry.name, dir_fd=fd)
                    except OSError:
                        pass
            if below is not None:
                child = os.open(below, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = child
                names.append(below)
                continue
            if not names:
                break
            parent = os.open("..", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(names.pop(), dir_fd=fd)  # fails (and so ends the walk) if it could not be emptied
    except OSError:
        pass
    finally:
        os.close(fd)
    try:
        os.rmdir(path)
    except OSError:
        pass


def _sweep_world_writable(uid: int) -> None:
    """Without a private root: delete what the program's uid left in the usual world-writable places."""
    for directory in ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue"):
        try:
            entries = os.scandir(directory)
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    if entry.stat(follow_symlinks=False).st_uid != uid:
                        continue
                    _remove(entry.path)
                except OSError:
                    pass


# --------------------------------------------------------------------------------------------------------
# Inside the sandbox: the program process and the tester process (forked from the server).
# --------------------------------------------------------------------------------------------------------

# Program process fds: 0 stdin, 1 stdout, 2 stderr, 3 program, 4 calls in, 5 answers out.
# Tester process fds: 3 the socket to the server, which sends each job's tests, calls and answers fds.


def _program_main(tests: bool) -> int:
    """Run the program (as `__main__` for stdio; HumanEval-like for tests, then answer calls).

    `sys.stdin`/`stdout`/`stderr` are the server's own, unused, objects on fds 0-2 (now the job's pipes)."""
    source = _read_all(3)
    os.close(3)
    name = "__candidate__" if tests else "__main__"  # tests: `if __name__ == "__main__":` blocks do not run
    namespace = {"__name__": name, "__builtins__": builtins, "__file__": _PROGRAM_NAME}
    try:
        exec(compile(source, _PROGRAM_NAME, "exec", dont_inherit=True), namespace)  # not our __future__s
        if tests:
            _answer_calls(namespace)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        if not isinstance(exit_.code, (int, type(None))):
            print(exit_.code, file=sys.stderr)
    except BaseException as error:  # noqa: BLE001 - the program's own error, reported like Python does
        traceback.print_exception(type(error), error, error.__traceback__.tb_next)  # without this frame
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass
    return code & 0xFF


_REF = "\x00sandbox-ref"
"""Tag of a reference to one of the program's objects passed back to it as an argument: `(_REF, handle)`."""


def _answer_calls(namespace: dict) -> None:
    """Tell the tester the program's functions and imported modules, then answer its requests until it
    hangs up. A value that is not plain data stays here: the tester gets a handle to it (`_Remote`)."""
    names = sorted(name for name, value in namespace.items() if callable(value) and not name.startswith("__"))
    module = type(sys)
    modules = {
        name: value.__name__
        for name, value in namespace.items()
        if type(value) is module and type(value.__dict__.get("__name__")) is str and not name.startswith("__")
    }
    _write_frame(5, marshal.dumps(("ready", names, modules)))
    objects: list = []

    def resolve(value):
        if type(value) is tuple and len(value) == 2 and value[0] == _REF and type(value[1]) is int:
            return objects[value[1]]
        return value

    while (request := _read_frame(4)) is not None:
        operation, target, *rest = marshal.loads(request)
        try:
            subject = namespace[target] if type(target) is str else objects[target]
            if operation == "call":
                args, kwargs = rest
                value = subject(*[resolve(arg) for arg in args], **{k: resolve(v) for k, v in kwargs.items()})
            elif operation == "getattr":
                value = getattr(subject, rest[0])
            elif operation == "iter":
                value = iter(subject)
            elif operation == "next":
                try:
                    value = next(subject)
                except StopIteration:
                    _write_frame(5, marshal.dumps(("stop",)))
                    continue
            elif operation == "len":
                value = len(subject)
            else:  # getitem
                value = subject[resolve(rest[0])]
            try:
                answer = marshal.dumps(("ok", value))
            except ValueError:  # not plain data (an object, a generator, a subclass): keep it, send a handle
                objects.append(value)
                kind = type(value).__name__
                answer = marshal.dumps(("ref", len(objects) - 1, kind if type(kind) is str else "object"))
        except Exception as error:  # noqa: BLE001 - sent to the tests, which may expect it
            kind = type(error).__name__
            answer = marshal.dumps(("raise", kind if type(kind) is str else "Exception", _safe_str(error)))
        _write_frame(5, answer)


def _tester_main(socket_fd: int) -> int:
    """The tester process: for each job from the server (tests, program, calls pipe, answers pipe), run the
    tests against proxies of the program's functions and send back (job, kind, detail, clean). `clean` is
    False when the tests left state in this process (`_left_state`): the server then replaces it, so no
    timer, signal handler or builtin of one job's tests reaches the next job."""
    sock = socket.socket(fileno=socket_fd)
    baseline = _tester_state()
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 1 << 16, 4)
        except OSError:
            return 0
        if not message or len(fds) != 4:
            return 0
        tests_fd, program_fd, calls_fd, answers_fd = fds
        try:
            job = json.loads(message)
            source = _read_all(tests_fd)
            kind, detail = _run_tests(source, job["entry_point"], calls_fd, answers_fd, program_fd)
        except BaseException as error:  # noqa: BLE001 - e.g. MemoryError; this tester is then replaced
            kind, detail = "error", _describe_exception(error)
        finally:
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
        try:
            clean = not _left_state(baseline)
        except BaseException:  # noqa: BLE001
            clean = False
        sock.send(marshal.dumps((job["job"], kind, detail, clean)))
        if not clean:
            return 0
        gc.collect()


_TIMERS = (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF)


def _tester_state() -> dict:
    """What tests could leave behind in the tester process, to compare after each job."""
    handlers = {}
    for number in signal.valid_signals():
        try:
            handlers[number] = signal.getsignal(number)
        except (ValueError, OSError):
            pass
    return {
        "handlers": handlers,
        "builtins": dict(vars(builtins)),
        "mask": signal.pthread_sigmask(signal.SIG_BLOCK, []),
        "recursion": sys.getrecursionlimit(),
        "streams": (sys.stdin, sys.stdout, sys.stderr),
        "cwd": os.getcwd(),
    }


def _left_state(baseline: dict) -> bool:
    """Whether the last tests left state here (timers are disarmed in passing): a timer, a signal handler or
    mask, a pending signal, a changed builtin, a thread, a trace function, the recursion limit, stdio, cwd."""
    import _thread

    armed = [signal.setitimer(which, 0) for which in _TIMERS]
    return (
        any(delay or interval for delay, interval in armed)
        or any(signal.getsignal(number) is not handler for number, handler in baseline["handlers"].items())
        or vars(builtins) != baseline["builtins"]
        or signal.pthread_sigmask(signal.SIG_BLOCK, []) != baseline["mask"]
        or bool(signal.sigpending())
        or _thread._count() != 0
        or sys.gettrace() is not None
        or sys.getprofile() is not None
        or sys.getrecursionlimit() != baseline["recursion"]
        or (sys.stdin, sys.stdout, sys.stderr) != baseline["streams"]
        or os.getcwd() != baseline["cwd"]
    )


class _ProgramGone(BaseException):
    """The program process exited or sent garbage; BaseException so `except Exception` in tests ignores it."""


class _Unsupported(BaseException):
    """A test passed a value that cannot cross to the program."""


class ProgramError(Exception):
    """An exception raised by the program that is not a builtin exception (name and message kept)."""


class _Remote:
    """What the tests get for a value of the program that is not plain data (an instance of its class, a
    generator): attributes, calls, iteration, `len` and indexing are answered by the program; equality is
    identity and truth is an error, so such a value never passes for an expected one."""

    __slots__ = ("_handle", "_kind", "_request")

    def __init__(self, handle: int, kind: str, request):
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_request", request)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._request(("getattr", self._handle, name))

    def __call__(self, *args, **kwargs):
        return self._request(("call", self._handle, args, kwargs))

    def __iter__(self):
        return self._request(("iter", self._handle))

    def __next__(self):
        return self._request(("next", self._handle))

    def __len__(self) -> int:
        value = self._request(("len", self._handle))
        if type(value) is not int:
            raise TypeError("len() of the program's object is not an int")
        return value

    def __getitem__(self, key):
        return self._request(("getitem", self._handle, key))

    def __bool__(self) -> bool:
        raise TypeError(f"the program returned a {self._kind} object where the tests test a truth value")

    def __repr__(self) -> str:
        return f"<the program's {self._kind} object>"


_UNIMPORTED = frozenset({"antigravity", "this", "__hello__", "__phello__", "idlelib", "tkinter", "turtle"})
"""Standard modules the tests are not given even when the program imported them (side effects on import)."""


def _run_tests(source: str, entry_point: str | None, calls: int, answers: int, program_fd: int) -> tuple[str, str]:
    """Run `source` with proxies of the program's functions (calls written to `calls`, answers read from
    `answers`); then `check(<entry_point>)`. Returns (kind, detail), kind being a `STATUSES` key.

    The tests see the real builtins (a program's `abs` or `set` is not theirs), the program's other
    top-level functions and classes, and the standard modules the program imported under the same names."""
    state = {"calls": 0, "gone": None, "unsupported": None}
    try:
        code = compile(source, "tests.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as error:
        return "bad-tests", f"the tests do not compile: {_describe_exception(error)}"
    ready = _read_frame(answers)
    try:
        kind, names, modules = _plain(marshal.loads(ready)) if ready is not None else ("", [], {})
        if kind != "ready" or not all(isinstance(name, str) for name in [*names, *modules, *modules.values()]):
            raise ValueError
    except Exception:  # noqa: BLE001
        return "exited", "the program exited before the tests were done"

    def wrap(value):
        return _REF_ARG(value._handle) if type(value) is _Remote else value

    def request(message: tuple):
        if state["gone"] or state["unsupported"]:
            raise _ProgramGone(state["gone"] or state["unsupported"])
        state["calls"] += 1
        operation = message[0]
        if operation == "call":
            message = (*message[:2], tuple(wrap(arg) for arg in message[2]), {k: wrap(v) for k, v in message[3].items()})
        elif operation == "getitem":
            message = (*message[:2], wrap(message[2]))
        try:
            payload = marshal.dumps(message)
        except ValueError:
            state["unsupported"] = "the tests pass the program a value that is not plain data"
            raise _Unsupported(state["unsupported"]) from None
        try:
            _write_frame(calls, payload)
            answer = _read_frame(answers)
        except OSError:  # the program closed its end: it exited
            answer = None
        try:
            kind, *rest = _plain(marshal.loads(answer))  # type: ignore[arg-type]
        except (ValueError, TypeError, EOFError):  # no answer (it exited) or garbage
            kind, rest = None, []
        if kind == "ok" and len(rest) == 1:
            return rest[0]
        if kind == "ref" and len(rest) == 2 and type(rest[0]) is int and type(rest[1]) is str:
            return _Remote(rest[0], rest[1], request)
        if kind == "stop" and not rest and operation == "next":
            raise StopIteration
        if kind == "raise" and len(rest) == 2 and all(isinstance(part, str) for part in rest):
            raise _program_exception(*rest)
        state["gone"] = "the program exited during a call"
        raise _ProgramGone(state["gone"])

    def proxy_for(name: str):
        def proxy(*args, **kwargs):
            return request(("call", name, args, kwargs))

        proxy.__name__ = proxy.__qualname__ = name
        return proxy

    shadowed = set(vars(builtins))
    proxies = {name: proxy_for(name) for name in names if name.isidentifier()}
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    for name, module in modules.items():
        top = module.partition(".")[0]
        if name.isidentifier() and name not in shadowed and top in sys.stdlib_module_names and top not in _UNIMPORTED:
            try:
                __import__(module)
                namespace[name] = sys.modules[module]
            except Exception:  # noqa: BLE001 - a module the program imported from elsewhere (its own name)
                pass
    namespace.update({name: proxy for name, proxy in proxies.items() if name not in shadowed or name == entry_point})
    try:
        exec(code, namespace)
        if entry_point is not None:
            check = namespace.get("check")
            if not callable(check) or check is proxies.get("check"):
                return "no-tests", "the tests define no check function"
            if entry_point not in proxies:
                return "error", f"the program defines no function {entry_point}"
            check(proxies[entry_point])
        outcome = ("passed", "") if state["calls"] else ("no-tests", "the tests never called the program")
    except _Unsupported as error:
        return "unsupported", str(error)
    except _ProgramGone:
        pass
    except AssertionError as error:
        outcome = ("failed", _describe_exception(error))
    except SystemExit as error:
        outcome = ("bad-tests", f"the tests exited ({_describe_exception(error)})")
    except (NameError, ImportError) as error:
        outcome = ("error", _describe_exception(error))
        missing = getattr(error, "name", None)
        if entry_point is not None and not getattr(error, "_from_program", False) and isinstance(missing, str):
            if not _mentions(_read_all(program_fd), missing):  # not a name the program deleted or failed to import
                outcome = ("bad-tests", f"the tests use a name nobody defines: {_describe_exception(error)}")
    except BaseException as error:  # noqa: BLE001 - any other exception out of the tests is a failure
        outcome = ("error", _describe_exception(error))
    if state["unsupported"]:
        return "unsupported", state["unsupported"]
    if state["gone"]:
        return "exited", state["gone"]
    return outcome


def _REF_ARG(handle: int) -> tuple:
    return (_REF, handle)


def _mentions(source: str, name: str) -> bool:
    """Whether `name` occurs as a word in `source` (the program's text, read but never run here)."""
    import re

    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", source) is not None


def _plain(value):
    """`value` itself if it is made only of exact builtin types (what `marshal` can carry), else ValueError."""
    atoms = (type(None), bool, int, float, complex, str, bytes, type(Ellipsis))
    stack, seen = [value], set()
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in atoms:
            continue
        if kind not in (list, tuple, set, frozenset, dict):
            raise ValueError(f"not a plain value: {kind.__name__}")
        if id(item) in seen:
            continue
        seen.add(id(item))
        stack.extend(item.items() if kind is dict else item)
    return value


def _program_exception(name: str, message: str) -> Exception:
    """The builtin exception the program raised (so tests expecting it work), else a `ProgramError`.
    A `StopIteration` becomes a `RuntimeError` (as in a generator, PEP 479): raised inside a loop of the
    tests it would end the loop and skip its assertions."""
    kind = getattr(builtins, name, None)
    error: Exception = ProgramError(f"{name}: {message}")
    if name in ("StopIteration", "StopAsyncIteration"):
        error = RuntimeError(f"the program raised {name}")
    elif isinstance(kind, type) and issubclass(kind, Exception):
        try:
            error = kind(message)
        except Exception:  # noqa: BLE001 - e.g. UnicodeDecodeError needs five arguments
            pass
    error._from_program = True  # type: ignore[attr-defined]
    return error


def _describe_exception(error: BaseException) -> str:
    text = _safe_str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _safe_str(error: BaseException) -> str:
    try:
        return str(error)[:300]
    except Exception:  # noqa: BLE001
        return ""


def _read_all(fd: int) -> str:
    """The whole content of a memfd, read with `pread` (its offset may be shared with another process)."""
    chunks, offset = [], 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks).decode("utf-8", "surrogatepass")


def _write_frame(fd: int, payload: bytes) -> None:
    view = memoryview(_FRAME.pack(len(payload)) + payload)
    while view:
        view = view[os.write(fd, view) :]


def _read_frame(fd: int) -> bytes | None:
    head = _read_exact(fd, _FRAME.size)
    if head is None:
        return None
    size = _FRAME.unpack(head)[0]
    return None if size > _MAX_FRAME else _read_exact(fd, size)


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        try:
            chunk = os.read(fd, min(left, 1 << 20))
        except OSError:
            return None
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


if __name__ == "__main__" and sys.argv[1:2] == ["--serve"]:
    _serve(json.loads(sys.argv[2]))
