"""The sandbox's view of the machine, built once by each warm worker (zygote, playground, lab).

The worker moves into new mount, PID, network, IPC and UTS namespaces and pivots into a small
root: a read-only tmpfs holding read-only bind mounts of Python, its packages and the system
libraries, nothing else. The app's folder, database, instance files and /etc secrets are not in
it, and there is no network. The worker carries on as PID 1 of its own PID namespace, so when it
dies the kernel kills everything it started. Each run then adds its own PID namespace, /proc,
/tmp and /dev/shm on top (see app.runner.child).

Two modes build the same jail:
- privileged: the runner has CAP_SYS_ADMIN (root); runs drop to an unprivileged uid per slot;
- rootless: the runner is a normal user; a user namespace mapping only its own uid grants the
  capabilities over the new namespaces, and runs give up every capability instead of changing
  uid (app.runner.sandbox chooses the mode by what the kernel allows).
"""

from __future__ import annotations

import contextlib
import os
import signal
import site
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

from app.runner.syscalls import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
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
    PR_SET_NO_NEW_PRIVS,
    PR_SET_PDEATHSIG,
    drop_capabilities,
    mount,
    pivot_root,
    prctl,
    umount,
    unshare,
)

Mode = Literal["privileged", "rootless"]

SYSTEM_DIRS = ("/usr",)
# Symlinks of a merged-/usr system, recreated rather than mounted.
SYSTEM_LINKS = ("/bin", "/lib", "/lib64", "/sbin")
# Single files: the dynamic linker's cache and the user names some libraries look up.
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/passwd", "/etc/group")
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")
SCRATCH = ("/tmp", "/dev/shm")  # noqa: S108 - each run's own tmpfs, mounted over the jail's
CODE_DIR = "/code"  # each run's own small tmpfs, holding the learner's code as a real file
MOUNT_POINTS = ("/proc", *SCRATCH, CODE_DIR)
# Python folders that a run's private /tmp would hide (a venv under /tmp) are also bound here,
# so each run can bind them again over its own /tmp (see app.runner.keeper).
STASH = "/.python"
# Mount flags that statvfs reports, as mount(2) flags: a bind mount inside a user namespace
# must keep the restrictions the kernel locked on the original.
_KEPT_FLAGS = {
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
}


def python_dirs() -> list[str]:
    """Python itself and every folder it imports packages from, outermost first."""
    candidates = {sys.base_prefix, sys.prefix, sys.exec_prefix, *site.getsitepackages()}
    dirs = sorted(os.path.realpath(p) for p in candidates if os.path.isdir(p))
    # A folder inside another already bound one needs no mount of its own.
    return [d for d in dirs if not any(d.startswith(o + os.sep) for o in dirs if o != d)]


def hidden_python_dirs() -> list[tuple[str, str]]:
    """(stash path, real path) of each Python folder under a run's scratch space."""
    hidden = [d for d in python_dirs() if any(d.startswith(p + os.sep) for p in SCRATCH)]
    return [(f"{STASH}/{i}", path) for i, path in enumerate(hidden)]


def enter(mode: Mode) -> None:
    """Move this process into the jail, as PID 1 of a new PID namespace; irreversible.

    The process that calls this never returns: it waits for the jailed copy of itself and
    exits with its status. The copy returns, so the caller carries on inside the jail with
    its stdin and stdout as they were."""
    os.umask(0o022)  # the jail's folders must be traversable by the runs' unprivileged users
    if mode == "rootless":
        own_user_namespace()
    unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
    _become_pid_one()
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount leaks back to the host
    root = tempfile.mkdtemp(prefix="torchquiz-jail-")
    try:
        _build(root)
    except BaseException:
        with contextlib.suppress(OSError):
            umount(root, MNT_DETACH)
        with contextlib.suppress(OSError):
            os.rmdir(root)
        raise
    _pivot(root)


def own_user_namespace() -> None:
    """A new user namespace in which this process's own uid and gid map to themselves: it
    holds every capability over namespaces it creates from now on, and none on the host."""
    uid, gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER)
    Path("/proc/self/setgroups").write_text("deny")  # required before an unprivileged gid_map
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")


def _become_pid_one() -> None:
    """Fork into the new PID namespace; the parent only waits and passes the exit status on."""
    pid = os.fork()
    if pid:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the child decides when to stop
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the runner killed our parent: we go too


def _build(root: str) -> None:
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    for path in [*SYSTEM_DIRS, *python_dirs()]:
        if os.path.isdir(path):
            bind_read_only(path, root + path, directory=True)
    for stash, path in hidden_python_dirs():
        bind_read_only(path, root + stash, directory=True)
    for link in SYSTEM_LINKS:
        if os.path.islink(link):
            os.symlink(os.readlink(link), root + link)
    for path in [*SYSTEM_FILES, *DEVICES]:
        if os.path.exists(path):
            bind_read_only(path, root + path, directory=False)
    for point in MOUNT_POINTS:
        os.makedirs(root + point, exist_ok=True)
    # Our own /proc, for our own PID namespace. Mounted while the host's /proc is still in
    # view: inside a user namespace the kernel allows a new procfs only then.
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _pivot(root: str) -> None:
    os.makedirs(root + "/.old")
    pivot_root(root, root + "/.old")
    os.chdir("/")
    os.rmdir("/.old" + root)  # no longer a mount point: leave no empty folder in the host's /tmp
    umount("/.old", MNT_DETACH)
    os.rmdir("/.old")
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=1m,mode=755")


def bind_read_only(source: str, target: str, *, directory: bool) -> None:
    """Bind `source` at `target`, then make that mount read-only, keeping the source's flags."""
    if directory:
        os.makedirs(target, exist_ok=True)
    else:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).touch()
    mount(source, target, None, MS_BIND)
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID
    if not source.startswith("/dev/"):
        flags |= MS_NODEV
    kept = os.statvfs(source).f_flag
    flags |= sum(ms for st, ms in _KEPT_FLAGS.items() if kept & st)
    mount(None, target, None, flags)


def drop_privileges(mode: Mode, uid: int) -> None:
    """For good: no capabilities (privileged: the unprivileged `uid`, no groups), no new
    privileges through exec. The caller loads its seccomp filter next."""
    if mode == "privileged":
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)  # leaving uid 0 clears every capability
    else:
        drop_capabilities()  # our uid stays: it is the only one the user namespace maps
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    # A uid change clears the parent-death signal: ask for it again, so that whatever the
    # runner kills takes this process with it.
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def confine(mode: Mode, uid: int, seccomp: Any) -> None:
    """Enter the jail for good as an unprivileged worker (Shape playground, lab): the jail's
    view of the machine, no privileges, then the seccomp filter."""
    enter(mode)
    drop_privileges(mode, uid)
    if seccomp is not None:
        seccomp.load()
