"""Lab jobs on warm lab workers: a queue of stated depth, of which one client address may
hold only a share, one active job per learner, events kept per job so any number of readers can
follow a job from its start, cancel, and limits.

A job's events, in order: `queued`, `started`, `epoch` (one per epoch), then exactly one final
event: `done` (with the outcome), `failed`, `stopped` (a limit ended it) or `cancelled`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from app.runner.errors import (
    AddressShareError,
    LearnerBusyError,
    QueueFullError,
    WorkerUnavailableError,
)
from app.runner.ratelimit import address_key
from app.runner.warm import WarmProcess

log = logging.getLogger("torchquiz.runner")

FINAL = frozenset({"done", "failed", "stopped", "cancelled"})
KEPT_JOBS = 512  # finished jobs whose events stay readable


@dataclass
class LabJob:
    id: int
    config: dict[str, Any]
    learner: str | None
    network: str | None  # the client address's bucket (app.runner.ratelimit.address_key)
    events: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    worker: _LabWorker | None = None  # set once the job has started
    cancel_requested: bool = False

    @property
    def finished(self) -> bool:
        return bool(self.events) and self.events[-1]["type"] in FINAL

    @property
    def waiting(self) -> bool:
        return self.worker is None and not self.finished

    def add(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self.changed.set()  # wakes every reader; each clears it for itself by index
        self.changed = asyncio.Event()


class _LabWorker(WarmProcess):
    module = "app.runner.lab_worker"

    def __init__(self, mode: str, uid: int, cpu_seconds: int) -> None:
        super().__init__(mode, str(uid), str(cpu_seconds))
        self.cpu_seconds = cpu_seconds

    async def run(self, job: LabJob, wall_seconds: float) -> None:
        """Train one job, adding its events; a limit or a cancel kills only the job's child."""
        assert self.process and self.process.stdin and self.process.stdout
        self.process.stdin.write(
            (json.dumps({"job": job.id, "config": job.config}) + "\n").encode()
        )
        final: dict[str, Any] | None = None
        timer: asyncio.TimerHandle | None = None
        while True:
            line = await self.process.stdout.readline()
            if not line:
                raise WorkerUnavailableError("the lab worker stopped")
            event = json.loads(line)
            kind = event.pop("type")
            event.pop("job", None)
            if kind == "started":
                job.worker = self
                timer = asyncio.get_running_loop().call_later(wall_seconds, self.kill, job)
                job.add({"type": "started"})
                if job.cancel_requested:
                    self.kill(job)
            elif kind == "ended":
                break
            elif kind in ("done", "failed"):
                final = {"type": kind, **event}
            else:
                job.add({"type": kind, **event})
        if timer:
            timer.cancel()
        job.add(final or self._why_it_ended(job, event, wall_seconds))

    def _why_it_ended(self, job: LabJob, ended: dict[str, Any], wall: float) -> dict[str, Any]:
        if job.cancel_requested:
            return {"type": "cancelled"}
        if ended.get("signal") == "SIGXCPU":
            return {"type": "stopped", "limit": f"stopped after {self.cpu_seconds} s of CPU time"}
        if ended.get("signal") == "SIGKILL":
            return {"type": "stopped", "limit": f"stopped after {wall:g} s of wall-clock time"}
        return {"type": "failed", "message": f"the training process ended ({ended})"}

    def kill(self, job: LabJob) -> None:
        """Stop the job's child (the worker kills it: the pid is one of its own namespace)."""
        if self.process and self.process.stdin and self.process.returncode is None:
            self.process.stdin.write((json.dumps({"kill": job.id}) + "\n").encode())


