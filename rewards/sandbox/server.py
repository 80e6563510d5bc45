"""The sandbox server: one long-lived process per slot, run as `python -I -S -B start_server.py --serve CONFIG`
(standard library only: this module and the ones it imports never import the client's side). It sets up
the slot's isolation once, then runs each run it receives and sends back its result.

Not imported by the server's modules: `threading` (nor `subprocess`, `queue`, `tempfile`, `random`, which
import it or reseed at fork). The server forks for every job; `threading`'s at-fork hook alone costs each
child ~0.3 ms, `random`'s ~0.1 ms."""

from __future__ import annotations

import builtins
import ctypes
import gc
import json
import marshal
import os
import platform
import signal
import socket
import sys
import time
from dataclasses import dataclass, field

from .cgroup import CGROUP_SLACK_BYTES, Cgroup
from .cleanup import clean_up_files, kill_descendants
from .confine import rlimits_for, spawn
from .kernel import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    M_ARENA_MAX,
    PR_SET_CHILD_SUBREAPER,
    PR_SET_NO_NEW_PRIVS,
    SECCOMP_ARCH,
    SYSCALLS,
    PreparedCall,
    can_switch_to,
    can_unshare,
    enter_user_namespace,
    libc,
    prctl,
    seccomp_call,
    seccomp_program,
    unshare,
    write_proc,
)
from .limits import Limits
from .messages import FRAME, describe_exception, send_json, wait_readable
from .outcome import Watch, outcome
from .private_root import build_private_root
from .program import PROGRAM_NAME, program_main
from .result import NOT_SCORABLE, SandboxError
from .tester import tester_main


PRELOADED_MODULES = (
    "typing", "math", "cmath", "re", "collections", "itertools", "functools", "heapq", "bisect", "string",
    "hashlib", "copy", "fractions", "decimal", "datetime", "operator", "array", "dataclasses", "json",
    "traceback", "shutil", "_sitebuiltins",
)  # fmt: skip
"""Imported once by each server so programs and tests do not pay for it (`typing` alone is ~9 ms). Not
`random` (nor `statistics`, `tempfile`, which import it): its at-fork reseeding costs each job ~0.1 ms."""


TESTER_JOBS = 500
"""The tester process is replaced after this many jobs (and whenever a job times out in it)."""


@dataclass
class Server:
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
    cgroup: Cgroup | None = None
    """The slot's cgroup (per-job memory, processes and CPU share), or None: limits per process only."""
    seccomp: PreparedCall | None = None
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
            rlimits = rlimits_for(None, self.own_uids)
            fds = [self.devnull, self.devnull, self.devnull, theirs.fileno()]
            self.tester_pid = spawn(self, fds, self.tester_uid, "/", rlimits, lambda: tester_main(3), dumpable=False)
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


def serve(config: dict) -> None:
    sock = socket.socket(fileno=config["socket_fd"])
    try:
        server = _start_server(config)
    except Exception as error:  # reported to the caller, which raises SandboxError
        send_json(sock, {"error": f"{type(error).__name__}: {error}"})
        return
    send_json(sock, {"isolation": server.isolation})
    try:
        while (request := _receive_job(sock)) is not None:
            header, fds = request
            try:
                result = _run_job(server, header, fds)
            except Exception as error:  # noqa: BLE001 - a bug or an exhausted resource: fail the job, restart
                detail = f"the server failed: {describe_exception(error)}"
                result = {"status": "sandbox:crashed", "passed": False if header.get("tests") else None, "detail": detail}
            finally:
                for fd in fds:
                    os.close(fd)
            send_json(sock, result)
            if result["status"] == "sandbox:crashed":
                break
    finally:  # the caller is gone (or closed the sandbox)
        server.stop_tester()
        kill_descendants(server)


def _receive_job(sock: socket.socket) -> tuple[dict, list[int]] | None:
    """The next job's header and fds (program, stdin or tests), or None when the caller hung up."""
    try:
        message, fds, _, _ = socket.recv_fds(sock, 1 << 16, 4)
    except OSError:
        return None
    if not message:
        return None
    size = FRAME.unpack_from(message)[0]
    body = message[FRAME.size :]
    while len(body) < size:
        more = sock.recv(size - len(body))
        if not more:
            return None
        body += more
    return json.loads(body), fds


