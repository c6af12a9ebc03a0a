"""The lab's Redis feed on the real Redis, and a live server ending the runs of one that died,
on SQLite and PostgreSQL: two Labs on one database and one Redis stand for two processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from app.core.db import Database, create_db_engine, migrate_database, utcnow
from app.core.redis import connect
from app.lab import service
from app.lab.config import BASELINE
from app.lab.feed import FINISHED_TTL_SECONDS, QUIET_SECONDS, MemoryFeed, RedisFeed
from app.lab.running import Lab
from tests.conftest import BACKENDS, REDIS_URL, own_database


@pytest.fixture(scope="module", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    for url in own_database(request.param, tmp_path_factory, "livefeed"):
        made = create_db_engine(url)
        migrate_database(url, made)
        yield made
        made.dispose()


def lapsed_run(database: Database, owner: str) -> str:
    with database.transaction() as db:
        run = service.new_run(db, None, BASELINE, task=False, torch_version="t", owner=owner)
        run.lease_until = utcnow() - timedelta(seconds=1)
        db.flush()
        return run.public_id


def test_a_live_neighbour_ends_the_runs_of_a_server_that_died_and_wakes_their_readers(
    engine: Engine, redis_prefix: str
) -> None:
    database = Database.on(engine)
    dead = lapsed_run(database, "host:1:dead")

    async def scenario() -> None:
        reader = Lab(database, None, feed=RedisFeed(connect(REDIS_URL), redis_prefix))
        neighbour = Lab(database, None, feed=RedisFeed(connect(REDIS_URL), redis_prefix))
        with database.transaction() as db:  # the neighbour's own run, its hold lapsed too
            own = service.new_run(
                db, None, BASELINE, task=False, torch_version="t", owner=neighbour.owner
            )
            own.lease_until, own_id = utcnow() - timedelta(seconds=1), own.public_id
        updates = reader.follow(None, dead)
        first = await anext(updates)
        assert first.run is not None and first.run.status == "queued" and first.change == 0
        keeping = asyncio.create_task(neighbour.keep_leases())
        asked = time.monotonic()
        try:
            ended = await asyncio.wait_for(anext(updates), QUIET_SECONDS)
            took = time.monotonic() - asked
            assert ended.run is not None and ended.run.status == "failed"
            assert ended.run.message == service.HOLDER_GONE and ended.change == 2
            assert took < 3, f"woken by the feed, not by a look at the database ({took:.1f} s)"
            with pytest.raises(StopAsyncIteration):
                await anext(updates)
            key = f"{redis_prefix}lab:{dead}"
            assert [entry_id for entry_id, _ in await reader.feed.client.xrange(key)] == ["2-0"]  # type: ignore[attr-defined]
            assert 0 < await reader.feed.client.ttl(key) <= FINISHED_TTL_SECONDS  # type: ignore[attr-defined]
            assert (await neighbour.run_view(None, own_id)).status == "queued", "its own: renewed"
        finally:
            keeping.cancel()
            await reader.close()
            await neighbour.close()

    asyncio.run(scenario())


def test_the_redis_feed_takes_each_change_once_and_wakes_only_for_newer_ones(
    redis_prefix: str,
) -> None:
    async def scenario() -> None:
        feed = RedisFeed(connect(REDIS_URL), redis_prefix)
        try:
            assert not await feed.wait("r1", 0, 0.05), "nothing announced: the wait times out"
            await feed.append("r1", 1, finished=False)
            await feed.append("r1", 1, finished=False)  # announced twice (a retry): kept once
            await feed.append("r1", 2, finished=False)
            entries = await feed.client.xrange(feed.key("r1"))
            assert [entry_id for entry_id, _ in entries] == ["1-0", "2-0"]
            assert await feed.wait("r1", 1, 0.05) and not await feed.wait("r1", 2, 0.05)
            waiting = asyncio.create_task(feed.wait("r1", 2, 5))
            await asyncio.sleep(0.05)
            await feed.append("r1", 3, finished=True)
            assert await asyncio.wait_for(waiting, 1)
        finally:
            await feed.aclose()

    asyncio.run(scenario())


def test_the_memory_feed_wakes_a_reader_of_its_process_at_once() -> None:
    async def scenario() -> None:
        feed = MemoryFeed(poll_seconds=5)
        waiting = asyncio.create_task(feed.wait("r1", 0, 5))
        await asyncio.sleep(0.01)
        await feed.append("r1", 1, finished=False)
        assert await asyncio.wait_for(waiting, 1)
        assert await feed.wait("r1", 0, 5), "announced before the wait: no waiting"
        assert not await feed.wait("r2", 0, 0.01)
        await feed.aclose()

    asyncio.run(scenario())


def test_while_redis_is_away_readers_still_see_each_change_from_the_database(
    engine: Engine, redis_prefix: str
) -> None:
    database = Database.on(engine)
    with database.transaction() as db:
        run = service.new_run(db, None, BASELINE, task=False, torch_version="t", owner="here")
        run_id, public_id = run.id, run.public_id

    async def scenario() -> None:
        away = "redis://127.0.0.1:1/0"  # nothing listens there
        lab = Lab(database, None, feed=RedisFeed(connect(away), redis_prefix))
        try:
            updates = lab.follow(None, public_id)
            assert (await anext(updates)).change == 0
            assert await lab._apply(run_id, {"type": "started"}), "recorded though not announced"
            started = await asyncio.wait_for(anext(updates), 5)
            assert started.run is not None and started.run.status == "running"
            await lab._apply(run_id, {"type": "cancelled"})
            ended = await asyncio.wait_for(anext(updates), 5)
            assert ended.run is not None and ended.run.status == "cancelled" and ended.change == 2
        finally:
            await lab.close()

    asyncio.run(scenario())