class LabPool:
    def __init__(
        self,
        *,
        workers: int,
        mode: str,
        uid_base: int,
        queue_depth: int = 8,
        queue_per_address: int = 4,
        cpu_seconds: int = 30,
        wall_seconds: float = 60.0,
        start_timeout: float = 120.0,
    ) -> None:
        self.queue_depth, self.wall_seconds = queue_depth, wall_seconds
        # One client (a script that drops its cookie: a new learner each time) must not take
        # every place: the others keep the rest of the queue.
        self.queue_per_address = queue_per_address
        self.start_timeout = start_timeout
        self._workers = [_LabWorker(mode, uid_base + i, cpu_seconds) for i in range(workers)]
        self._queue: asyncio.Queue[LabJob] = asyncio.Queue()
        self._jobs: OrderedDict[int, LabJob] = OrderedDict()
        # From a random start: a run whose app server died is taken over by another, which
        # follows its job by this id (app.lab.running); after a restart of this runner the id
        # must not name another learner's job. 2**30 places, within the column's integer.
        self._ids = itertools.count(secrets.randbelow(2**30) + 1)
        self._tasks: list[asyncio.Task[None]] = []
        self._trained: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

    async def start(self) -> None:
        async with asyncio.timeout(self.start_timeout):
            await asyncio.gather(*(worker.start() for worker in self._workers))
        self._tasks = [asyncio.create_task(self._serve(w)) for w in self._workers]

    def submit(
        self, config: dict[str, Any], learner: str | None, address: str | None = None
    ) -> LabJob:
        """Queue a job; or, if a job of the same config (seed included) has already trained
        here, replay its events at once: training is deterministic on one torch."""
        if learner and any(j.learner == learner and not j.finished for j in self._jobs.values()):
            raise LearnerBusyError("you already have a run in progress; wait for it or cancel it")
        network = address_key(address) if address else None
        trained = self._trained.get(_key(config))
        if trained is None:
            self._refuse_if_full(network)
        job = LabJob(next(self._ids), config, learner, network)
        job.add({"type": "queued", "position": 0 if trained else self._queue.qsize() + 1})
        self._jobs[job.id] = job
        while len(self._jobs) > KEPT_JOBS:
            self._jobs.popitem(last=False)
        if trained is not None:
            for event in trained:
                job.add(event)
        else:
            self._queue.put_nowait(job)
        return job

    def _refuse_if_full(self, network: str | None) -> None:
        """A place in the queue: refused when the address holds its share, or none is free."""
        held = sum(1 for j in self._jobs.values() if network and j.network == network and j.waiting)
        if network and held >= self.queue_per_address:
            raise AddressShareError(
                f"the lab queue holds at most {self.queue_per_address} waiting runs from one "
                f"network address, and yours has {held}; try again when one has started"
            )
        if self._queue.qsize() >= self.queue_depth:
            raise QueueFullError(retry_after=5.0)

    def _remember(self, job: LabJob) -> None:
        """A job that trained to the end: its events, for the next job of the same config."""
        if job.events[-1]["type"] == "done":
            self._trained[_key(job.config)] = job.events[1:]  # all but "queued"
            while len(self._trained) > KEPT_JOBS:
                self._trained.popitem(last=False)

    def job(self, job_id: int) -> LabJob | None:
        return self._jobs.get(job_id)

    def cancel(self, job: LabJob) -> None:
        if job.finished:
            return
        job.cancel_requested = True
        if job.worker is None and len(job.events) == 1:  # still queued: it never starts
            job.add({"type": "cancelled"})
        elif job.worker is not None:
            job.worker.kill(job)

    async def follow(self, job: LabJob, after: int = 0) -> AsyncIterator[dict[str, Any]]:
        """Every event of the job from index `after`, as they come, until the final one."""
        sent = after
        while True:
            changed = job.changed
            while sent < len(job.events):
                yield job.events[sent]
                sent += 1
            if job.finished:
                return
            await changed.wait()

    async def _serve(self, worker: _LabWorker) -> None:
        while True:
            job = await self._queue.get()
            if job.finished:  # cancelled while queued
                continue
            try:
                if not worker.alive():
                    await self._restart(worker)
                await worker.run(job, self.wall_seconds)
                self._remember(job)
            except (WorkerUnavailableError, OSError, ValueError) as exc:
                log.error("lab worker failed: %s", exc)
                worker.stop()
                if not job.finished:
                    job.add({"type": "failed", "message": "the lab worker stopped; try again"})

    async def _restart(self, worker: _LabWorker) -> None:
        async with asyncio.timeout(self.start_timeout):
            await worker.start()

    def status(self) -> dict[str, Any]:
        running = sum(1 for j in self._jobs.values() if j.worker and not j.finished)
        return {
            "workers": sum(w.alive() for w in self._workers),
            "running": running,
            "queued": self._queue.qsize(),
        }

    def ready(self) -> bool:
        return any(w.alive() for w in self._workers)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for worker in self._workers:
            worker.stop()
            await worker.wait()


def _key(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True)
