"""Forking a confined child of the server (a program or the tester): its rlimits, cgroup, namespaces,
chroot, identity, seccomp filter and environment."""

from __future__ import annotations

import fcntl
import math
import os
import resource
import sys
import traceback
from typing import TYPE_CHECKING

from .kernel import DEATH_SIGNAL, NOT_DUMPABLE, UNSHARE_IPC, drop_capabilities, write_proc
from .limits import Limits
from .tester import TESTER_MEMORY_BYTES

if TYPE_CHECKING:
    from .server import Server


def rlimits_for(limits: Limits | None, own_uids: bool) -> dict[int, int]:
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


def spawn(server: Server, fds: list[int], uid: int, cwd: str, rlimits: dict[int, int], main, dumpable=True) -> int:
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


def _confine(server: Server, uid: int, cwd: str, rlimits: dict[int, int], dumpable: bool) -> None:
    """Limits, filesystem, identity and environment of a freshly forked child (runs as root until setuid)."""
    program = dumpable  # the tester is the one child that is not dumpable
    for limit, value in rlimits.items():
        # RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL one second later (if SIGXCPU is ignored)
        resource.setrlimit(limit, (value, value + 1 if limit == resource.RLIMIT_CPU else value))
    if server.cgroup is not None:
        if program and server.oom_protected:
            write_proc("/proc/self/oom_score_adj", b"0")  # the server's -1000 is inherited: a memory bomb must be the one killed
        elif not program:
            server.cgroup.enter("homes")  # the tester is not limited by (nor counted in) the job's cgroup
            if server.cpu is not None:
                os.sched_setaffinity(0, {server.cpu})  # leaving the slot's cpuset reset its affinity
    if program and server.cgroup is not None:  # below its server in the slot's cgroup: the server's deadline holds
        os.setpriority(os.PRIO_PROCESS, 0, 10)  # (relative to the server only: the cgroup competes as a whole)
    if program and server.ipc_namespace:
        UNSHARE_IPC()  # SysV and POSIX IPC objects of the job die with its last process
    if server.root:
        os.chroot(server.root)
    os.chdir(cwd)
    if server.own_uids:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)  # an unprivileged uid: all capabilities go
    elif server.drop_caps:
        drop_capabilities()  # uid 0 of a user namespace, without capabilities: no way out of the chroot
    DEATH_SIGNAL()  # after setuid, which clears it
    if not dumpable:
        NOT_DUMPABLE()  # no ptrace, no /proc/<pid>/mem, even for the same uid
    if program and server.seccomp is not None:
        server.seccomp()
    os.environ["HOME"] = os.environ["TMPDIR"] = cwd  # the rest was set in the server
    os.umask(0o077)
