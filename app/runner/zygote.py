"""A warm worker: imports torch once, enters its jail, then forks one throwaway process per run.

Started by app.runner.pool with an (almost) empty environment: nothing secret may be in its
memory, which every run inherits. It speaks JSON lines: requests {"id", "code", "limits"} or
{"cancel": id} on stdin, results {"id", "result"} on stdout (before it, {"id", "output"} as the
run prints, if it asked to "stream"), and first {"event": "ready", ...}.
It keeps a few runs' processes made ahead of time ("spares", see app.runner.child), so a
request only pays for running its code. Single-threaded on purpose: forking a process that has
started torch's thread pool hangs the children.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gc
import json
import math
import os
import selectors
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import torch

from app.runner import jail, keeper
from app.runner.cgroups import SlotGroups, create_slots
from app.runner.child import HARNESS_FAILED, SpareSpec, learner
from app.runner.limits import Limits
from app.runner.syscalls import CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, setns

MAX_RESULT_BYTES = 1 << 20
OUTPUTS = ("stdout", "stderr", "result")
# Learner code may not rebuild a sandbox, watch other processes or reach kernel interfaces that
# containers commonly close (io_uring, bpf, keyrings, perf).
DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root",
    "chroot", "unshare", "setns", "keyctl", "add_key", "request_key", "bpf", "perf_event_open",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd", "kexec_load",
    "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff", "acct",
    "quotactl", "syslog", "open_by_handle_at", "name_to_handle_at", "sethostname",
    "setdomainname", "personality",
)  # fmt: skip


@dataclass
class Keeper:
    """PID 1 of a slot's namespaces (app.runner.keeper); ending it ends everything in them."""

    pid: int
    control: int  # our end of its socket: "c" asks it to clean up, it answers "!" or "x"
    namespaces: tuple[int, int]  # its mount and PID namespaces, to fork runs into


@dataclass
class Slot:
    index: int
    groups: SlotGroups | None
    keeper: Keeper | None = None  # kept from run to run while it cleans up after each
    # free -> spare -> running -> draining (answered) -> cleaning -> free; "ending": the
    # keeper is being killed (something survived its clean-up), the slot gets a new one.
    state: str = "free"
    pid: int = 0  # the run's process (seen from the zygote)
    request_w: int = -1
    fds: dict[str, int] = field(default_factory=dict)  # open read ends, by stream
    data: dict[str, bytearray] = field(default_factory=dict)
    truncated: set[str] = field(default_factory=set)
    run_id: str = ""
    limits: Limits | None = None
    started: float = 0.0
    deadline: float = 0.0
    memory_events: int = 0
    killed: str | None = None  # why we killed it: "wall" or "output"
    exit_code: int | None = None
    cpu_seconds: float = 0.0
    answered: bool = False
    stream: bool = False  # forward stdout as it comes, as {"id", "output"} messages

    def reset(self) -> None:
        """Forget the last run (a slot object lives as long as the zygote)."""
        fresh = Slot(self.index, self.groups, self.keeper)
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))


def build_seccomp() -> Any:
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError):  # no libseccomp on this machine: namespaces and rlimits only
        return None
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        with contextlib.suppress(OSError, ValueError, RuntimeError):  # unknown to this kernel
            rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
    new_user = seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER)
    rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone", new_user)
    # clone3's flags sit in memory a filter cannot read: make libc fall back to clone.
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    return rules


def warm_up() -> None:
    """Pay the one-time costs here, not in every run: kernels, autograd, the optimizer import.
    The lab's data and training loop are imported too: the jail has no app files, so a run
    can only import modules that are already loaded (a learner's lab model needs these)."""
    import app.training.dataset
    import app.training.loop  # noqa: F401 - loaded for the runs, see above

    torch.set_num_threads(1)
    model = torch.nn.LSTM(4, 8, num_layers=2, batch_first=True, bidirectional=True)
    torch.nn.GRU(4, 8)(torch.randn(3, 2, 4))
    torch.nn.RNN(4, 8)(torch.randn(3, 2, 4))
    lengths = torch.tensor([3, 2])
    model(torch.nn.utils.rnn.pack_padded_sequence(torch.randn(2, 3, 4), lengths, True))
    out, _ = model(torch.randn(2, 3, 4))
    out.sum().backward()
    torch.optim.Adam(model.parameters()).step()
    torch.nn.functional.cross_entropy(torch.randn(2, 5), torch.tensor([1, 2])).item()


