"""What the server does after each run: kill and reap every process left below it (it is their subreaper),
and delete every file the run wrote, however deep the tree."""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import Server


def kill_descendants(server: Server) -> None:
    """Kill and reap every process below the server but the tester. The server is their subreaper (orphans
    come back to it), so when it has no child but the tester, nothing is left.

    A fork bomb refills the process limit as fast as its processes are killed one by one (on a busy machine
    the walk then never ended, and the caller gave the server up after 30 s): when processes are left after
    the first pass, the slot's cgroup is closed to new processes (`pids.max` 1) until the next job."""
    for attempt in range(1000):
        _reap(server)
        if not [pid for pid in _children_of(os.getpid()) if pid != server.tester_pid]:
            return
        if attempt == 1 and server.cgroup is not None:
            server.cgroup.stop_forks()
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


def _reap(server: Server) -> None:
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


def clean_up_files(server: Server, job_dir: str) -> None:
    """Delete what the job wrote: the whole scratch tmpfs of the private root, else the job directory
    and what the program's uid left in the usual world-writable places."""
    if server.root is None:
        remove_tree(job_dir)
        if server.own_uids:
            _sweep_world_writable(server.uid)
        return
    with os.scandir(os.path.join(server.root, "tmp")) as entries:
        paths = [entry.path for entry in entries]
    for path in paths:
        remove_tree(path)


def remove_tree(path: str) -> None:
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
                    remove_tree(entry.path)
                except OSError:
                    pass
