"""A slot's keeper: PID 1 of the slot's own PID namespace, in the slot's own mount namespace.

It mounts what a run sees of its own (/proc, /tmp, /dev/shm, /code) and reaps orphans. After
each run the zygote asks it to clean up (one byte on its socket): the keeper kills every other
process of its namespace (kill(-1) from a namespace's init reaches exactly those), reaps them,
checks in its /proc that it is alone, gives the slot fresh scratch space and answers "!". If
anything survives it answers "x", and the zygote kills the keeper itself: the kernel then ends
everything in its namespace before the keeper can be reaped, and the slot gets a new keeper.
Either way nothing a run started outlives it. Needs no torch, so the runner can try it out
(app.runner.sandbox) without importing torch.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import time
from typing import NoReturn

from app.runner import jail
from app.runner.syscalls import (
    CLONE_NEWNS,
    CLONE_NEWPID,
    MNT_DETACH,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    PR_SET_DUMPABLE,
    PR_SET_PDEATHSIG,
    mount,
    prctl,
    umount,
    unshare,
)

CODE_SIZE_MB = 1  # the learner's code is at most 64 KiB
CLEAN, CLEANED, SURVIVORS = b"c", b"!", b"x"
CLEAN_TRIES = 50  # 10 ms apart: a process the kernel is still tearing down gets half a second
REAP_EVERY = 0.2  # seconds: orphans' zombies still count against a run's processes


def spawn(tmp_size_mb: int, hidden: list[tuple[str, str]]) -> tuple[int, socket.socket]:
    """Fork a keeper as PID 1 of new mount and PID namespaces; its pid and our end of its
    socket. The caller is left in the new mount namespace, its next children going into the
    new PID one: it steps back into its own when it is done there."""
    ours, theirs = socket.socketpair()
    try:
        unshare(CLONE_NEWNS | CLONE_NEWPID)  # our next child is PID 1 of a new namespace
        pid = os.fork()
        if pid == 0:
            os.dup2(theirs.fileno(), 0)  # keep_slot closes everything else
            keep_slot(tmp_size_mb, hidden)
    except OSError:
        ours.close()
        raise
    finally:
        theirs.close()
    return pid, ours


def keep_slot(tmp_size_mb: int, hidden: list[tuple[str, str]]) -> NoReturn:
    """The keeper, on fd 0 (a socket to the zygote). Mounts the slot's /proc and scratch space,
    binds the Python folders its /tmp would hide (`hidden`: stash, path) over it, says "!",
    then reaps orphans and cleans up after each run when asked."""
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        # Its memory and /proc files stay closed to the runs even under the same uid (rootless).
        prctl(PR_SET_DUMPABLE, 0)
        signal.set_wakeup_fd(-1)
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(number, signal.SIG_DFL)
        close_all_but({0})
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        fresh_scratch(tmp_size_mb, hidden)
        os.write(0, CLEANED)  # the slot is ready
    except BaseException:
        os._exit(70)
    while True:
        readable, _, _ = select.select([0], [], [], REAP_EVERY)
        _reap()
        if readable:
            if not os.read(0, 1):
                os._exit(0)  # the zygote is gone
            os.write(0, CLEANED if _clean(tmp_size_mb, hidden) else SURVIVORS)


def fresh_scratch(tmp_size_mb: int, hidden: list[tuple[str, str]]) -> None:
    """Empty /tmp, /dev/shm and /code: detach the last run's and mount new ones."""
    for point in (*jail.SCRATCH, jail.CODE_DIR):
        with contextlib.suppress(OSError):  # the first time, nothing is mounted there yet
            umount(point, MNT_DETACH)
    for point in jail.SCRATCH:
        _tmpfs(point, tmp_size_mb)
    _tmpfs(jail.CODE_DIR, CODE_SIZE_MB)
    for stash, path in hidden:
        jail.bind_read_only(stash, path, directory=True)


def _tmpfs(point: str, size_mb: int) -> None:
    mount("tmpfs", point, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb}m,mode=1777")


def _clean(tmp_size_mb: int, hidden: list[tuple[str, str]]) -> bool:
    """End every process of the namespace but this one; True once none is left (then the
    scratch space is fresh too)."""
    for _ in range(CLEAN_TRIES):
        with contextlib.suppress(ProcessLookupError):  # nobody left to signal
            os.kill(-1, signal.SIGKILL)
        _reap()
        if _alone():
            fresh_scratch(tmp_size_mb, hidden)
            return True
        time.sleep(0.01)
    return False


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _alone() -> bool:
    """Whether this namespace's /proc lists no process but the keeper (a zombie counts)."""
    return [entry for entry in os.listdir("/proc") if entry.isdigit()] == ["1"]


def close_all_but(keep: set[int]) -> None:
    low = 0
    for fd in sorted(keep):
        if low < fd:  # os.closerange(n, n) closes everything from n on (close_range(n, n-1))
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 16)