def threads_in_this_process() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


class Zygote:
    def __init__(
        self, *, mode: jail.Mode, name: str, slots: int, spares: int, uid_base: int, ceiling: Limits
    ) -> None:
        self.mode = mode
        self.uid_base = uid_base
        self.ceiling = ceiling
        self.target_spares = spares
        groups = create_slots(name, slots)
        self.has_cgroups = groups is not None
        self.slots = [Slot(i, groups[i] if groups else None) for i in range(slots)]
        self.seccomp = build_seccomp()
        self.hidden = jail.hidden_python_dirs()  # seen before the jail; each run binds them
        warm_up()
        jail.enter(mode)  # from here on, PID 1 of our own namespace: our death ends every run
        self.home = (
            os.open("/proc/self/ns/mnt", os.O_RDONLY),
            os.open("/proc/self/ns/pid", os.O_RDONLY),
        )
        gc.collect()
        gc.freeze()  # pages stay shared with every run instead of being touched by refcounts
        self.waiting: deque[dict[str, Any]] = deque()
        self.by_pid: dict[int, Slot] = {}  # runs' processes
        self.keepers: dict[int, Slot] = {}  # by the keeper's pid
        self.selector = selectors.DefaultSelector()
        self.inbox = bytearray()

    def describe(self) -> dict[str, Any]:
        return {
            "event": "ready",
            "mode": self.mode,
            "torch": torch.__version__,
            "cgroups": self.has_cgroups,
            "seccomp": self.seccomp is not None,
            "slots": len(self.slots),
        }

    def serve(self) -> None:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.selector.register(wake_r, selectors.EVENT_READ, "wake")
        self.selector.register(0, selectors.EVENT_READ, "inbox")
        self._refill()
        self._send(self.describe())
        while True:
            for key, _ in self.selector.select(self._timeout()):
                if key.data == "wake":
                    os.read(wake_r, 4096)
                elif key.data == "inbox":
                    self._read_inbox()
                elif key.data[1] == "keeper":
                    self._cleaned(self.slots[key.data[0]])
                else:
                    self._read_stream(*key.data)
            self._reap()
            self._enforce_deadlines()
            self._dispatch()
            self._refill()

    # --- requests in, results out ---

    def _read_inbox(self) -> None:
        chunk = os.read(0, 1 << 20)
        if not chunk:
            self._shutdown()
        self.inbox += chunk
        while b"\n" in self.inbox:
            line, _, rest = self.inbox.partition(b"\n")
            self.inbox = bytearray(rest)
            message = json.loads(line)
            if "cancel" in message:
                self._cancel(message["cancel"])
            else:
                self.waiting.append(message)

    def _cancel(self, run_id: str) -> None:
        """Stop a run: killed if it is running, answered at once if it has not started."""
        for slot in self.slots:
            if slot.state == "running" and slot.run_id == run_id:
                self._kill(slot, "cancelled")
        for request in [r for r in self.waiting if r["id"] == run_id]:
            self.waiting.remove(request)
            self._send({"id": run_id, "error": "cancelled before it started"})

    def _send(self, message: dict[str, Any]) -> None:
        view = memoryview((json.dumps(message) + "\n").encode())
        while view:
            view = view[os.write(1, view) :]

    def _shutdown(self) -> None:
        os._exit(0)  # as PID 1 of our namespace: the kernel kills every run and keeper with us

    # --- spares: a run's processes, made before a request needs them ---

    def _refill(self) -> None:
        spares = sum(s.state == "spare" for s in self.slots)
        for slot in self.slots:
            if spares >= self.target_spares + len(self.waiting):
                return
            if slot.state == "free":
                try:
                    self._make_spare(slot)
                except OSError as exc:
                    self._end_keeper(slot)
                    slot.state = "broken"  # never retried in a loop; the pool restarts us
                    self._send({"event": "slot_broken", "slot": slot.index, "error": str(exc)})
                    continue
                spares += 1

    def _make_spare(self, slot: Slot) -> None:
        """The run's process, forked into the slot's namespaces (and a keeper for them, if
        the slot has none), waiting for its request."""
        if threads_in_this_process() != 1:
            raise OSError(errno.EAGAIN, "the warm worker has started threads; refusing to fork")
        slot.reset()
        if slot.keeper is None:
            self._start_keeper(slot)
        assert slot.keeper is not None
        request_r, request_w = os.pipe()
        pipes = {name: os.pipe() for name in OUTPUTS}
        spec = SpareSpec(
            mode=self.mode,
            ceiling=self.ceiling,
            uid=self.uid_base + slot.index if self.mode == "privileged" else os.getuid(),
            groups=slot.groups,
            seccomp=self.seccomp,
            request_r=request_r,
            stdout_w=pipes["stdout"][1],
            stderr_w=pipes["stderr"][1],
            result_w=pipes["result"][1],
        )
        if slot.groups is not None:
            slot.groups.configure(
                memory_bytes=self.ceiling.memory_mb << 20, processes=self.ceiling.processes
            )
        try:
            self._enter(*slot.keeper.namespaces)
            pid = os.fork()  # into the slot's namespaces, below its keeper
            if pid == 0:
                learner(spec)
        except OSError:
            for fd in (request_w, *(read_end for read_end, _ in pipes.values())):
                os.close(fd)
            raise
        finally:
            self._enter(*self.home)
            os.close(request_r)
            for _, write_end in pipes.values():
                os.close(write_end)
        slot.state, slot.pid, slot.request_w = "spare", pid, request_w
        for name, (read_end, _) in pipes.items():
            os.set_blocking(read_end, False)
            slot.fds[name] = read_end
            slot.data[name] = bytearray()
            self.selector.register(read_end, selectors.EVENT_READ, (slot.index, name))
        self.by_pid[pid] = slot

    def _start_keeper(self, slot: Slot) -> None:
        """A keeper as PID 1 of new mount and PID namespaces, ready once it says so."""
        # Opened before the keeper exists: once it mounts its namespace's /proc over ours (a
        # race we can lose on a busy machine), our /proc/self no longer resolves.
        links = os.open("/proc/self/ns", os.O_RDONLY | os.O_DIRECTORY)
        try:
            pid, ours = keeper.spawn(self.ceiling.tmp_size_mb, self.hidden)
            # Ours for now (the new PID namespace's link resolves once it has a process), so
            # we can come back; the keeper's own /proc files are closed to us (not dumpable).
            namespaces = (
                os.open("mnt", os.O_RDONLY, dir_fd=links),
                os.open("pid_for_children", os.O_RDONLY, dir_fd=links),
            )
        finally:
            os.close(links)
            self._enter(*self.home)
        self.keepers[pid] = slot
        slot.keeper = Keeper(pid, ours.detach(), namespaces)
        if os.read(slot.keeper.control, 1) != keeper.CLEANED:  # it mounted /proc and /tmp
            self._end_keeper(slot)
            raise OSError(errno.EIO, "the slot's keeper could not mount its /proc and /tmp")
        self.selector.register(slot.keeper.control, selectors.EVENT_READ, (slot.index, "keeper"))

    @staticmethod
    def _enter(mount_ns: int, pid_ns: int) -> None:
        """Step into a mount namespace; children forked from now on start in `pid_ns`."""
        setns(mount_ns, CLONE_NEWNS)
        setns(pid_ns, CLONE_NEWPID)

    # --- runs ---

    def _dispatch(self) -> None:
        while self.waiting:
            slot = next((s for s in self.slots if s.state == "spare"), None)
            if slot is None:
                return
            self._start(slot, self.waiting.popleft())

    def _start(self, slot: Slot, request: dict[str, Any]) -> None:
        limits = Limits.model_validate(request["limits"]).within(self.ceiling)
        if slot.groups is not None:
            slot.groups.configure(memory_bytes=limits.memory_mb << 20, processes=limits.processes)
            slot.memory_events = slot.groups.memory_events()
        now = time.monotonic()
        slot.state, slot.run_id, slot.limits = "running", request["id"], limits
        slot.stream = bool(request.get("stream"))
        slot.started, slot.deadline = now, now + limits.wall_seconds
        message = json.dumps(
            {"code": request["code"], "tests": request.get("tests"), "limits": limits.model_dump()}
        ).encode()
        try:
            view = memoryview(message)
            while view:  # the learner reads until EOF; requests are small (code <= 64 KiB)
                view = view[os.write(slot.request_w, view) :]
        except BrokenPipeError:
            pass  # the spare died; its exit is reported like any other
        finally:
            os.close(slot.request_w)
            slot.request_w = -1

    def _read_stream(self, index: int, name: str) -> None:
        slot = self.slots[index]
        fd = slot.fds[name]
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            if slot.exit_code is None:
                return
            chunk = b""  # nothing left from a process tree that has exited
        if not chunk:
            self.selector.unregister(fd)
            os.close(fd)
            del slot.fds[name]
            self._answer_if_ready(slot)
            return
        limits = slot.limits or self.ceiling
        cap = MAX_RESULT_BYTES if name == "result" else limits.output_bytes
        room = cap - len(slot.data[name])
        kept = chunk[: max(room, 0)]
        slot.data[name] += kept
        if slot.stream and name == "stdout" and kept:
            self._send({"id": slot.run_id, "output": kept.decode("utf-8", "replace")})
        if len(chunk) > room:
            slot.truncated.add(name)
            if name in ("stdout", "stderr"):
                self._kill(slot, "output")

    def _reap(self) -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if slot := self.keepers.pop(pid, None):
                self._keeper_gone(slot)
                continue
            slot = self.by_pid.pop(pid, None)
            if slot is None:
                continue
            slot.exit_code = os.waitstatus_to_exitcode(status)
            slot.cpu_seconds = usage.ru_utime + usage.ru_stime
            self._drain(slot)
            self._answer_if_ready(slot)
            self._end(slot)

    def _drain(self, slot: Slot) -> None:
        """Everything of the run is gone, so its pipes hold their last bytes and then EOF."""
        for name in list(slot.fds):
            while name in slot.fds:
                self._read_stream(slot.index, name)

    def _timeout(self) -> float | None:
        if self.waiting and any(s.state == "spare" for s in self.slots):
            # A spare made at the end of the last pass, for a request that is waiting: take it
            # now, not when the longest run (a minute of lab code) reaches its deadline.
            return 0.0
        pending = [s.deadline for s in self.slots if s.state == "running" and not s.killed]
        if not pending:
            return None if not self.waiting else 0.01
        return max(0.0, min(pending) - time.monotonic())

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.state == "running" and not slot.killed and now >= slot.deadline:
                self._kill(slot, "wall")

    def _kill(self, slot: Slot, reason: str) -> None:
        """Stop the run's process; its keeper ends whatever else it started."""
        slot.killed = slot.killed or reason
        if slot.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(slot.pid, signal.SIGKILL)

    def _answer_if_ready(self, slot: Slot) -> None:
        """Answer as soon as the outputs are complete: a clean run's result says all there is
        to say, so only a run that ended without one waits for its exit status."""
        if slot.state != "running" or slot.answered or any(n in slot.fds for n in OUTPUTS):
            return
        report = _parse_report(slot)
        if report is None and slot.exit_code is None:
            return
        slot.answered = True
        oom = bool(slot.groups and slot.groups.memory_events() > slot.memory_events)
        self._send({"id": slot.run_id, "result": outcome(slot, report, oom=oom)})
        slot.state = "draining"

    def _end(self, slot: Slot) -> None:
        """The run's process is gone: close its pipes, and have its keeper end whatever it
        left behind."""
        if slot.state == "spare":
            self._send({"event": "spare_failed", "error": f"exit code {slot.exit_code}"})
        for fd in list(slot.fds.values()):
            self.selector.unregister(fd)
            os.close(fd)
        slot.fds.clear()
        if slot.request_w >= 0:
            os.close(slot.request_w)
            slot.request_w = -1
        slot.state, slot.pid = "cleaning", 0
        if slot.keeper is None:
            slot.state = "free"  # its keeper died first, taking everything with it
            return
        try:
            os.write(slot.keeper.control, keeper.CLEAN)
        except OSError:
            self._end_keeper(slot)

    def _cleaned(self, slot: Slot) -> None:
        """The keeper's answer: reuse the slot only if nothing of the run survived (and its
        cgroups agree); else end the keeper, and with it its namespace."""
        assert slot.keeper is not None
        answer = os.read(slot.keeper.control, 1)
        survivors = bool(slot.groups and slot.groups.members())
        if answer == keeper.CLEANED and not survivors and slot.state == "cleaning":
            slot.state = "free"
            return
        self._send({"event": "slot_survivors", "slot": slot.index})
        self._end_keeper(slot)

    def _end_keeper(self, slot: Slot) -> None:
        """Kill the keeper: the kernel ends every process of its namespace before it can be
        reaped (_keeper_gone)."""
        if slot.keeper is None:
            return
        with contextlib.suppress(KeyError):  # not watched yet if it failed to start
            self.selector.unregister(slot.keeper.control)
        with contextlib.suppress(ProcessLookupError):
            os.kill(slot.keeper.pid, signal.SIGKILL)
        if slot.state in ("cleaning", "free"):
            slot.state = "ending"

    def _keeper_gone(self, slot: Slot) -> None:
        assert slot.keeper is not None
        for fd in (slot.keeper.control, *slot.keeper.namespaces):
            os.close(fd)
        slot.keeper = None
        if slot.state == "ending":
            slot.state = "free"  # the next spare gets a new keeper


