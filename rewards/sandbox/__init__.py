"""A sandbox for untrusted Python programs: run one, or run tests against one, and get a verdict the program
cannot forge.

Two kinds of run (a `SandboxRun`; "job" below is one run as the server sees it):

- **stdio**: run the program with `stdin`; the caller compares its stdout (`Sandbox.run(program, stdin=...)`).
- **tests**: run trusted Python test code against the program's functions, HumanEval style
  (`Sandbox.run(program, tests=..., entry_point=...)` calls `check(<entry_point>)` after the tests).

Layout
------
The client's side (imported by `code_tests`): `client.py` (`SandboxRun`, `Sandbox`, `default_sandbox`),
`slot.py` (a slot's uid pair, its server process and socket). The server's side, standard library only and
never importing the client's side (the client imports it, not the reverse): `start_server.py` (the script a
slot runs), `server.py` (set-up of a slot, one job from start to result), `confine.py` (a forked child's
limits and identity), `kernel.py` (namespaces, mounts, prctl, seccomp through ctypes), `cgroup.py`,
`private_root.py`, `outcome.py` (watching a job, naming how it ended), `cleanup.py` (processes and files
left after a job), and the code that runs inside the sandbox: `program.py` and `tester.py`. Shared by
both: `limits.py`, `result.py` (statuses), `messages.py` (frames between processes).

How a job runs
--------------
Each worker slot is a long-lived *server* process (`server.py`, started by `python -I -S start_server.py`
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

from .client import Sandbox, SandboxRun, default_sandbox
from .limits import Limits
from .private_root import PACKAGE_DIRECTORIES
from .result import NOT_SCORABLE, STATUSES, Result, SandboxError
from .server import PRELOADED_MODULES, TESTER_JOBS
from .slot import UID_BASE
from .tester import TESTER_MEMORY_BYTES, ProgramError

__all__ = [
    "NOT_SCORABLE",
    "PACKAGE_DIRECTORIES",
    "PRELOADED_MODULES",
    "STATUSES",
    "TESTER_JOBS",
    "TESTER_MEMORY_BYTES",
    "UID_BASE",
    "Limits",
    "ProgramError",
    "Result",
    "Sandbox",
    "SandboxError",
    "SandboxRun",
    "default_sandbox",
]
