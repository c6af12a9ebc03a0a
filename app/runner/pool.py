"""Warm zygotes, run from asyncio: start them, hand them runs, restart any that dies.

A bounded number of runs execute at once (the machine's cores by default); a bounded queue
waits behind them; beyond that a run is refused at once with a retry hint, so a flood of
snippets never piles up unbounded work or blocks page requests. Learners' lab models
(`lab_code`, up to a minute each) have a lane of their own with its own bounds
(app.runner.lanes), so they never take a snippet's place. A run cancelled while it waits for
its turn leaves its lane's queue at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.core.config import PROJECT_DIR
from app.runner.cgroups import remove_slots
from app.runner.errors import QueueFullError, WorkerUnavailableError
from app.runner.jail import Mode
from app.runner.lanes import LONG_KINDS, Lane, Place, WithdrawnError
from app.runner.limits import CEILING, Limits, RunKind
from app.runner.protocol import LimitHit, RunResult

log = logging.getLogger("torchquiz.runner")
# The zygote's whole environment: every run inherits its memory, so nothing else goes in.
ZYGOTE_ENV = {
    "PATH": "/usr/bin:/bin",
    "OMP_NUM_THREADS": "1",  # one thread, so forks stay safe (see app.runner.zygote)
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


@dataclass
class PoolConfig:
    mode: Mode = "privileged"  # which sandbox to build (app.runner.sandbox detects it)
    zygotes: int = 1
    slots: int = 0  # per zygote: runs in flight, including ones tearing down (0: enough)
    spares: int = 2  # per zygote: runs' processes made ahead of time
    # Snippets, checks and code tests at once, and waiting; lab_code never takes these.
    parallel: int = field(default_factory=lambda: os.cpu_count() or 1)
    queue_depth: int = 32
    # Learners' lab models (kind lab_code) at once, on top of `parallel`, and waiting.
    lab_code_parallel: int = 1
    lab_code_queue_depth: int = 4
    ceiling: Limits = field(default_factory=lambda: CEILING)
    uid_base: int = 60000
    start_timeout: float = 120.0
    playground_workers: int = 2  # warm Shape playground processes (no learner code)
    lab_workers: int = 1  # warm experiment-lab trainers, one job each at a time
    lab_queue_depth: int = 8
    lab_queue_per_address: int = 4  # waiting lab jobs one client address may hold
    lab_cpu_seconds: int = 30
    lab_wall_seconds: float = 60.0

    def __post_init__(self) -> None:
        """Every lane's runs fit in the zygotes' slots; by default with room for the spares
        too, so that a run never waits for one to be made while every lane is busy."""
        if not self.slots:
            wanted = self.parallel + self.lab_code_parallel
            self.slots = max(4, -(-wanted // self.zygotes) + self.spares)
        if self.zygotes * self.slots < self.parallel + self.lab_code_parallel:
            raise ValueError(
                f"{self.zygotes} zygote(s) of {self.slots} slots cannot hold {self.parallel} "
                f"runs and {self.lab_code_parallel} lab code run(s) at once: raise the slots "
                "(TORCHQUIZ_RUNNER_SLOTS)"
            )

    def playground_uid_base(self) -> int:
        """The first uid after every zygote's slots."""
        return self.uid_base + self.zygotes * self.slots

    def lab_uid_base(self) -> int:
        return self.playground_uid_base() + self.playground_workers


class _Zygote:
    def __init__(self, index: int, name: str) -> None:
        self.index = index
        self.name = name
        self.process: asyncio.subprocess.Process | None = None
        self.ready: asyncio.Future[dict[str, Any]] | None = None
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.reader: asyncio.Task[None] | None = None
        self.info: dict[str, Any] = {}


