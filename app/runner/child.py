"""The processes of the sandbox, forked from a warm zygote (torch already imported).

Each slot of a zygote has a keeper: PID 1 of the slot's own PID namespace, in the slot's own
mount namespace (fresh /proc, /tmp and /dev/shm). A run is one process forked from the zygote
straight into those namespaces: it joins the slot's cgroups, takes new network, IPC and UTS
namespaces of its own, drops to an unprivileged uid under rlimits and seccomp, then waits for
its request (made ahead, as a "spare", so a run only pays for running its code). Between runs
the zygote kills whatever the last one left and gives the slot an empty /tmp. Learner code is
never PID 1, which ignores signals it has no handler for. Everything here is imported before
the zygote enters its jail.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import math
import os
import random
import resource
import signal
import sys
import traceback
import warnings
from dataclasses import dataclass
from typing import Any, NoReturn

import torch

from app.runner.cgroups import SlotGroups
from app.runner.limits import Limits
from app.runner.syscalls import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWUTS,
    MNT_DETACH,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_PDEATHSIG,
    mount,
    prctl,
    umount,
    unshare,
)

SNIPPET = "<snippet>"
MAX_REPORTED = 100  # variables reported back
RESULT_FD = 3
HARNESS_FAILED = 71
SCRATCH = ("/tmp", "/dev/shm")  # noqa: S108 - each slot's own, emptied between runs


@dataclass(frozen=True)
class SpareSpec:
    ceiling: Limits  # what any run in this spare may use at most
    uid: int
    groups: SlotGroups | None
    seccomp: Any  # a pyseccomp.SyscallFilter, loaded in the learner process; or None
    # Pipe ends the learner keeps: the request it waits for, its stdout, stderr and result.
    request_r: int
    stdout_w: int
    stderr_w: int
    result_w: int


def keep_slot(tmp_size_mb: int) -> NoReturn:
    """The keeper: PID 1 of a slot. Mounts the slot's /proc and scratch space, then reaps."""
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        signal.set_wakeup_fd(-1)
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # so pause() wakes up to reap orphans
        _close_all_but({0})
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        fresh_scratch(tmp_size_mb)
        os.write(0, b"!")  # tell the zygote the slot is ready (fd 0 is its pipe)
        os.close(0)
    except BaseException:
        os._exit(70)
    while True:
        try:
            os.wait()  # orphans of runs: a zombie still counts against its user's processes
        except ChildProcessError:
            signal.pause()


def fresh_scratch(tmp_size_mb: int) -> None:
    """Empty /tmp and /dev/shm: detach the last run's and mount new ones."""
    for point in SCRATCH:
        with contextlib.suppress(OSError):
            umount(point, MNT_DETACH)
        mount("tmpfs", point, "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_size_mb}m,mode=1777")


def learner(spec: SpareSpec) -> NoReturn:
    """A run's process, forked into its slot's namespaces. Its exit code is the outcome."""
    try:
        signal.set_wakeup_fd(-1)  # the zygote's wake-up pipe and SIGCHLD handler are not ours
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()  # a kill(0, ...) from the run must not reach the zygote's group
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        # Keep only this run's descriptors: the zygote's control pipes and other runs' pipes
        # must not stay open here (another run would never see end-of-file).
        mine = {spec.request_r, spec.stdout_w, spec.stderr_w, spec.result_w}
        _close_all_but(mine | set(spec.groups.descriptors() if spec.groups else ()))
        if spec.groups is not None:
            spec.groups.join(os.getpid())
        unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
    except BaseException:
        os._exit(70)
    _learn(spec)


def _close_all_but(keep: set[int]) -> None:
    low = 0
    for fd in sorted(keep):
        if low < fd:  # os.closerange(n, n) closes everything from n on (close_range(n, n-1))
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 16)


def _learn(spec: SpareSpec) -> NoReturn:
    try:
        _confine(spec)
        request = json.loads(_read_request())
        limits = Limits.model_validate(request["limits"]).within(spec.ceiling)
        _tighten(limits)
        _reseed()
        me = os.getpid()
        started = resource.getrusage(resource.RUSAGE_SELF)
        result = execute(request["code"], request.get("tests") or [])
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