def _parse_report(slot: Slot) -> dict[str, Any] | None:
    if not slot.data.get("result") or "result" in slot.truncated:
        return None
    try:
        report = json.loads(slot.data["result"])
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


def outcome(slot: Slot, report: dict[str, Any] | None, *, oom: bool) -> dict[str, Any]:
    """The run's result, in the shape of app.runner.protocol.RunResult."""
    limit = _limit_hit(slot, oom=oom) if report is None or slot.killed else None
    report = report or {}
    exception = report.get("exception")
    if limit is None and exception and exception["type"] == "MemoryError":
        # Without a memory cgroup (rootless) the limit is the address space: Python raises.
        limit = _memory_limit(slot.limits or Limits())
    return {
        # Finished means to the end, or to sys.exit(0): any other exit code is a failure.
        "ok": limit is None and not exception and bool(report) and not report.get("exit_code"),
        "stdout": slot.data["stdout"].decode("utf-8", errors="replace"),
        "stderr": slot.data["stderr"].decode("utf-8", errors="replace"),
        "stdout_truncated": "stdout" in slot.truncated,
        "stderr_truncated": "stderr" in slot.truncated,
        "exception": exception,
        "exit_code": report.get("exit_code"),
        "tensors": report.get("tensors", []),
        "values": report.get("values", {}),
        "warnings": report.get("warnings", []),
        "tests": report.get("tests", []),
        "limit": limit,
        "elapsed_ms": round((time.monotonic() - slot.started) * 1000, 2),
        "cpu_ms": report.get("cpu_ms", round(slot.cpu_seconds * 1000, 2)),
        "torch_version": torch.__version__,
    }


