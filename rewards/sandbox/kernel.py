"""Linux interfaces the standard library lacks, through `ctypes`: namespaces, mounts, `prctl`, capabilities,
seccomp filters. Used by the server and by the children it forks, never by the client."""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import signal
import socket
import struct
from collections.abc import Sequence


CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWIPC = 0x00020000, 0x10000000, 0x40000000, 0x08000000


MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8


MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18


PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_SECCOMP = 1, 4, 22


PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 36, 38


M_ARENA_MAX = -8


libc = ctypes.CDLL(None, use_errno=True)


def _checked(result: int) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number))


def unshare(flags: int) -> None:
    _checked(libc.unshare(ctypes.c_int(flags)))


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encode = lambda text: None if text is None else text.encode()  # noqa: E731
    _checked(libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)))


def prctl(option: int, value: int | ctypes.c_void_p) -> None:
    zero = ctypes.c_ulong(0)
    argument = value if isinstance(value, ctypes.c_void_p) else ctypes.c_ulong(value)
    _checked(libc.prctl(ctypes.c_int(option), argument, zero, zero, zero))


_SYS_CAPSET = {"x86_64": 126, "aarch64": 91}


def drop_capabilities() -> None:
    """Clear the effective, permitted and inheritable capability sets (`no_new_privs` keeps them empty)."""
    header = ctypes.create_string_buffer(struct.pack("Ii", 0x20080522, 0))  # _LINUX_CAPABILITY_VERSION_3
    data = ctypes.create_string_buffer(24)  # two {effective, permitted, inheritable} u32 triples, all zero
    _checked(libc.syscall(ctypes.c_long(_SYS_CAPSET[platform.machine()]), header, data))


# Seccomp: audit arch and the syscalls filtered, per machine.
SECCOMP_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}


SYSCALLS = {
    "x86_64": {"socket": 41, "io_uring_setup": 425, "add_key": 248, "request_key": 249, "keyctl": 250,
               "sched_setaffinity": 203},
    "aarch64": {"socket": 198, "io_uring_setup": 425, "add_key": 217, "request_key": 218, "keyctl": 219,
                "sched_setaffinity": 122},
}  # fmt: skip


def seccomp_program(refused: Sequence[str], unix_sockets_only: bool) -> bytes:
    """A seccomp filter: the `refused` syscalls fail with EACCES, as do syscalls of another ABI (x32,
    i386 via int 0x80); with `unix_sockets_only`, socket() fails unless AF_UNIX (and io_uring is refused)."""
    machine = platform.machine()
    numbers = [SYSCALLS[machine][name] for name in refused]
    if unix_sockets_only:
        numbers.append(SYSCALLS[machine]["io_uring_setup"])
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | errno.EACCES
    # (code, jump-if-true target, jump-if-false target, k); targets: "next", "allow", "deny" or an index
    program: list[tuple[int, str, str, int]] = [(ld_abs, "next", "next", 4), (jeq, "next", "deny", SECCOMP_ARCH[machine])]
    program += [(ld_abs, "next", "next", 0), (jge, "deny", "next", 0x40000000)]
    program += [(jeq, "deny", "next", number) for number in numbers]
    if unix_sockets_only:
        program += [(jeq, "next", "allow", SYSCALLS[machine]["socket"]), (ld_abs, "next", "next", 16)]
        program += [(jeq, "allow", "deny", socket.AF_UNIX)]
    program += [(ret, "next", "next", allow), (ret, "next", "next", deny)]
    where = {"allow": len(program) - 2, "deny": len(program) - 1}
    encoded = []
    for index, (code, if_true, if_false, k) in enumerate(program):
        jump = lambda target: 0 if target == "next" else where[target] - index - 1  # noqa: E731
        encoded.append(struct.pack("HBBI", code, jump(if_true), jump(if_false), k))
    return b"".join(encoded)


class PreparedCall:
    """A libc call whose ctypes arguments are built once, in the server: a forked child then only makes the
    system call. (Building ctypes objects, or opening a file in text mode, in each child costs ~0.1-0.4 ms of
    CPU per job: every page of the server's memory they touch is copied on write.)"""

    def __init__(self, function, *args, keep: object = None):
        self.function, self.args, self.keep = function, args, keep  # `keep`: buffers `args` point into

    def __call__(self) -> None:
        _checked(self.function(*self.args))


def _prctl_call(option: int, value: int = 0) -> PreparedCall:
    zero = ctypes.c_ulong(0)
    return PreparedCall(libc.prctl, ctypes.c_int(option), ctypes.c_ulong(value), zero, zero, zero)


def seccomp_call(filters: bytes) -> PreparedCall:
    """The call that installs a seccomp filter made by `seccomp_program`. Needs `no_new_privs` (or root)."""
    buffer = ctypes.create_string_buffer(filters)
    fprog = ctypes.create_string_buffer(struct.pack("HxxxxxxQ", len(filters) // 8, ctypes.addressof(buffer)))
    mode_filter, zero = 2, ctypes.c_ulong(0)
    pointer = ctypes.c_void_p(ctypes.addressof(fprog))
    return PreparedCall(
        libc.prctl, ctypes.c_int(PR_SET_SECCOMP), ctypes.c_ulong(mode_filter), pointer, zero, zero, keep=(buffer, fprog)
    )


UNSHARE_IPC = PreparedCall(libc.unshare, ctypes.c_int(CLONE_NEWIPC))


DEATH_SIGNAL = _prctl_call(PR_SET_PDEATHSIG, signal.SIGKILL)


NOT_DUMPABLE = _prctl_call(PR_SET_DUMPABLE, 0)


def write_proc(path: str, text: bytes) -> None:
    """Write a small /proc or /sys file with plain fds (no file object: see `PreparedCall`)."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text)
    finally:
        os.close(fd)


def enter_user_namespace() -> None:
    """Become root of a new user namespace, mapped to the caller's uid and gid outside."""
    uid, gid = os.getuid(), os.getgid()
    unshare(CLONE_NEWUSER)
    for path, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{path}", "w") as file:
            file.write(text)


def can_unshare(flags: int) -> bool:
    """Whether a child can enter new namespaces of `flags`."""
    pid = os.fork()
    if pid == 0:
        try:
            unshare(flags)
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    return os.waitpid(pid, 0)[1] == 0


def can_switch_to(uid: int) -> bool:
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
