"""The slot's cgroup: one per server, holding it and so every process of its runs (children inherit it); the
memory, process and CPU limits of a run are the cgroup's."""

from __future__ import annotations

import errno
import os


# Cgroups: one per slot, holding the server and so every process of its jobs (children inherit it).
_CGROUP_V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuset")


class Cgroup:
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

    def stop_forks(self) -> None:
        """No process in the slot's cgroup can fork any more (the next `limit` opens it again)."""
        self.set("pids" if self.version == 1 else "", "pids.max", "1")

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


CGROUP_SLACK_BYTES = 16 << 20
"""Added to a job's memory limit in the slot's cgroup: the server's growth, page tables, kernel memory."""
