"""The private root a program is chrooted to: the system directories and the standard library, read-only,
every Python package directory hidden, and a small tmpfs `/tmp` (docs/sandbox.md, *What a program can see*)."""

from __future__ import annotations

import os
import sys

from .kernel import MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, MS_REMOUNT, CLONE_NEWNS, mount, unshare


def build_private_root(mount_point: str, scratch_bytes: int) -> str:
    """Enter a mount namespace and build, at `mount_point`, a read-only root with the system directories
    and the standard library, `/dev/{null,zero,random,urandom,full}`, and a tmpfs `/tmp`."""
    unshare(CLONE_NEWNS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", mount_point, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0755")
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
        mount(source, target, None, MS_BIND)
        mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
        bound.append(source)
    for path in package_directories():  # the standard library only: every package directory is hidden
        if os.path.isdir(mount_point + path):
            mount("tmpfs", mount_point + path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0555")
    os.mkdir(mount_point + "/tmp", 0o755)
    os.symlink("/tmp/.stdin", mount_point + "/dev/stdin")
    options = f"size={scratch_bytes},nr_inodes=8192,mode=0755"
    mount("tmpfs", mount_point + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options)
    mount(None, mount_point, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4m,mode=0755")
    return mount_point


PACKAGE_DIRECTORIES = (
    "/usr/lib/python*/dist-packages", "/usr/lib/python*/site-packages", "/usr/local/lib/python*/dist-packages",
    "/usr/local/lib/python*/site-packages", "/usr/share/pyshared", "/usr/share/python*",
)  # fmt: skip
"""Where system Python packages live: hidden (an empty read-only tmpfs on top) in the private root, as are
the `site-packages`/`dist-packages` of the interpreter's own prefix."""


def package_directories() -> list[str]:
    import glob

    found = [path for pattern in PACKAGE_DIRECTORIES for path in glob.glob(pattern)]
    for prefix in {sys.base_prefix, sys.prefix, sys.exec_prefix}:
        found += glob.glob(os.path.join(prefix, "lib", "python*", "*-packages"))
    found += [os.path.join(path, name) for path in sys.path if path for name in ("site-packages", "dist-packages")]
    return sorted({os.path.realpath(path) for path in found if os.path.isdir(path)})
