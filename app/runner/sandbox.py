"""Which sandbox the kernel lets this runner build: privileged (CAP_SYS_ADMIN), rootless (an
unprivileged user namespace), or none, with one line saying why and how to turn it on.

The runner does not guess from its uid: it builds the real jail and one run's namespace in a
throwaway child process and keeps the first mode that works.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.runner import jail, keeper

Choice = Literal["auto", "privileged", "rootless"]
PROBE_UID = 65534  # privileged mode must be able to drop to some unprivileged uid
README = "README, section 'The code runner'"


@dataclass(frozen=True)
class Sandbox:
    mode: jail.Mode | None
    reason: str | None = None  # when mode is None: why running code is off, and what to do


def detect(choice: Choice = "auto") -> Sandbox:
    """The first mode (privileged, then rootless) whose jail this process can build."""
    modes: list[jail.Mode] = ["privileged", "rootless"] if choice == "auto" else [choice]
    errors = {}
    for mode in modes:
        error = probe(mode)
        if error is None:
            return Sandbox(mode)
        errors[mode] = error
    return Sandbox(None, explain(errors.get("rootless") or errors[modes[0]]))


def probe(mode: jail.Mode) -> str | None:
    """Build the jail and one run's keeper in a child process; None, or what failed."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            jail.enter(mode)
            if not _run_space_works():
                raise OSError("a run's keeper could not mount its /proc and /tmp")
            jail.drop_privileges(mode, PROBE_UID)
        except BaseException as exc:
            os.write(write_end, str(exc).encode()[:2000] or type(exc).__name__.encode())
            os._exit(1)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as messages:
        error = messages.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if error or status:
        return error or f"the probe ended with status {status}"
    return None


def _run_space_works() -> bool:
    """What the zygote does for every slot: a keeper in new mount and PID namespaces, which
    mounts the run's space, and cleans up after a run."""
    pid, ours = keeper.spawn(1, jail.hidden_python_dirs())
    with ours:
        ready = ours.recv(1) == keeper.CLEANED
        cleaned = ready and ours.send(keeper.CLEAN) and ours.recv(1) == keeper.CLEANED
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return bool(cleaned)


def explain(error: str) -> str:
    """One line: running code is off, why, and how to turn it on."""
    why, how = _cause()
    return f"Running code is off: {why} ({error}). To turn it on: {how}; see the {README}."


def _cause() -> tuple[str, str]:
    if _sysctl("kernel/apparmor_restrict_unprivileged_userns") == "1":
        return (
            "AppArmor lets only profiled programs create user namespaces "
            "(kernel.apparmor_restrict_unprivileged_userns=1)",
            "run `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`, or give the "
            "venv's python an AppArmor profile that allows userns, or use the container image",
        )
    if _sysctl("kernel/unprivileged_userns_clone") == "0":
        return (
            "this kernel keeps user namespaces for root (kernel.unprivileged_userns_clone=0)",
            "run `sudo sysctl -w kernel.unprivileged_userns_clone=1`, or start the server as root",
        )
    if _sysctl("user/max_user_namespaces") == "0":
        return (
            "user namespaces are turned off (user.max_user_namespaces=0)",
            "run `sudo sysctl -w user.max_user_namespaces=15000`, or start the server as root",
        )
    if Path("/.dockerenv").exists() or Path("/run/.containerenv").exists():
        return (
            "the container's security settings refuse the sandbox's namespaces and mounts",
            "start the container with the security options the README names (no --privileged)",
        )
    return (
        "the kernel refused to build the sandbox",
        "start the server as root, or allow unprivileged user namespaces",
    )


def _sysctl(name: str) -> str | None:
    try:
        return Path("/proc/sys", name).read_text().strip()
    except OSError:
        return None
