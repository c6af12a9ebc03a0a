"""A lab run outlives the app process that followed it: two Labs (as two app replicas: each its
own Database, its own client of the job queue, its own holder name and follow tasks) on one
database and one Redis, with a real `torchquiz runner --queue`. A starts a training and stops
following it abruptly; once its hold lapses, B takes the run over and follows the job to its
end, every epoch recorded once. A job the queue no longer knows fails the run, naming why."""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
from sqlalchemy.engine import make_url

from app.core.db import Database, create_db_engine, migrate_database
from app.core.metrics import TRAINING_ACTIVE
from app.lab import running, service
from app.lab.config import BASELINE
from app.lab.models import LabRun
from app.lab.running import Lab, start_lab
from app.lab.schemas import StartLabRun
from app.runner.queue_client import QueueRunner
from tests.conftest import BACKENDS, REDIS_URL, delete_redis_keys, own_database
from tests.runner.queue.conftest import QueueRunners

T = TypeVar("T")
LEASE_SECONDS = 1.0  # a hold that lapses in a second: the test need not wait a minute
# Some 0.1 s each here: the training still goes on when B takes it over, a second or two on.
EPOCHS = 40


@pytest.fixture(scope="module")
def queue_runner() -> Iterator[QueueRunners]:
    """One queue runner under a prefix of this module's own."""
    prefix = f"tqtest:{uuid.uuid4().hex[:12]}:"
    runners = QueueRunners(prefix)
    try:
        runners.start(1)
        yield runners
    finally:
        runners.close()
        delete_redis_keys(prefix)


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    for url in own_database(request.param, tmp_path_factory, "adoption"):
        migrate_database(url)
        yield url


class Replica:
    """One app process's lab: its database sessions, its queue client (monitored), its Lab."""

    def __init__(self, database_url: str, prefix: str) -> None:
        postgres = make_url(database_url).get_backend_name() == "postgresql"
        self.engine = create_db_engine(database_url)
        self.runner = QueueRunner(REDIS_URL, prefix=prefix)
        self.lab = Lab(Database.on(self.engine, run_in_threads=postgres), self.runner)
        self._monitor = asyncio.create_task(self.runner.monitor())

    async def ready(self) -> None:
        state = await asyncio.wait_for(self.runner.settled(), 60)
        assert state.ready and state.torch
        self.lab.torch_version = state.torch

    async def close(self) -> None:
        await self.lab.close()
        self._monitor.cancel()
        await self.runner.aclose()
        self.engine.dispose()


def in_loop(scenario: Callable[[], Awaitable[T]]) -> T:
    """`scenario` in an event loop of its own thread (pytest's own may hold the main one)."""
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, scenario()).result()  # type: ignore[arg-type]


def row(replica: Replica, public_id: str) -> LabRun:
    with replica.lab.database.transaction() as db:
        found = service.get_run(db, None, public_id)
        db.expunge(found)
        return found


async def until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not {what} in {seconds:g} s"
        await asyncio.sleep(0.05)


def test_a_neighbour_takes_over_a_training_whose_follower_died_and_records_every_epoch_once(
    queue_runner: QueueRunners, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "LEASE_SECONDS", LEASE_SECONDS)
    # A seed of its own: the runner replays a config it trained already at once.
    config = BASELINE.model_copy(update={"epochs": EPOCHS, "seed": random.randrange(10**6)})

    async def scenario() -> tuple[LabRun, list[int], str]:
        a = Replica(database_url, queue_runner.prefix)
        b = Replica(database_url, queue_runner.prefix)
        try:
            await asyncio.gather(a.ready(), b.ready())
            started = await a.lab.start(None, StartLabRun(config=config, task=False))
            # A reader on B, from before the takeover to the end.
            reading = asyncio.create_task(_epochs_read(b.lab, started.id))
            b.lab._tasks.add(reading)  # cancelled with B's lab, whatever happens
            await until(lambda: len(row(a, started.id).epochs) >= 1, 120, "training")
            before = TRAINING_ACTIVE._value.get()
            following_on_a = list(a.lab._tasks)
            await a.lab.close()  # A stops following, abruptly: no end recorded, no job cancelled
            await asyncio.gather(*following_on_a, return_exceptions=True)
            assert TRAINING_ACTIVE._value.get() == before - 1
            await start_lab(b.lab)  # B's round over the lapsed holds, every LEASE_SECONDS / 4
            await until(lambda: row(b, started.id).owner == b.lab.owner, 30, "taken over")
            # The adopted run counts as a training in motion, on B now.
            await until(lambda: TRAINING_ACTIVE._value.get() == before, 10, "counted")
            await until(lambda: row(b, started.id).status != "running", 120, "finished")
            epochs = await asyncio.wait_for(reading, 30)
            return row(b, started.id), epochs, a.lab.owner
        finally:
            await asyncio.gather(a.close(), b.close())

    run, read, a_owner = in_loop(scenario)
    assert run.status == "done", run.message
    assert run.owner != a_owner
    assert [e["epoch"] for e in run.epochs] == list(range(1, EPOCHS + 1))
    assert read == list(range(1, EPOCHS + 1))  # the reader on B: each epoch once, in order
    assert run.outcome is not None and run.outcome["val_accuracy"] > 0


async def _epochs_read(lab: Lab, public_id: str) -> list[int]:
    read: list[int] = []
    async for update in lab.follow(None, public_id, after=0):
        read.extend(epoch.epoch for _, epoch in update.epochs)
    return read


def test_a_taken_over_run_whose_job_the_queue_no_longer_knows_fails_naming_why(
    queue_runner: QueueRunners, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "LEASE_SECONDS", LEASE_SECONDS)

    async def scenario() -> LabRun:
        b = Replica(database_url, queue_runner.prefix)
        try:
            await b.ready()
            with b.lab.database.transaction() as db:  # a dead process's run of job 10**9
                run = service.new_run(
                    db, None, BASELINE, task=False, torch_version="t", owner="host:1:dead"
                )
                run.status, run.job_id = "running", 10**9
                public_id = run.public_id
            await asyncio.sleep(LEASE_SECONDS + 0.1)
            await b.lab.end_lapsed()
            await until(lambda: row(b, public_id).status != "running", 30, "ended")
            return row(b, public_id)
        finally:
            await b.close()

    run = in_loop(scenario)
    assert run.status == "failed"
    assert run.message is not None
    assert run.message.startswith(running.ADOPTED_JOB_LOST)
    assert f"no job {10**9}" in run.message
