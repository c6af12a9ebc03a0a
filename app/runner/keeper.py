"""A run's keeper: PID 1 of the run's own PID namespace, in the run's own mount namespace.

It mounts what the run sees of its own (/proc, /tmp, /dev/shm, /code), then only reaps orphans.
The zygote kills it when the run ends, and the kernel then kills everything left in its
namespace before the keeper can be reaped: nothing a run started outlives it. Needs no torch,
so the runner can try it out (app.runner.sandbox) without importing torch.
"""

from __future__ import annotations

import os
import signal
from typing import NoReturn

from app.runner import jail
from app.runner.syscalls import (
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    PR_SET_DUMPABLE,
    PR_SET_PDEATHSIG,
    mount,
    prctl,
)

CODE_SIZE_MB = 1  # the learner's code is at most 64 KiB


def keep_run(tmp_size_mb: int, hidden: list[tuple[str, str]]) -> NoReturn:
    """The keeper: PID 1 of one run. Mounts the run's /proc and scratch space, binds the Python
    folders that its /tmp would hide (`hidden`: stash, path) over it, says so on fd 0, then
    reaps orphans until the zygote kills it."""
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        # Its memory and /proc files stay closed to the run even under the same uid (rootless).
        prctl(PR_SET_DUMPABLE, 0)
        signal.set_wakeup_fd(-1)
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # so pause() wakes up to reap orphans
        close_all_but({0})
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        for point in jail.SCRATCH:
            _tmpfs(point, tmp_size_mb)
        _tmpfs(jail.CODE_DIR, CODE_SIZE_MB)
        for stash, path in hidden:
            jail.bind_read_only(stash, path, directory=True)
        os.write(0, b"!")  # tell the zygote the run's space is ready (fd 0 is its pipe)
        os.close(0)
    except BaseException:
        os._exit(70)
    while True:
        try:
            os.wait()  # orphans of the run: a zombie still counts against its processes
        except ChildProcessError:
            signal.pause()


def _tmpfs(point: str, size_mb: int) -> None:
    mount("tmpfs", point, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb}m,mode=1777")


def close_all_but(keep: set[int]) -> None:
    low = 0
    for fd in sorted(keep):
        if low < fd:  # os.closerange(n, n) closes everything from n on (close_range(n, n-1))
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 16)
