"""The sandbox's view of the machine, built once by each warm worker (zygote).

The zygote moves into new mount, network, IPC and UTS namespaces and pivots into a small root:
a read-only tmpfs holding read-only bind mounts of Python, its packages and the system
libraries, nothing else. The app's folder, database, instance files and /etc secrets are not
in it, and there is no network. Each run then adds its own PID namespace, /proc, /tmp and
/dev/shm on top (see app.runner.child).
"""

from __future__ import annotations

import os
import site
import sys
import tempfile
from pathlib import Path
from typing import Any

from app.runner.syscalls import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWUTS,
    MNT_DETACH,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    mount,
    pivot_root,
    umount,
    unshare,
)

SYSTEM_DIRS = ("/usr",)
# Symlinks of a merged-/usr system, recreated rather than mounted.
SYSTEM_LINKS = ("/bin", "/lib", "/lib64", "/sbin")
# Single files: the dynamic linker's cache and the user names some libraries look up.
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/passwd", "/etc/group")
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")
MOUNT_POINTS = ("/proc", "/tmp", "/dev/shm")  # noqa: S108 - mount points inside the jail


def python_dirs() -> list[str]:
    """Python itself and every folder it imports packages from, outermost first."""
    candidates = {sys.base_prefix, sys.prefix, sys.exec_prefix, *site.getsitepackages()}
    dirs = sorted(os.path.realpath(p) for p in candidates if os.path.isdir(p))
    # A folder inside another already bound one needs no mount of its own.
    return [d for d in dirs if not any(d.startswith(o + os.sep) for o in dirs if o != d)]


def enter() -> None:
    """Move this process into the jail. Needs root (or CAP_SYS_ADMIN); irreversible."""
    os.umask(0o022)  # the jail's folders must be traversable by the runs' unprivileged users
    unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount leaks back to the host
    root = tempfile.mkdtemp(prefix="torchquiz-jail-")
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    for path in [*SYSTEM_DIRS, *python_dirs()]:
        if os.path.isdir(path):
            _bind(path, root + path, directory=True)
    for link in SYSTEM_LINKS:
        if os.path.islink(link):
            os.symlink(os.readlink(link), root + link)
    for path in [*SYSTEM_FILES, *DEVICES]:
        if os.path.exists(path):
            _bind(path, root + path, directory=False)
    for point in MOUNT_POINTS:
        os.makedirs(root + point, exist_ok=True)
    os.makedirs(root + "/.old")
    pivot_root(root, root + "/.old")
    os.chdir("/")
    umount("/.old", MNT_DETACH)
    os.rmdir("/.old")
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    # The zygote's own /proc (it checks its thread count before each fork); every run mounts
    # a fresh one for its PID namespace over it.
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _bind(source: str, target: str, *, directory: bool) -> None:
    if directory:
        os.makedirs(target, exist_ok=True)
    else:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).touch()
    mount(source, target, None, MS_BIND)
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID
    if not source.startswith("/dev/"):
        flags |= MS_NODEV
    mount(None, target, None, flags)


def confine(uid: int, seccomp: Any) -> None:
    """Enter the jail for good as an unprivileged worker (Shape playground, lab): the jail's
    view of the machine, `uid` with no groups, no new privileges, then the seccomp filter."""
    from app.runner.syscalls import PR_SET_NO_NEW_PRIVS, prctl

    enter()
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    if seccomp is not None:
        seccomp.load()
