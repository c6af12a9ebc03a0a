"""Lab runs in motion: start one (or serve it from an identical earlier run), follow the
runner's events into the database, let readers follow a run, cancel it; and keep the page's
reference runs measured. Training itself happens in the runner, never in this process."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from app.core.db import Database
from app.lab import custom, references, service
from app.lab.config import REFERENCES
from app.lab.models import ACTIVE, LabRun
from app.lab.schemas import LabRunOut, StartLabRun
from app.learners.service import NewLearnerLimit, find_learner, get_or_create_learner
from app.runner.client import (
    OFF_HERE,
    RunnerClient,
    RunnerOffError,
    RunnerWarmingError,
    StreamedRun,
)
from app.runner.protocol import RunRequest

log = logging.getLogger("torchquiz")
T = TypeVar("T")
POLL_SECONDS = 0.5  # how often a reader checks the database when no event wakes it
CANCEL_WAIT_SECONDS = 2.0  # how long a cancel waits for the run's end to be recorded


class Lab:
    """`torch_version` is the runner's, "" until known (app.main sets it once it is): runs are
    cached and reference figures kept per torch version."""

    def __init__(
        self,
        database: Database,
        runner: RunnerClient | None,
        torch_version: str = "",
        *,
        new_learners: NewLearnerLimit | None = None,
    ) -> None:
        self.database, self.runner, self.torch_version = database, runner, torch_version
        self.new_learners = new_learners
        self._changed: dict[int, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._measuring: asyncio.Task[None] | None = None
        self._starting = KeyedLock()
        # This process, as the holder of the runs it follows (app.lab.models.LabRun.owner).
        self.owner = f"{socket.gethostname()[:50]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def available(self) -> bool:
        """Whether runs can start now: the runner is ready (not warming up, and not off)."""
        return self.runner is not None and self.runner.state.ready and bool(self.torch_version)

    def _runner(self) -> RunnerClient:
        """The runner, ready; else the error saying why not (warming up: 503 and Retry-After)."""
        if self.runner is None:
            raise RunnerOffError(OFF_HERE)
        if error := self.runner.state.error():
            raise error
        if not self.torch_version:  # ready a moment before app.main has heard its version
            raise RunnerWarmingError()
        return self.runner

    def _client(self) -> RunnerClient:
        """The runner for a run already started (whatever its state now: the call says)."""
        if self.runner is None:
            raise RunnerOffError(OFF_HERE)
        return self.runner

    async def start(
        self, learner: str | None, request: StartLabRun, *, address: str | None = None
    ) -> LabRunOut:
        """`address`: the client's (app.core.clients), for the runner's and the new
        learners' limits per address; None for the page's own reference runs."""
        service.refuse_if_invalid(request.config, request.task, request.code)
        self._runner()  # no ready runner, no run: refused before anything is stored
        if request.code is not None:
            return await self._start_code(learner, request, address)
        run, job_needed = await self.database.run(self._new_run, learner, request, address)
        if not job_needed:
            return service.view(run)
        try:
            job = await self._client().lab_submit(request.config, learner, address=address)
        except Exception:  # the queue is full, or the runner is gone: as if never asked
            await self.database.run(service.discard, run.id)
            raise
        await self.database.run(service.set_job, run.id, job)
        self._follow(run.id, job)
        return service.view(run)

    def _new_run(
        self, db: Session, learner: str | None, request: StartLabRun, address: str | None
    ) -> tuple[LabRun, bool]:
        learner_id, served = self._admit(db, learner, request, address)
        if served is not None:
            return served, False
        return self._store(db, learner_id, request), True

    def _admit(
        self, db: Session, learner: str | None, request: StartLabRun, address: str | None
    ) -> tuple[int | None, LabRun | None]:
        """The learner (stored if new, within the new learners' limit), and the run served
        from an identical earlier one (stored now) if there is one; else the learner must
        have no run going."""
        limit = self.new_learners
        admit = functools.partial(limit.admit, address) if limit else None
        learner_id = get_or_create_learner(db, learner, admit=admit).id if learner else None
        cached = service.cached_run(db, request.config.key(self.torch_version, request.code))
        if cached is not None:
            return learner_id, self._store(db, learner_id, request, cached=cached)
        if learner_id is not None:
            service.ensure_idle(db, learner_id)
        return learner_id, None

    def _store(
        self,
        db: Session,
        learner_id: int | None,
        request: StartLabRun,
        *,
        cached: LabRun | None = None,
        public_id: str | None = None,
    ) -> LabRun:
        return service.new_run(
            db,
            learner_id,
            request.config,
            task=request.task,
            torch_version=self.torch_version,
            code=request.code,
            cached=cached,
            public_id=public_id,
            owner=self.owner,
        )

    async def _start_code(
        self, learner: str | None, request: StartLabRun, address: str | None
    ) -> LabRunOut:
        """A learner's own model: the runner accepts the run (it holds its place in the
        runner's lab code lane) before it is stored, so a refusal (429 queue_full or
        rate_limited, 503) answers this start and no run is stored. Its handle at the runner,
        for a cancel, is the run's public id, chosen first. An identical earlier run is served
        from the cache without asking the runner.

        One learner's starts go one at a time here, so that a second start while the first
        is being accepted finds it (run_in_progress) instead of taking a place at the runner;
        across processes the database's index of active runs holds (app.lab.service.new_run)."""
        assert request.code is not None
        async with self._starting.hold(learner):
            learner_id, served = await self.database.run(self._admit, learner, request, address)
            if served is not None:
                return service.view(served)
            handle = service.new_public_id()
            program = custom.program(request.code, request.config, task=request.task)
            run = RunRequest(
                code=program, kind="lab_code", learner=learner, address=address, handle=handle
            )
            opened = await self._client().open_streamed(run)
            # Accepted: stored and followed from here whatever becomes of this request.
            storing = asyncio.ensure_future(self._store_code(learner_id, request, handle, opened))
            return await asyncio.shield(storing)

    async def _store_code(
        self, learner_id: int | None, request: StartLabRun, handle: str, opened: StreamedRun
    ) -> LabRunOut:
        """A run the runner has accepted, stored, then followed in the background; one that
        cannot be stored (another start by the learner won: 429 run_in_progress) is cancelled
        at the runner."""
        try:
            run = await self.database.run(self._store, learner_id, request, public_id=handle)
        except BaseException:
            await self._give_up(handle, opened)
            raise
        self._in_background(self._run_code(run.id, opened))
        return service.view(run)

    async def _give_up(self, handle: str, opened: StreamedRun) -> None:
        """Stop a run the runner accepted but no one will follow."""
        try:
            await self._client().cancel_run(handle)
        except Exception as exc:  # closing the stream stops it too
            log.warning("lab code run %s: cancelling it at the runner failed: %s", handle, exc)
        finally:
            await opened.close()

    def _follow(self, run_id: int, job: int) -> None:
        self._in_background(self._record(run_id, job))

    def _in_background(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run_code(self, run_id: int, opened: StreamedRun) -> None:
        """A learner's own model, accepted by the runner (`_start_code`): queued until the
        runner starts it, then each epoch recorded as its report arrives, then its end."""
        reports = custom.Reports()
        started = False

        async def start() -> None:
            nonlocal started
            if not started:
                started = True
                await self.database.run(service.apply_event, run_id, {"type": "started"})
                self._wake(run_id)

        async def printed(chunk: str) -> None:
            await start()  # a runner that does not say when a run starts: its first output
            for epoch in custom.epochs_in(reports.feed(chunk)):
                await self.database.run(service.apply_event, run_id, epoch)
                self._wake(run_id)

        try:
            final = custom.final_event(await opened.follow(printed, start))
        except Exception as exc:  # the runner is gone, or the database: the run must still end
            final = {"type": "failed", "message": str(exc)}
        finally:
            await opened.close()
        await self.database.run(service.apply_event, run_id, final)
        self._wake(run_id)

    async def _record(self, run_id: int, job: int) -> None:
        """The runner's events, each committed, then readers woken."""
        try:
            async for event in self._client().lab_events(job):
                if event["type"] == "queued":
                    continue
                await self.database.run(service.apply_event, run_id, event)
                self._wake(run_id)
        except Exception as exc:  # the run must end, whatever broke
            log.error("lab run %d: following its job failed: %s", run_id, exc)
            failed = {"type": "failed", "message": str(exc)}
            await self.database.run(service.apply_event, run_id, failed)
            self._wake(run_id)

    def _wake(self, run_id: int) -> None:
        if event := self._changed.pop(run_id, None):
            event.set()

    async def runs(self, learner: str, limit: int, offset: int) -> tuple[int, list[LabRunOut]]:
        return await self.database.run(_runs_of, learner, limit, offset)

    async def run_view(self, learner: str | None, public_id: str) -> LabRunOut:
        return await self.database.run(self._view, learner, public_id)

    @staticmethod
    def _view(db: Session, learner: str | None, public_id: str) -> LabRunOut:
        return service.view(_own_row(db, learner, public_id))

    async def follow(self, learner: str | None, public_id: str) -> AsyncIterator[LabRunOut]:
        """The run now, then again each time it changes, until it has finished."""
        row_id = (await self.database.run(_own_row, learner, public_id)).id
        shown: tuple[str, int] | None = None
        while True:
            changed = self._changed.setdefault(row_id, asyncio.Event())
            run = await self.run_view(learner, public_id)
            if (run.status, len(run.epochs)) != shown:
                shown = (run.status, len(run.epochs))
                yield run
            if run.finished:
                return
            # Woken by this process's recorder; polling covers runs another process records.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), POLL_SECONDS)

    async def cancel(self, learner: str | None, public_id: str) -> LabRunOut:
        """Ask the runner to stop a queued or running run, and answer once it has ended (a
        queued one ends at once; a running one is killed), or after CANCEL_WAIT_SECONDS."""
        run = await self.database.run(_own_row, learner, public_id)
        if run.status in ACTIVE and run.code is not None:
            await self._client().cancel_run(run.public_id)
        elif run.status in ACTIVE and run.job_id is not None:
            await self._client().lab_cancel(run.job_id)
        else:
            return service.view(run)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CANCEL_WAIT_SECONDS):
                async for _ in self.follow(learner, public_id):
                    pass
        return await self.run_view(learner, public_id)

    async def keep_references(self) -> None:
        """At start-up, once the runner's torch is known: the reference runs shipped with the
        app stored (if measured with this torch: the same numbers), and those still missing
        measured in the background once the runner is ready, so no visitor waits for them."""
        if not self.torch_version:
            return
        await self.database.run(references.store_shipped, self.torch_version)
        measured = await self.database.run(service.reference_figures, self.torch_version)
        if len(measured) < len(REFERENCES):
            self.measure_references()

    def measure_references(self) -> None:
        """Measure the page's missing reference runs in the background, once (at start-up, or
        when the lab is shown if the runner was not ready then)."""
        if self.available() and (self._measuring is None or self._measuring.done()):
            self._measuring = self._in_background(self._measure_references())

    async def _measure_references(self) -> None:
        """The reference configs one by one; stored ones answer at once from the cache."""
        for _, config in service.reference_configs():
            run = await self.start(None, StartLabRun(config=config, task=False))
            async for _ in self.follow(None, run.id):
                pass

    async def keep_leases(self) -> None:
        """While this process lives, the runs it follows stay its own (renewed four times per
        lease, so a slow database or a busy loop does not let one lapse)."""
        while True:
            try:
                await self.database.run(service.renew_leases, self.owner)
            except Exception:  # the database away for a moment: the next round renews
                log.exception("lab: renewing this process's runs failed")
            await asyncio.sleep(service.LEASE_SECONDS / 4)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()


class KeyedLock:
    """One lock per key (a learner), kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str | None) -> AsyncIterator[None]:
        """Hold the key's lock; None: no lock at all."""
        if key is None:
            yield
            return
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


def _runs_of(db: Session, learner: str, limit: int, offset: int) -> tuple[int, list[LabRunOut]]:
    found = find_learner(db, learner)
    return service.list_runs(db, found.id if found else None, limit, offset)


def _own_row(db: Session, learner: str | None, public_id: str) -> LabRun:
    found = find_learner(db, learner) if learner else None
    return service.get_run(db, found.id if found else None, public_id)


async def start_lab(lab: Lab) -> None:
    """The lab's own start, in the background while the app already serves: this process's
    runs are kept its own from now on, and runs whose holder died (their hold lapsed) are
    marked failed. Another live process's runs are left alone."""
    lab._in_background(lab.keep_leases())
    failed = await lab.database.run(service.fail_unfinished)
    if failed:
        log.warning("lab: %d runs left unfinished by an earlier start marked failed", failed)