def _start_server(config: dict) -> Server:
    if not hasattr(os, "pidfd_open"):
        raise SandboxError("the sandbox needs os.pidfd_open (Linux 5.3+)")
    server = Server(uid=config["uid"], workdir=config["workdir"], cpu=config.get("cpu"))
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    prctl(PR_SET_NO_NEW_PRIVS, 1)  # inherited by every child: no setuid binary can give root back
    if config.get("cpu") is not None:  # program and tester on one CPU: a call costs ~3 us, not ~200 us
        os.sched_setaffinity(0, {config["cpu"]})
    libc.mallopt(ctypes.c_int(M_ARENA_MAX), ctypes.c_int(2))  # threads must not eat RLIMIT_AS in arenas
    server.devnull = os.open(os.devnull, os.O_RDWR)
    if os.geteuid() != 0:
        try:
            enter_user_namespace()  # root in it (for namespaces and mounts), the caller's uid outside
        except OSError:
            pass
    server.own_uids = os.geteuid() == 0 and can_switch_to(server.uid)
    server.drop_caps = os.geteuid() == 0 and not server.own_uids
    if config["network_namespace"]:
        try:
            unshare(CLONE_NEWNET)
            server.network = "namespace"
        except OSError:
            pass
    if server.network == "none" and platform.machine() in SECCOMP_ARCH:
        server.network = "seccomp"
    if os.geteuid() == 0 and config["private_root"]:
        try:
            server.root = build_private_root(config["workdir"], config["scratch_bytes"])
        except OSError:
            server.root = None
    for module in PRELOADED_MODULES:
        __import__(module)
    # What `site` would do, and the environment and argv programs see (inherited, so done once here).
    import _sitebuiltins

    builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")
    builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")
    sys.argv = [PROGRAM_NAME]
    os.environ.clear()
    os.environ.update({"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp", "TMPDIR": "/tmp"})
    server.ipc_namespace = server.root is not None and can_unshare(CLONE_NEWIPC)
    if server.own_uids and config.get("cgroup", True):
        try:
            server.cgroup = Cgroup(f"rl-reasoner-sandbox-{server.uid}", config.get("cpu"))
        except OSError:
            server.cgroup = None
    if server.cgroup is not None:
        try:  # at the memory limit the kernel kills a job's process, never its server (needs CAP_SYS_RESOURCE)
            write_proc("/proc/self/oom_score_adj", b"-1000")
            server.oom_protected = True
        except OSError:
            pass
    refused = ["add_key", "request_key", "keyctl"] + ["sched_setaffinity"] * (server.cgroup is None)
    if platform.machine() in SYSCALLS:
        server.seccomp = seccomp_call(seccomp_program(refused, unix_sockets_only=server.network == "seccomp"))
    kill_descendants(server)
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


def _run_job(server: Server, header: dict, fds: list[int]) -> dict:
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
    rlimits = rlimits_for(limits, server.own_uids)
    if server.cgroup is not None:  # the server's own memory and process are in the job's cgroup too
        server.cgroup.limit(limits.memory_bytes + server.server_bytes + CGROUP_SLACK_BYTES, limits.max_processes + 1)
    if server.root is not None:  # /dev/stdin (a link to /tmp/.stdin: there is no /proc) reads the input
        _write_stdin_file(server, None if tests else data_fd)
    if tests:
        server.tester()  # started before the program, which could fill the slot's process limit
    program = spawn(server, program_fds, server.uid, inside, rlimits, lambda: program_main(tests))
    pidfd = os.pidfd_open(program)
    if tests:
        job = json.dumps({"job": server.jobs, "entry_point": header["entry_point"]}).encode()
        tester = _send_to_tester(server, job, [data_fd, program_fd, calls_w, answers_r])
    for fd in {out_w, err_w, calls_r, calls_w, answers_r, answers_w} - {server.devnull}:
        os.close(fd)
    watch = Watch(limits, start, out_r, err_r, tester.fileno() if tests else pidfd, end_is_pidfd=not tests)
    watch.run()
    verdict = None
    if tests:
        stopped = watch.timed_out or watch.overflow
        if stopped:  # the tester then gets no more answers and reports at once, unless it is stuck itself
            os.kill(program, signal.SIGKILL)
        verdict = _receive_verdict(server, server.jobs, 0.2 if stopped else 1.0)
    exited = wait_readable(pidfd, 0.1 if verdict and verdict[0] == "exited" and not watch.timed_out else 0.0)
    for fd in (out_r, err_r):
        watch.drain(fd)
    os.close(pidfd)
    os.kill(program, signal.SIGKILL)  # still our unreaped child: the pid cannot have been reused
    program_status, program_usage = os.wait4(program, 0)[1:]
    kill_descendants(server)
    for fd in (out_r, err_r):
        os.close(fd)
    clean_up_files(server, outside)
    status, detail = outcome(watch, verdict, exited, program_status, program_usage, limits)
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


def _write_stdin_file(server: Server, data_fd: int | None) -> None:
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


def _send_to_tester(server: Server, job: bytes, fds: list[int]) -> socket.socket:
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


def _receive_verdict(server: Server, job: int, seconds: float) -> tuple[str, str]:
    """The tester's verdict on `job`; a tester that does not answer in `seconds` is replaced."""
    assert server.tester_socket is not None
    deadline = time.monotonic() + seconds
    while wait_readable(server.tester_socket.fileno(), max(0.0, deadline - time.monotonic())):
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
