"""Lab runs in motion: start one (or serve it from an identical earlier run), follow the
runner's events into the database, let readers follow a run, cancel it; and keep the page's
reference runs measured. Training itself happens in the runner, never in this process."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from app.core.routing import UnitOfWork
from app.lab import custom, service
from app.lab.models import LabRun
from app.lab.schemas import LabRunOut, StartLabRun
from app.learners.service import NewLearnerLimit, find_learner, get_or_create_learner
from app.runner.client import OFF_HERE, RunnerClient, RunnerOffError, RunnerWarmingError
from app.runner.protocol import RunRequest

log = logging.getLogger("torchquiz")
T = TypeVar("T")
POLL_SECONDS = 0.5  # how often a reader checks the database when no event wakes it


class Lab:
    """`torch_version` is the runner's, "" until known (app.main sets it once it is): runs are
    cached and reference figures kept per torch version."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        runner: RunnerClient | None,
        torch_version: str = "",
        *,
        new_learners: NewLearnerLimit | None = None,
    ) -> None:
        self.factory, self.runner, self.torch_version = factory, runner, torch_version
        self.new_learners = new_learners
        self._changed: dict[int, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._measuring: asyncio.Task[None] | None = None

    async def db(self, work: Callable[..., T], *args: Any) -> T:
        """`work(session, *args)` as one transaction, where this database's work runs."""
        return await UnitOfWork(self.factory())(work, *args)

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
        run, job_needed = await self.db(self._new_run, learner, request, address)
        if not job_needed:
            return service.view(run)
        if request.code is not None:
            work = self._run_code(run.id, learner, request, run.public_id, address=address)
            self._in_background(work)
            return service.view(run)
        try:
            job = await self._client().lab_submit(request.config, learner, address=address)
        except Exception:  # the queue is full, or the runner is gone: as if never asked
            await self.db(service.discard, run.id)
            raise
        await self.db(service.set_job, run.id, job)
        self._follow(run.id, job)
        return service.view(run)

    def _new_run(
        self, db: Session, learner: str | None, request: StartLabRun, address: str | None
    ) -> tuple[LabRun, bool]:
        limit = self.new_learners
        admit = functools.partial(limit.admit, address) if limit else None
        learner_id = get_or_create_learner(db, learner, admit=admit).id if learner else None
        cached = service.cached_run(db, request.config.key(self.torch_version, request.code))
        if cached is None and learner_id is not None:
            service.ensure_idle(db, learner_id)
        run = service.new_run(
            db,
            learner_id,
            request.config,
            task=request.task,
            torch_version=self.torch_version,
            code=request.code,
            cached=cached,
        )
        return run, cached is None

    def _follow(self, run_id: int, job: int) -> None:
        self._in_background(self._record(run_id, job))

    def _in_background(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run_code(
        self,
        run_id: int,
        learner: str | None,
        request: StartLabRun,
        handle: str,
        *,
        address: str | None,
    ) -> None:
        """A learner's own model: one sandboxed run (cancellable by its handle, the run's
        public id), each epoch recorded as its report arrives."""
        assert request.code is not None
        await self.db(service.apply_event, run_id, {"type": "started"})
        self._wake(run_id)
        reports = custom.Reports()

        async def printed(chunk: str) -> None:
            for epoch in custom.epochs_in(reports.feed(chunk)):
                await self.db(service.apply_event, run_id, epoch)
                self._wake(run_id)

        code = custom.program(request.code, request.config)
        run = RunRequest(
            code=code, kind="lab_code", learner=learner, address=address, handle=handle
        )
        try:
            final = custom.final_event(await self._client().run_streamed(run, printed))
        except Exception as exc:  # the runner is busy or gone: the run must still end
            final = {"type": "failed", "message": str(exc)}
        await self.db(service.apply_event, run_id, final)
        self._wake(run_id)

    async def _record(self, run_id: int, job: int) -> None:
        """The runner's events, each committed, then readers woken."""
        try:
            async for event in self._client().lab_events(job):
                if event["type"] == "queued":
                    continue
                await self.db(service.apply_event, run_id, event)
                self._wake(run_id)
        except Exception as exc:  # the run must end, whatever broke
            log.error("lab run %d: following its job failed: %s", run_id, exc)
            await self.db(service.apply_event, run_id, {"type": "failed", "message": str(exc)})
            self._wake(run_id)

    def _wake(self, run_id: int) -> None:
        if event := self._changed.pop(run_id, None):
            event.set()

    async def runs(self, learner: str, limit: int, offset: int) -> tuple[int, list[LabRunOut]]:
        return await self.db(_runs_of, learner, limit, offset)

    async def run_view(self, learner: str | None, public_id: str) -> LabRunOut:
        return await self.db(self._view, learner, public_id)

    @staticmethod
    def _view(db: Session, learner: str | None, public_id: str) -> LabRunOut:
        return service.view(_own_row(db, learner, public_id))

    async def follow(self, learner: str | None, public_id: str) -> AsyncIterator[LabRunOut]:
        """The run now, then again each time it changes, until it has finished."""
        row_id = (await self.db(_own_row, learner, public_id)).id
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
        run = await self.db(_own_row, learner, public_id)
        if run.status in ("queued", "running") and run.code is not None:
            await self._client().cancel_run(run.public_id)
        elif run.status in ("queued", "running") and run.job_id is not None:
            await self._client().lab_cancel(run.job_id)
        return await self.run_view(learner, public_id)

    def measure_references(self) -> None:
        """Measure the page's reference runs in the background, once, when first asked for
        (not at start-up: most processes, and most tests, never show the lab)."""
        if self.available() and (self._measuring is None or self._measuring.done()):
            self._measuring = self._in_background(self._measure_references())

    async def _measure_references(self) -> None:
        """The reference configs one by one; stored ones answer at once from the cache."""
        for _, config in service.reference_configs():
            run = await self.start(None, StartLabRun(config=config, task=False))
            async for _ in self.follow(None, run.id):
                pass

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()


def _runs_of(db: Session, learner: str, limit: int, offset: int) -> tuple[int, list[LabRunOut]]:
    found = find_learner(db, learner)
    return service.list_runs(db, found.id if found else None, limit, offset)


def _own_row(db: Session, learner: str | None, public_id: str) -> LabRun:
    found = find_learner(db, learner) if learner else None
    return service.get_run(db, found.id if found else None, public_id)


async def start_lab(lab: Lab) -> None:
    """The lab's own start, in the background while the app already serves: runs an earlier
    process left unfinished are marked failed. Before the runner is ready no run can start, so
    none of this process's can be among them."""
    failed = await lab.db(service.fail_unfinished)
    if failed:
        log.warning("lab: %d runs left unfinished by an earlier start marked failed", failed)
