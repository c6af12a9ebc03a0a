"""A sandboxed run's process, forked from a warm zygote (torch already imported).

It is forked straight into the namespaces of its slot's keeper (app.runner.keeper: PID 1, with
the slot's own /proc, and /tmp, /dev/shm and /code fresh for each run). It joins the slot's
cgroups, takes new network, IPC and UTS namespaces of its own (rootless: a user namespace of its
own too, so its process count is its own), gives up its privileges under rlimits and seccomp,
then waits for its request (made ahead, as a "spare", so a run only pays for running its code).
Learner code is never PID 1, which ignores signals it has no handler for. Everything here is
imported before the zygote enters its jail.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import resource
import signal
import sys
import traceback
from dataclasses import dataclass
from typing import Any, NoReturn

import torch

from app.runner import jail
from app.runner.cgroups import SlotGroups
from app.runner.keeper import close_all_but
from app.runner.limits import Limits
from app.runner.observe import execute
from app.runner.syscalls import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWUTS,
    PR_SET_PDEATHSIG,
    prctl,
    unshare,
)

CODE_FILE = f"{jail.CODE_DIR}/main.py"
RESULT_FD = 3
HARNESS_FAILED = 71
RUN_NICENESS = 5  # below the server's processes (see _yield_to_the_server)


@dataclass(frozen=True)
class SpareSpec:
    mode: jail.Mode
    ceiling: Limits  # what any run in this spare may use at most
    uid: int  # privileged: the slot's own unprivileged uid; rootless: ours, the only one mapped
    groups: SlotGroups | None
    seccomp: Any  # a pyseccomp.SyscallFilter, loaded in the learner process; or None
    # Pipe ends the learner keeps: the request it waits for, its stdout, stderr and result.
    request_r: int
    stdout_w: int
    stderr_w: int
    result_w: int


def learner(spec: SpareSpec) -> NoReturn:
    """A run's process, forked into its keeper's namespaces. Its exit code is the outcome."""
    try:
        signal.set_wakeup_fd(-1)  # the zygote's wake-up pipe and SIGCHLD handler are not ours
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()  # a kill(0, ...) from the run must not reach the zygote's group
        _yield_to_the_server()
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        # Keep only this run's descriptors: the zygote's control pipes and other runs' pipes
        # must not stay open here (another run would never see end-of-file).
        mine = {spec.request_r, spec.stdout_w, spec.stderr_w, spec.result_w}
        close_all_but(mine | set(spec.groups.descriptors() if spec.groups else ()))
        if spec.groups is not None:
            spec.groups.join(os.getpid())
        if spec.mode == "rootless":
            # RLIMIT_NPROC counts per user namespace: one of its own per run keeps a fork bomb
            # from using up the processes of every other run. Set before the limit is.
            jail.own_user_namespace()
        unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
    except BaseException:
        os._exit(70)
    _learn(spec)


def _yield_to_the_server() -> None:
    """Run below the app, the runner and the zygote, which hand runs out and answer for them:
    a flood of runs must not slow the next learner's request on its way in and out. With the
    kernel's autogroups (one per session, and each run has its own) that is the session's
    nice; elsewhere the process's."""
    os.nice(RUN_NICENESS)
    with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as group:
        group.write(str(RUN_NICENESS))  # (OSError: no autogroups here)


def _learn(spec: SpareSpec) -> NoReturn:
    try:
        address_base = _confine(spec)
        request = json.loads(_read_request())
        limits = Limits.model_validate(request["limits"]).within(spec.ceiling)
        _tighten(limits, address_base)
        _reseed()
        me = os.getpid()
        started = resource.getrusage(resource.RUSAGE_SELF)
        with open(CODE_FILE, "w", encoding="utf-8") as source:
            source.write(request["code"])  # a real file: inspect.getsource, torch.jit.script
        result = execute(request["code"], CODE_FILE, request.get("tests") or [])
        if os.getpid() != me:  # a process the code forked: only the learner reports
            os._exit(0)
        used = resource.getrusage(resource.RUSAGE_SELF)
        result["cpu_ms"] = round(
            (used.ru_utime + used.ru_stime - started.ru_utime - started.ru_stime) * 1000, 2
        )
        _flush_streams()
        _write_all(RESULT_FD, json.dumps(result).encode())
        for fd in (1, 2, RESULT_FD):  # the zygote answers on EOF, before this process is gone
            os.close(fd)
    except BaseException:  # the harness itself failed: say so on stderr
        with contextlib.suppress(BaseException):
            os.write(2, traceback.format_exc().encode())
        os._exit(HARNESS_FAILED)
    os._exit(0)


def _confine(spec: SpareSpec) -> int:
    """The run's descriptors, limits and privileges; the address space its limit counts from
    (0: the memory cgroup limits it instead)."""
    for source, target in (
        (spec.request_r, 0),
        (spec.stdout_w, 1),
        (spec.stderr_w, 2),
        (spec.result_w, RESULT_FD),
    ):
        os.dup2(source, target)
    os.closerange(RESULT_FD + 1, 1 << 16)
    address_base = _set_rlimits(spec.ceiling, cgroups=spec.groups is not None)
    jail.drop_privileges(spec.mode, spec.uid)
    if spec.seccomp is not None:
        spec.seccomp.load()
    os.environ.clear()
    os.environ.update(HOME="/tmp", PATH="/usr/bin:/bin", LANG="C.UTF-8")  # noqa: S108
    os.chdir("/tmp")  # noqa: S108 - the run's own tmpfs
    return address_base


def _read_request() -> bytes:
    chunks = []
    while chunk := os.read(0, 1 << 16):
        chunks.append(chunk)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)  # the code itself reads an empty stdin
    os.close(null)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    return b"".join(chunks)


def _set_rlimits(limits: Limits, *, cgroups: bool) -> int:
    # Without a memory cgroup: cap the address space at what the zygote already maps plus the
    # allowance (rougher: virtual, not resident, memory).
    address_base = 0 if cgroups else _vm_size()
    _tighten(limits, address_base)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return address_base


def _tighten(limits: Limits, address_base: int) -> None:
    """Limits for this run; an unprivileged process may lower its limits but never raise them."""
    if address_base:
        allowance = address_base + (limits.memory_mb << 20)
        resource.setrlimit(resource.RLIMIT_AS, (allowance, allowance))
    cpu = math.ceil(limits.cpu_seconds)
    # The soft limit sends SIGXCPU; the hard one, a second later, SIGKILL.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    size = limits.file_size_mb << 20
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))


def _reseed() -> None:
    """Every spare starts from the zygote's random state: give each run its own."""
    seed = int.from_bytes(os.urandom(8), "little")
    torch.default_generator.manual_seed(seed)  # torch.manual_seed also probes every accelerator
    random.seed(seed)


def _vm_size() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
