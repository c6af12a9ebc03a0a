"""A warm experiment-lab worker: torch, the data set and the training loop loaded once.

Started by the runner (app.runner.lab_pool), it enters the jail as an unprivileged user, then
answers JSON lines on stdin: each job is trained in a child forked from this warm process, so a
run pays neither for importing torch nor for the first optimizer, a cancel or a limit kills only
that child, and no run sees another's state. Events go out as JSON lines on stdout, each written
whole by one `os.write` (shorter than a pipe's atomic size), by the child while it trains and by
this process when the child has ended.
"""

from __future__ import annotations

import json
import os
import resource
import select
import selectors
import signal
import sys
import traceback
from dataclasses import asdict
from typing import Any

MEMORY_HEADROOM = 1 << 30  # a job may grow by 1 GiB beyond the warm worker


def emit(job: int, event: dict[str, Any]) -> None:
    """One event to the runner. A broken pipe: the runner is gone (killed), so there is no
    one to tell and nothing left to do; the process ends quietly instead of printing a
    traceback into the runner's log (the worker, PID 1 of its namespace, takes a job's child
    with it; a child must not run the parent's clean-up, hence `_exit`)."""
    try:
        os.write(1, (json.dumps({"job": job, **event}) + "\n").encode())
    except BrokenPipeError:
        os._exit(0)


def train_in_child(job: int, config_data: dict[str, Any], cpu_seconds: int) -> None:
    """The forked child: train, streaming each epoch, then exit without running any clean-up
    the parent owns."""
    from app.runner.syscalls import PR_SET_PDEATHSIG, prctl
    from app.training.config import LabConfig
    from app.training.loop import train

    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    try:
        config = LabConfig.model_validate(config_data)
        outcome = train(config, DATA, lambda epoch: emit(job, {"type": "epoch", **asdict(epoch)}))
        result = asdict(outcome)
        result.pop("epochs")  # already streamed one by one
        emit(job, {"type": "done", "outcome": result})
    except Exception as exc:  # reported to the learner; the worker lives on
        last = traceback.extract_tb(exc.__traceback__)[-1:]
        where = f" ({last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno})" if last else ""
        emit(job, {"type": "failed", "message": f"{type(exc).__name__}: {exc}{where}"[:2000]})
    os._exit(0)


def serve(cpu_seconds: int) -> None:
    """Train one job at a time; a {"kill": job} line stops the job's child. The runner cannot
    signal the child itself: the child's pid is one of this worker's own PID namespace."""
    lines = _Lines(0)
    while request := lines.next(block=True):
        if "job" not in request:
            continue  # a kill for a job that has already ended
        job = int(request["job"])
        pid = os.fork()
        if pid == 0:
            train_in_child(job, request["config"], cpu_seconds)
        emit(job, {"type": "started"})
        status = _wait_or_kill(pid, job, lines)
        ended = {"type": "ended", "exit_code": os.waitstatus_to_exitcode(status)}
        if os.WIFSIGNALED(status):
            ended["signal"] = signal.Signals(os.WTERMSIG(status)).name
        emit(job, ended)


def _wait_or_kill(pid: int, job: int, lines: _Lines) -> int:
    """Wait for the job's child to end, killing it if a kill for its job comes first."""
    exited = os.pidfd_open(pid)  # readable once the child has ended
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(exited, selectors.EVENT_READ)
            selector.register(lines.fd, selectors.EVENT_READ)
            while not any(key.fd == exited for key, _ in selector.select()):
                while (request := lines.next(block=False)) is not None:
                    if request.get("kill") == job:
                        os.kill(pid, signal.SIGKILL)
    finally:
        os.close(exited)
    return os.waitpid(pid, 0)[1]


class _Lines:
    """JSON lines from a descriptor, read without Python's buffering so select() sees them.
    At end of input (the runner is gone) the worker exits: as PID 1 of its namespace it takes
    a job's child with it."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buffer = fd, bytearray()

    def next(self, *, block: bool) -> dict[str, Any] | None:
        while b"\n" not in self.buffer:
            if not block and not select.select([self.fd], [], [], 0)[0]:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise SystemExit(0)
            self.buffer += chunk
        line, _, rest = self.buffer.partition(b"\n")
        self.buffer = bytearray(rest)
        return json.loads(line)  # type: ignore[no-any-return]


def main() -> None:
    """Warm up, enter the jail as an unprivileged user, then train jobs one at a time."""
    global DATA
    import torch

    from app.runner import jail
    from app.runner.playground import cap_memory
    from app.runner.zygote import build_seccomp, warm_up
    from app.training.config import LabConfig
    from app.training.dataset import make_data
    from app.training.loop import train

    mode, uid, cpu_seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    seccomp = build_seccomp()
    warm_up()
    torch.set_num_threads(1)  # one thread: as fast here, and jobs stay deterministic
    DATA = make_data()
    train(LabConfig(epochs=1), DATA)  # the default model for an epoch: pays for lazy imports once
    cap_memory(MEMORY_HEADROOM)
    jail.confine(mode, uid, seccomp)  # type: ignore[arg-type]
    sys.stdout.flush()
    os.write(1, (json.dumps({"event": "ready", "torch": torch.__version__}) + "\n").encode())
    serve(cpu_seconds)


DATA: Any = None

if __name__ == "__main__":
    main()
