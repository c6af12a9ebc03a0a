"""Lab runs in motion: start one (or serve it from an identical earlier run), follow the
runner's events into the database, let readers in any process follow a run (app.lab.feed
wakes them), cancel it; keep the page's reference runs measured; and take over or end the
runs of a process that died. Training itself happens in the runner, never in this process.

A run is followed by the process that holds it (LabRun.owner, renewed in keep_leases). When
that process dies its hold lapses, and a live neighbour (end_lapsed) takes over each training
whose job its own runner can reach (a runner service or job queue shared by the replicas): it
reads the job's events from its start, recording only those not recorded yet, so readers on
any replica see every epoch once and the run ends as it would have. A run that cannot be taken
over (no job yet; a learner's own model, whose output stream only its starter could read; or
an embedded runner, which died with the process that started it) is marked failed, and a job
the neighbour finds gone fails the run, naming why."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from app.core.db import Database
from app.core.handlers import log_failed_round
from app.core.metrics import TRAINING_ACTIVE
from app.lab import custom, references, service
from app.lab.config import REFERENCES
from app.lab.feed import QUIET_SECONDS, Feed, MemoryFeed
from app.lab.live import Update, place
from app.lab.models import ACTIVE, LabRun
from app.lab.schemas import LabRunOut, StartLabRun
from app.learners.service import NewLearnerLimit, find_learner, get_or_create_learner
from app.runner.client import (
    OFF_HERE,
    Runner,
    RunnerOffError,
    RunnerWarmingError,
    Streamed,
)
from app.runner.protocol import RunRequest

log = logging.getLogger("torchquiz")
T = TypeVar("T")
CANCEL_WAIT_SECONDS = 2.0  # how long a cancel waits for the run's end to be recorded
# Why a run taken over from a process that died failed: its job could not be followed here.
ADOPTED_JOB_LOST = "the server following it stopped, and its job could not be followed from here"


class Lab:
    """`torch_version` is the runner's, "" until known (app.main sets it once it is): runs are
    cached and reference figures kept per torch version. `feed`: how readers hear of a run's
    changes (app.lab.feed.feed_of; this process's memory unless given)."""

    def __init__(
        self,
        database: Database,
        runner: Runner | None,
        torch_version: str = "",
        *,
        new_learners: NewLearnerLimit | None = None,
        feed: Feed | None = None,
    ) -> None:
        self.database, self.runner, self.torch_version = database, runner, torch_version
        self.new_learners = new_learners
        self.feed: Feed = feed or MemoryFeed()
        self._tasks: set[asyncio.Task[None]] = set()
        self._measuring: asyncio.Task[None] | None = None
        self._starting = KeyedLock()
        # This process, as the holder of the runs it follows (app.lab.models.LabRun.owner).
        self.owner = f"{socket.gethostname()[:50]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def available(self) -> bool:
        """Whether runs can start now: the runner is ready (not warming up, and not off)."""
        return self.runner is not None and self.runner.state.ready and bool(self.torch_version)

    def _runner(self) -> Runner:
        """The runner, ready; else the error saying why not (warming up: 503 and Retry-After)."""
        if self.runner is None:
            raise RunnerOffError(OFF_HERE)
        if error := self.runner.state.error():
            raise error
        if not self.torch_version:  # ready a moment before app.main has heard its version
            raise RunnerWarmingError()
        return self.runner

    def _client(self) -> Runner:
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
        self, learner_id: int | None, request: StartLabRun, handle: str, opened: Streamed
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

    async def _give_up(self, handle: str, opened: Streamed) -> None:
        """Stop a run the runner accepted but no one will follow."""
        try:
            await self._client().cancel_run(handle)
        except Exception as exc:  # closing the stream stops it too
            log.warning("lab code run %s: cancelling it at the runner failed: %s", handle, exc)
        finally:
            await opened.close()

    def _follow(self, run_id: int, job: int, *, adopted: bool = False) -> None:
        self._in_background(self._record(run_id, job, adopted=adopted))

    def _in_background(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _apply(self, run_id: int, event: dict[str, Any]) -> bool:
        """One event committed, then announced to the run's readers. False: the run had
        ended already, elsewhere (a neighbour found its hold lapsed): nothing more to follow."""
        public_id, change, finished, taken = await self.database.run(_applied, run_id, event)
        await self.feed.append(public_id, change, finished=finished)
        return taken

    async def _run_code(self, run_id: int, opened: Streamed) -> None:
        """A learner's own model, accepted by the runner (`_start_code`): queued until the
        runner starts it, then each epoch recorded as its report arrives, then its end."""
        reports = custom.Reports()
        started = False

        async def start() -> None:
            nonlocal started
            if not started:
                started = True
                await self._going(run_id, {"type": "started"})

        async def printed(chunk: str) -> None:
            await start()  # a runner that does not say when a run starts: its first output
            for epoch in custom.epochs_in(reports.feed(chunk)):
                await self._going(run_id, epoch)

        TRAINING_ACTIVE.inc()
        try:
            try:
                final = custom.final_event(await opened.follow(printed, start))
            except Exception as exc:  # the runner, the database, or a neighbour ended it
                final = {"type": "failed", "message": str(exc)}
            finally:
                await opened.close()  # which stops the run at the runner if it still runs
            await self._apply(run_id, final)
        finally:
            TRAINING_ACTIVE.dec()

    async def _going(self, run_id: int, event: dict[str, Any]) -> None:
        if not await self._apply(run_id, event):
            raise RunEndedError("the run was ended by another server")

    async def _record(self, run_id: int, job: int, *, adopted: bool = False) -> None:
        """The runner's events, each committed (once: service.apply_event), then announced.
        `adopted`: taken over from a process that died (end_lapsed)."""
        TRAINING_ACTIVE.inc()
        try:
            async for event in self._client().lab_events(job):
                if event["type"] != "queued" and not await self._apply(run_id, event):
                    break
            else:
                return
            log.warning("lab run %d: ended by another server; stopping its job", run_id)
            await self._client().lab_cancel(job)
        except Exception as exc:  # the run must end, whatever broke
            log.error("lab run %d: following its job failed: %s", run_id, exc)
            message = f"{ADOPTED_JOB_LOST}: {exc}" if adopted else str(exc)
            await self._apply(run_id, {"type": "failed", "message": message})
        finally:
            TRAINING_ACTIVE.dec()

    async def runs(self, learner: str, limit: int, offset: int) -> tuple[int, list[LabRunOut]]:
        return await self.database.run(_runs_of, learner, limit, offset)

    async def run_view(self, learner: str | None, public_id: str) -> LabRunOut:
        return await self.database.run(self._view, learner, public_id)

    @staticmethod
    def _view(db: Session, learner: str | None, public_id: str) -> LabRunOut:
        return service.view(_own_row(db, learner, public_id))

    async def resume_point(
        self, learner: str | None, public_id: str, last_event_id: str | None
    ) -> int | None:
        """The change a reader has seen, from its Last-Event-ID (None: a new reader); 404 for
        a run it may not see, 400 for an id that is no event of the run."""
        _, latest = await self.database.run(_counted_view, learner, public_id)
        return place(last_event_id, latest)

    async def follow(
        self, learner: str | None, public_id: str, after: int | None = None
    ) -> AsyncIterator[Update]:
        """The run now (a new reader: `after` None) or what changed after change `after`,
        then each change until the run has finished. Woken by the feed; a quiet spell of
        QUIET_SECONDS yields an update without a run (the stream's keep-alive)."""
        shown, quiet_since = after, time.monotonic()
        while True:
            run, change = await self.database.run(_counted_view, learner, public_id)
            if shown is None or change > shown:
                # Epoch k is change k + 1: those after `shown` are new to this reader.
                new = [] if shown is None else list(enumerate(run.epochs, 2))[max(shown - 1, 0) :]
                yield Update(change, run, new)
                shown, quiet_since = change, time.monotonic()
            if run.finished:
                return
            if time.monotonic() - quiet_since >= QUIET_SECONDS:
                yield Update(change)
                quiet_since = time.monotonic()
            await self.feed.wait(public_id, change, QUIET_SECONDS)

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
        lease, so a slow database or a busy loop does not let one lapse); and each time, the
        runs of a process that died (their hold lapsed) are taken over or ended, here or by
        any live neighbour, so that no reader waits for them forever."""
        while True:
            try:
                await self.database.run(service.renew_leases, self.owner)
                await self.end_lapsed()
            except Exception as exc:  # the database away for a moment: the next round renews
                log_failed_round(log, "lab: renewing this process's runs failed", exc)
            await asyncio.sleep(service.LEASE_SECONDS / 4)

    async def end_lapsed(self) -> int:
        """The runs whose holder died: those whose job this process's runner can reach taken
        over and followed from here; the others marked failed, and their readers told. How
        many were ended."""
        adopted, ended = await self.database.run(_lapsed, self.owner, self._can_adopt())
        for run_id, job in adopted:
            self._follow(run_id, job, adopted=True)
        for public_id, change in ended:
            await self.feed.append(public_id, change, finished=True)
        if adopted:
            log.warning("lab: %d runs whose server stopped following them taken over", len(adopted))
        if ended:
            log.warning(
                "lab: %d runs whose server stopped following them marked failed", len(ended)
            )
        return len(ended)

    def _can_adopt(self) -> bool:
        """Whether this process's runner can reach a job another process started: not an
        embedded runner (that process's own, gone with it; a new one numbers its jobs anew)."""
        return self.runner is not None and not self.runner.embedded

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.feed.aclose()


class RunEndedError(Exception):
    """A run ended elsewhere while this process followed it."""


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


def _counted_view(db: Session, learner: str | None, public_id: str) -> tuple[LabRunOut, int]:
    run = _own_row(db, learner, public_id)
    return service.view(run), service.changes(run)


def _applied(db: Session, run_id: int, event: dict[str, Any]) -> tuple[str, int, bool, bool]:
    """The run's public id, its change number now, whether it has finished, and whether it
    took the event (one that had finished already takes none)."""
    run = db.get(LabRun, run_id, with_for_update=True)  # one writer at a time (PostgreSQL)
    assert run is not None
    going = run.status in ACTIVE
    service.apply_event(db, run_id, event)
    return run.public_id, service.changes(run), run.status not in ACTIVE, going


def _lapsed(
    db: Session, owner: str, adopt: bool
) -> tuple[list[tuple[int, int]], list[tuple[str, int]]]:
    """(run id, job) of the runs taken over; (public id, change) of those marked failed."""
    found = service.fail_lapsed(db, besides=owner, adopt=adopt)
    adopted = [(run.id, run.job_id) for run in found.adopted if run.job_id is not None]
    return adopted, [(run.public_id, service.changes(run)) for run in found.failed]


async def start_lab(lab: Lab) -> None:
    """The lab's own start, in the background while the app already serves: this process's
    runs are kept its own from now on, and runs whose holder died (their hold lapsed) are
    taken over or marked failed, now and every round after (Lab.end_lapsed). Another live
    process's runs are left alone."""
    lab._in_background(lab.keep_leases())
