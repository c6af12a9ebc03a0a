"""The outbox across processes, on a database of its own per backend with committed rows: two
deliverers draining at once never send one message twice, and a message committed by an
instance that died before delivering it is delivered by the next instance to start."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from app.core.db import Database, create_db_engine, migrate_database
from app.main import create_app
from app.outbox import service
from app.outbox.delivery import Outbox
from app.outbox.models import OutboxMessage
from tests.conftest import make_settings, own_database
from tests.in_thread import run_coroutine
from tests.outbox.receiver import receiving
from tests.outbox.support import KIND


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def own_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    for url in own_database(request.param, tmp_path_factory, "outbox"):
        migrate_database(url)
        yield url


def statuses(database: Database) -> Counter[str]:
    with database.transaction() as db:
        return Counter(db.scalars(select(OutboxMessage.status)))


def test_two_deliverers_draining_at_once_send_each_message_once(
    own_url: str, tmp_path: Path
) -> None:
    settings = make_settings(own_url, tmp_path)
    engines = [create_db_engine(own_url) for _ in range(2)]
    databases = [Database.on(engine, run_in_threads=True) for engine in engines]
    try:
        with receiving(200) as receiver:
            with databases[0].transaction() as db:
                for n in range(40):
                    service.enqueue(db, KIND, {"url": receiver.url, "n": n})

            async def both() -> list[int]:
                outboxes = [Outbox(d, settings, batch=5) for d in databases]
                try:
                    return list(await asyncio.gather(*(o.drain() for o in outboxes)))
                finally:
                    for outbox in outboxes:
                        await outbox.stop()

            made = run_coroutine(both)
            sent = Counter(r.json()["n"] for r in receiver.delivered)
        assert sum(made) == 40 and all(made), f"both took part: {made}"
        assert sorted(sent) == list(range(40)) and set(sent.values()) == {1}
        assert statuses(databases[0]) == {"delivered": 40}
    finally:
        for engine in engines:
            engine.dispose()


def test_a_message_left_by_an_instance_that_died_is_delivered_by_the_next(
    own_url: str, tmp_path: Path
) -> None:
    settings = make_settings(own_url, tmp_path, runner_url="off")
    with receiving(200) as receiver:
        first = create_app(settings)
        with TestClient(first) as client:
            # The deliverer gone (the process killed), right after the change committed.
            assert client.portal is not None
            client.portal.call(first.state.outbox.stop)
            with first.state.database.transaction() as db:
                service.enqueue(db, KIND, {"url": receiver.url, "n": "after the crash"})
        assert receiver.requests == []
        second = create_app(settings)
        with TestClient(second):
            delivered = receiver.wait_for(1)
        assert [r.json()["n"] for r in delivered] == ["after the crash"]


def test_a_commit_that_enqueued_wakes_the_deliverer_without_waiting_for_its_poll(
    own_url: str, tmp_path: Path
) -> None:
    settings = make_settings(own_url, tmp_path, runner_url="off")
    with receiving(200) as receiver:
        app = create_app(settings)
        with TestClient(app):
            app.state.outbox.poll_seconds = 3600  # from its next wait on: only a wake helps
            time.sleep(1.5)  # the wait under way (a second) ends
            with app.state.database.transaction() as db:
                service.enqueue(db, KIND, {"url": receiver.url, "n": "woken"})
            started = time.monotonic()
            receiver.wait_for(1, timeout=10)
            assert time.monotonic() - started < 5