def _confine(spec: SpareSpec) -> None:
    for source, target in (
        (spec.request_r, 0),
        (spec.stdout_w, 1),
        (spec.stderr_w, 2),
        (spec.result_w, RESULT_FD),
    ):
        os.dup2(source, target)
    os.closerange(RESULT_FD + 1, 1 << 16)
    _set_rlimits(spec.ceiling, cgroups=spec.groups is not None)
    os.setgroups([])
    os.setresgid(spec.uid, spec.uid, spec.uid)
    os.setresuid(spec.uid, spec.uid, spec.uid)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    if spec.seccomp is not None:
        spec.seccomp.load()
    os.environ.clear()
    os.environ.update(HOME="/tmp", PATH="/usr/bin:/bin", LANG="C.UTF-8")  # noqa: S108
    os.chdir("/tmp")  # noqa: S108 - the run's own tmpfs


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


def _set_rlimits(limits: Limits, *, cgroups: bool) -> None:
    _tighten(limits)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if not cgroups:
        # Without a memory cgroup: cap the address space at what the zygote already maps plus
        # the allowance (rougher: virtual, not resident, memory).
        allowance = _vm_size() + (limits.memory_mb << 20)
        resource.setrlimit(resource.RLIMIT_AS, (allowance, allowance))


def _tighten(limits: Limits) -> None:
    """Limits for this run; an unprivileged process may lower its limits but never raise them."""
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


# --- what the learner process runs, and what it reports back ---


def execute(code: str, tests: list[dict[str, str]]) -> dict[str, Any]:
    """Run `code` and describe what it left: tensors, plain values, the exception, warnings;
    then each test, in a copy of the code's namespace."""
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    report = _observe(code, namespace, SNIPPET)
    if report["exception"] is None and report["exit_code"] is None:
        report["tests"] = [
            {"name": test["name"], **_observe(test["code"], dict(namespace), "<test>")}
            for test in tests
        ]
    return report


def _observe(code: str, namespace: dict[str, Any], filename: str) -> dict[str, Any]:
    exception = None
    exit_code = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            exec(compile(code, filename, "exec"), namespace)  # noqa: S102 - this is the sandbox
        except SystemExit as exc:
            exit_code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:  # every exception is part of what torch "really did"
            exception = describe_exception(exc, code, filename)
    return {
        "exception": exception,
        "exit_code": exit_code,
        "tensors": _tensors(namespace),
        "values": _values(namespace),
        "warnings": [_describe_warning(w) for w in caught[:MAX_REPORTED]],
    }


def describe_exception(exc: BaseException, code: str, filename: str = SNIPPET) -> dict[str, Any]:
    lines = code.splitlines()
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    if isinstance(exc, SyntaxError) and exc.filename == filename and exc.lineno:
        frames = []  # a syntax error has no frame in the code; its line is on the exception
    shown = []
    for frame in frames:
        lineno = frame.lineno or 0
        text = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
        shown.append(f"  line {lineno}, in {frame.name}\n    {text}")
    # A syntax error's str() repeats the file and line, which the result already carries.
    message = (exc.msg if isinstance(exc, SyntaxError) else str(exc))[:4000]
    header = "Traceback (your code):\n" if shown else ""
    return {
        "type": type(exc).__name__,
        "classes": [cls.__name__ for cls in type(exc).__mro__],
        "message": message,
        "traceback": header + "\n".join(shown) + f"\n{type(exc).__name__}: {message}",
        "line": frames[-1].lineno if frames else getattr(exc, "lineno", None),
    }


def _describe_warning(w: warnings.WarningMessage) -> dict[str, Any]:
    return {
        "category": w.category.__name__,
        "classes": [cls.__name__ for cls in w.category.__mro__],
        "message": str(w.message)[:1000],
    }


def _public(namespace: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in namespace.items() if not k.startswith("_")]


def _tensors(namespace: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for name, value in _public(namespace):
        if isinstance(value, torch.Tensor):
            dtype = str(value.dtype).removeprefix("torch.")
            found.append({"name": name, "shape": list(value.shape), "dtype": dtype})
    return found[:MAX_REPORTED]


def _values(namespace: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in _public(namespace):
        if isinstance(value, torch.Tensor) and value.ndim == 0:
            value = value.item()
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 1 << 63:
            value = "an integer too large to show"
        if isinstance(value, float) and not math.isfinite(value):
            value = str(value)
        if isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= 200):
            values[name] = value
        if len(values) >= MAX_REPORTED:
            break
    return values