class ZygotePool:
    def __init__(self, config: PoolConfig) -> None:
        self.config = config
        self._ids = itertools.count()
        # Runs started with a handle: waiting for their turn (their place in the lane's queue),
        # then running (where).
        self._waiting: dict[str, tuple[Lane, Place]] = {}
        self._running: dict[str, tuple[_Zygote, str]] = {}
        self._cancelled: set[str] = set()  # cancelled once granted a place, before they ran
        self._listeners: dict[str, Callable[[str], None]] = {}  # streamed output, by run
        self._zygotes = [_Zygote(i, f"{os.getpid()}-{i}") for i in range(config.zygotes)]
        self._short = Lane(parallel=config.parallel, depth=config.queue_depth, typical_ms=1000)
        self._long = Lane(
            parallel=config.lab_code_parallel, depth=config.lab_code_queue_depth, typical_ms=30_000
        )
        self._closing = False

    async def start(self) -> None:
        await asyncio.gather(*(self._spawn(z) for z in self._zygotes))

    async def _spawn(self, zygote: _Zygote) -> None:
        cfg = self.config
        zygote.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app.runner.zygote",
            "--mode",
            cfg.mode,
            "--name",
            zygote.name,
            "--slots",
            str(cfg.slots),
            "--spares",
            str(cfg.spares),
            "--uid-base",
            str(cfg.uid_base + zygote.index * cfg.slots),
            "--ceiling",
            cfg.ceiling.model_dump_json(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=ZYGOTE_ENV,
            cwd=PROJECT_DIR,
            limit=1 << 24,
        )
        zygote.ready = asyncio.get_running_loop().create_future()
        zygote.reader = asyncio.create_task(self._read(zygote))
        zygote.info = await asyncio.wait_for(zygote.ready, cfg.start_timeout)

    async def _read(self, zygote: _Zygote) -> None:
        assert zygote.process and zygote.process.stdout and zygote.ready
        async for line in zygote.process.stdout:
            message = json.loads(line)
            if "output" in message:
                if listener := self._listeners.get(message["id"]):
                    listener(message["output"])
            elif "id" in message:
                future = zygote.pending.pop(message["id"], None)
                if future and not future.done():
                    future.set_result(message)
            elif message.get("event") == "ready":
                zygote.ready.set_result(message)
            elif message.get("event") == "failed":
                zygote.ready.set_exception(WorkerUnavailableError(message["error"]))
            else:
                log.warning("zygote %s: %s", zygote.name, message)
        await self._lost(zygote)

    async def _lost(self, zygote: _Zygote) -> None:
        """The zygote died: fail its runs, and start a new one unless we are closing."""
        for future in zygote.pending.values():
            if not future.done():
                future.set_exception(WorkerUnavailableError("the runner's worker stopped"))
        zygote.pending.clear()
        if zygote.ready and not zygote.ready.done():
            zygote.ready.set_exception(WorkerUnavailableError("the runner's worker did not start"))
        if self._closing:
            return
        log.error("zygote %s stopped; starting a new one", zygote.name)
        await asyncio.sleep(1)
        with contextlib.suppress(Exception):
            await self._spawn(zygote)

    async def run(
        self,
        code: str,
        limits: Limits,
        tests: list[dict[str, str]] | None = None,
        handle: str | None = None,
        on_output: Callable[[str], None] | None = None,
        *,
        kind: RunKind = "snippet",
        who: str = "",
    ) -> RunResult:
        """Run code in the sandbox, in its kind's lane, taking turns there with other
        requesters (`who`: app.runner.lanes.requester). `on_output` hears its stdout as it is
        printed."""
        return await self.queue(code, limits, tests, handle, on_output, kind=kind, who=who)

    def queue(
        self,
        code: str,
        limits: Limits,
        tests: list[dict[str, str]] | None = None,
        handle: str | None = None,
        on_output: Callable[[str], None] | None = None,
        *,
        kind: RunKind = "snippet",
        who: str = "",
        on_start: Callable[[], None] | None = None,
    ) -> asyncio.Task[RunResult]:
        """As `run`, as a task that has its place in the lane's queue before this returns
        (QueueFullError, with a retry hint, if there is none): a caller that has the task may
        answer that the run is accepted. `on_start` is called when a zygote has it. Cancelling
        the task stops the run, waiting or running."""
        lane, place = self._join(kind, who, handle)
        run = self._take_turn(code, limits, tests, handle, on_output, lane, place, on_start)
        return asyncio.ensure_future(run)

    def _join(self, kind: RunKind, who: str, handle: str | None) -> tuple[Lane, Place]:
        """A place in the kind's lane's queue, taken now (no await); QueueFullError if none."""
        self.refuse_if_full(kind, who)
        lane = self._lane(kind)
        place = lane.join(who)
        if handle:
            self._waiting[handle] = (lane, place)
        return lane, place

    async def _take_turn(
        self,
        code: str,
        limits: Limits,
        tests: list[dict[str, str]] | None,
        handle: str | None,
        on_output: Callable[[str], None] | None,
        lane: Lane,
        place: Place,
        on_start: Callable[[], None] | None,
    ) -> RunResult:
        try:
            async with lane.turn(place.who, place):
                self._not_waiting(handle, place)
                if handle and handle in self._cancelled:  # cancelled as its turn came
                    self._cancelled.discard(handle)
                    return _cancelled()
                return await self._run_now(code, limits, tests, handle, on_output, lane, on_start)
        except WithdrawnError:  # cancelled while it waited: it left the queue then
            return _cancelled()
        finally:
            self._not_waiting(handle, place)
            if handle:
                self._cancelled.discard(handle)

    def _not_waiting(self, handle: str | None, place: Place) -> None:
        if handle and (found := self._waiting.get(handle)) and found[1] is place:
            del self._waiting[handle]

    def refuse_if_full(self, kind: RunKind, who: str = "") -> None:
        """QueueFullError, with a retry hint, when the kind's lane has no place for `who`,
        running or waiting; `queue` checks it too, so a caller may ask before it commits to
        anything."""
        lane = self._lane(kind)
        if lane.full(who):
            raise QueueFullError(retry_after=lane.retry_after())

    def _lane(self, kind: RunKind) -> Lane:
        return self._long if kind in LONG_KINDS else self._short

    async def _run_now(
        self,
        code: str,
        limits: Limits,
        tests: list[dict[str, str]] | None,
        handle: str | None,
        on_output: Callable[[str], None] | None,
        lane: Lane,
        on_start: Callable[[], None] | None = None,
    ) -> RunResult:
        zygote = min(self._zygotes, key=lambda z: len(z.pending))
        if zygote.process is None or zygote.process.returncode is not None or not zygote.info:
            raise WorkerUnavailableError("the runner's worker is restarting; try again")
        run_id = str(next(self._ids))
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        zygote.pending[run_id] = future
        request: dict[str, Any] = {
            "id": run_id,
            "code": code,
            "tests": tests,
            "limits": limits.model_dump(),
        }
        if on_output is not None:
            request["stream"] = True
            self._listeners[run_id] = on_output
        assert zygote.process.stdin
        zygote.process.stdin.write((json.dumps(request) + "\n").encode())
        if handle:
            self._running[handle] = (zygote, run_id)
        if on_start is not None:
            on_start()
        started = time.monotonic()
        try:
            # The zygote enforces the wall limit; this only guards against a stuck zygote.
            message = await asyncio.wait_for(future, limits.wall_seconds + 30)
        except TimeoutError:
            zygote.pending.pop(run_id, None)
            raise WorkerUnavailableError("the runner did not answer in time") from None
        except asyncio.CancelledError:  # no one waits for its result: stop it
            zygote.pending.pop(run_id, None)
            self._kill(zygote, run_id)
            raise
        finally:
            if handle:
                self._running.pop(handle, None)
            self._listeners.pop(run_id, None)
        lane.remember((time.monotonic() - started) * 1000)
        if "error" in message:
            if message["error"].startswith("cancelled"):
                return _cancelled()
            raise WorkerUnavailableError(message["error"])
        return RunResult.model_validate(message["result"])

    def cancel(self, handle: str) -> bool:
        """Stop the run started with this handle; False when no such run is going. A run still
        waiting for its turn leaves the lane's queue at once (its place there goes to the next
        requester) and ends with the "cancelled" result; a running one is killed."""
        if waiting := self._waiting.pop(handle, None):
            lane, place = waiting
            if not lane.withdraw(place):  # granted its place a moment ago, not yet running
                self._cancelled.add(handle)
            return True
        if running := self._running.get(handle):
            self._kill(*running)
            return True
        return False

    @staticmethod
    def _kill(zygote: _Zygote, run_id: str) -> None:
        if zygote.process and zygote.process.stdin and zygote.process.returncode is None:
            zygote.process.stdin.write((json.dumps({"cancel": run_id}) + "\n").encode())

    def status(self) -> dict[str, Any]:
        alive = [z for z in self._zygotes if z.process and z.process.returncode is None and z.info]
        info = alive[0].info if alive else {}
        return {
            "ready": len(alive) == len(self._zygotes),
            "mode": info.get("mode"),
            "zygotes": len(alive),
            "torch": info.get("torch"),
            "isolation": {"cgroups": info.get("cgroups"), "seccomp": info.get("seccomp")},
            "running": self._short.active + self._long.active,
            "queued": self._short.waiting + self._long.waiting,
            "lanes": {"short": self._short.status(), "lab_code": self._long.status()},
        }

    async def close(self) -> None:
        self._closing = True
        for zygote in self._zygotes:
            if zygote.process and zygote.process.returncode is None:
                assert zygote.process.stdin
                zygote.process.stdin.close()  # the zygote kills its runs and exits
                try:
                    await asyncio.wait_for(zygote.process.wait(), 10)
                except TimeoutError:
                    zygote.process.kill()
            if zygote.reader:
                zygote.reader.cancel()
            remove_slots(zygote.name)


def _cancelled() -> RunResult:
    return RunResult(ok=False, limit=LimitHit(name="cancelled", message="cancelled"))
