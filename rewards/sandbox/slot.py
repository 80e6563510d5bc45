"""The client's side of one slot: a uid pair claimed for it (with a lock file, so several trainers on one
host do not share them), its server process, and the socket runs go through."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from dataclasses import asdict
from typing import TYPE_CHECKING

from .limits import Limits
from .messages import FRAME, recv_json
from .result import Result, SandboxError

if TYPE_CHECKING:
    from .client import SandboxRun

SERVER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "start_server.py")
"""What a slot runs with `python -I -S -B` to start its server (this package's own copy)."""

UID_BASE = 61000
"""Slot k uses uid/gid `UID_BASE + 2k` for programs and `UID_BASE + 2k + 1` for tests (root only)."""


def _state_dir() -> str:
    """A directory only this user can write, for the slots' uid locks and mount points."""
    path = os.path.join(tempfile.gettempdir(), f"rl-reasoner-sandbox-{os.geteuid()}")
    os.makedirs(path, mode=0o711, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise SandboxError(f"{path} must be a directory owned by uid {os.geteuid()} and writable only by it")
    os.chmod(path, 0o711)
    return path


class Slot:
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
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        config = {**self.options, "socket_fd": theirs.fileno(), "uid": uid, "workdir": self.workdir}
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-B", SERVER_SCRIPT, "--serve", json.dumps(config)],
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
            hello = recv_json(ours)
        except (OSError, ValueError) as error:
            hello = {"error": repr(error)}
        if hello is None or "error" in hello:
            self.stop(kill=True)
            raise SandboxError(f"the sandbox server failed to start: {hello and hello['error']}")
        self.isolation = hello["isolation"]

    def run(self, run: SandboxRun, limits: Limits) -> Result:
        self.ensure_started()
        assert self.socket is not None
        header = {"limits": asdict(limits), "entry_point": run.entry_point, "tests": run.tests is not None}
        data = run.tests if run.tests is not None else run.stdin
        fds = [_memfd("program", run.program), _memfd("data", data)]
        try:
            self.socket.settimeout(limits.wall_seconds + 30)
            payload = json.dumps(header).encode()
            socket.send_fds(self.socket, [FRAME.pack(len(payload)) + payload], fds)
            reply = recv_json(self.socket)
        except (OSError, ValueError):
            reply = None
        finally:
            for fd in fds:
                os.close(fd)
        if reply is None:  # the server died or hung: the job fails, the next one gets a new server
            self.stop(kill=True)
            return Result("sandbox:crashed", False if run.tests is not None else None, detail="the server died")
        return Result(**reply)

    def stop(self, kill: bool = False) -> None:
        """Close the socket: the server cleans up and exits (killed after 10 s, or at once with `kill`).
        Its jobs' processes die with it (parent-death signal)."""
        if self.socket is not None:
            self.socket.close()
            self.socket = None
        if self.process is not None:
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