def _limit_hit(slot: Slot, *, oom: bool) -> dict[str, str]:
    limits = slot.limits or Limits()
    code = slot.exit_code or 0
    signal_number = -code if code < 0 else 0
    if slot.killed == "wall":
        return {
            "name": "wall",
            "message": f"stopped after {limits.wall_seconds:g} s (wall-clock limit)",
        }
    if slot.killed == "cancelled":
        return {"name": "cancelled", "message": "cancelled"}
    if slot.killed == "output":
        size = _size(limits.output_bytes)
        return {"name": "output", "message": f"stopped: printed more than {size} (output limit)"}
    out_of_cpu = slot.cpu_seconds >= min(limits.cpu_seconds, math.ceil(limits.cpu_seconds)) - 0.05
    if signal_number == signal.SIGXCPU or (signal_number == signal.SIGKILL and out_of_cpu):
        return {"name": "cpu", "message": f"stopped after {limits.cpu_seconds:g} s of CPU time"}
    if oom:
        return _memory_limit(limits)
    if signal_number:
        name = signal.Signals(signal_number).name
        return {"name": "crash", "message": f"the process was ended by a signal ({name})"}
    if code == HARNESS_FAILED:
        return {"name": "crash", "message": "the code broke Python's own machinery; see stderr"}
    return {"name": "exit", "message": f"the code ended the process itself (exit code {code})"}


def _memory_limit(limits: Limits) -> dict[str, str]:
    return {"name": "memory", "message": f"ran out of memory at {_size(limits.memory_mb << 20)}"}


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} bytes"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["privileged", "rootless"], required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--spares", type=int, default=2)
    parser.add_argument("--uid-base", type=int, default=60000)
    parser.add_argument("--ceiling", default="{}", help="Limits as JSON: the most a run may use")
    args = parser.parse_args()
    try:
        zygote = Zygote(
            mode=args.mode,
            name=args.name,
            slots=args.slots,
            spares=args.spares,
            uid_base=args.uid_base,
            ceiling=Limits.model_validate_json(args.ceiling),
        )
    except OSError as exc:
        sys.stdout.write(json.dumps({"event": "failed", "error": str(exc)}) + "\n")
        sys.stdout.flush()
        sys.exit(1)
    zygote.serve()


if __name__ == "__main__":
    main()
