"""Caches that every app process keeps for seconds (sessions, API tokens, CORS origins) are
emptied in every process at once when one process changes what they hold (app.core.
invalidations, over Redis pub/sub under the site's prefix), and are not trusted while a
process cannot hear the others."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from app.core.invalidations import Invalidations
from app.learners.sessions import Account, LiveSessions
from tests.conftest import REDIS_URL

ADA = Account(1, "ada@example.org", None, "learner")
BOB = Account(2, "bob@example.org", None, "learner")


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "not within the time"
        await asyncio.sleep(0.01)


def two_processes(
    prefix: str, scenario: Callable[[LiveSessions, LiveSessions], Awaitable[None]]
) -> None:
    """Two processes' worth of buses and session caches on one Redis, both listening."""

    async def run() -> None:
        buses = [Invalidations(REDIS_URL, prefix), Invalidations(REDIS_URL, prefix)]
        caches = [LiveSessions(shared=bus) for bus in buses]
        for bus in buses:
            await bus.start()
        try:
            await until(lambda: all(bus.trusted for bus in buses))
            await scenario(*caches)
        finally:
            for bus in buses:
                await bus.stop()

    asyncio.run(run())


def test_a_session_ended_in_one_process_is_forgotten_in_the_other(redis_prefix: str) -> None:
    async def scenario(here: LiveSessions, there: LiveSessions) -> None:
        for cache in (here, there):
            cache.keep("ada-1", ADA)
            cache.keep("bob-1", BOB)
        here.forget("ada-1")
        assert here.get("ada-1") is None, "at once where it ended"
        await until(lambda: there.get("ada-1") is None)
        assert there.get("bob-1") == BOB, "only that session"
        there.keep("ada-1", ADA)  # read again before the sign-out committed: not kept
        assert there.get("ada-1") is None

    two_processes(redis_prefix, scenario)


def test_a_password_reset_forgets_every_session_of_the_account_everywhere(
    redis_prefix: str,
) -> None:
    async def scenario(here: LiveSessions, there: LiveSessions) -> None:
        for token in ("ada-1", "ada-2"):
            there.keep(token, ADA)
        there.keep("bob-1", BOB)
        here.forget_user(ADA.user_id)
        await until(lambda: there.get("ada-1") is None and there.get("ada-2") is None)
        assert there.get("bob-1") == BOB

    two_processes(redis_prefix, scenario)


def test_without_a_subscription_nothing_is_served_from_the_cache() -> None:
    async def run() -> None:
        bus = Invalidations("redis://127.0.0.1:1/0", "tqtest:down:")  # nothing listens there
        cache = LiveSessions(shared=bus)
        await bus.start()
        try:
            cache.keep("ada-1", ADA)
            assert not bus.trusted and cache.get("ada-1") is None
        finally:
            await bus.stop()

    asyncio.run(run())


def test_without_redis_the_process_is_the_whole_site_and_forgets_at_once() -> None:
    cache = LiveSessions()
    cache.keep("ada-1", ADA)
    assert cache.get("ada-1") == ADA
    cache.forget("ada-1")
    assert cache.get("ada-1") is None


def test_a_broken_subscription_forgets_everything_kept_once_it_is_back(
    own_redis: tuple[str, list[subprocess.Popen[bytes]]],
) -> None:
    """What was announced while this process did not listen is lost: so, when redis-py has
    subscribed again by itself, everything kept is forgotten."""
    redis_url, _ = own_redis

    async def run() -> None:
        bus = Invalidations(redis_url, "tqtest:")
        cache = LiveSessions(shared=bus)
        await bus.start()
        try:
            await until(lambda: bus.trusted)
            cache.keep("ada-1", ADA)
            assert cache.get("ada-1") == ADA
            admin = aioredis.Redis.from_url(redis_url)
            await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
            await admin.aclose()
            await until(lambda: cache.get("ada-1") is None)
            await until(lambda: bus.trusted)
            cache.keep("ada-1", ADA)
            assert cache.get("ada-1") == ADA, "kept again once listening"
        finally:
            await bus.stop()

    asyncio.run(run())
