"""Whether Redis answers (TORCHQUIZ_REDIS_URL), for /readyz and /metrics.

A background task PINGs it every CHECK_SECONDS with a short timeout and keeps the answer, so
that a probe reads it without waiting (and without a connection of its own): Redis down makes
the replica not ready within CHECK_SECONDS, and ready again by itself as soon as it answers.
/healthz (liveness) never looks: a Redis outage is no reason to restart the app.
"""

from __future__ import annotations

import asyncio
import contextlib

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from app.core.redis import connect

CHECK_SECONDS = 1.0
PING_SECONDS = 1.0
NOT_CHECKED = "not checked yet"


class RedisHealth:
    def __init__(self, url: str) -> None:
        self.url = url
        self.problem: str | None = NOT_CHECKED  # None: it answered the last PING

    @property
    def ok(self) -> bool:
        return self.problem is None

    def status(self) -> str:
        """ "ok", or why not, as /readyz says it."""
        return self.problem or "ok"

    async def monitor(self) -> None:
        """Check for the life of the app (cancel the task to stop)."""
        client = connect(self.url)
        try:
            while True:
                self.problem = await ping(client)
                await asyncio.sleep(CHECK_SECONDS)
        finally:
            with contextlib.suppress(RedisError, OSError, RuntimeError):
                await client.aclose()


async def ping(client: aioredis.Redis) -> str | None:
    """None if Redis answered PING within PING_SECONDS, else what went wrong (no URL: it may
    hold a password)."""
    try:
        async with asyncio.timeout(PING_SECONDS):
            await client.ping()  # type: ignore[misc]  # redis-py types sync and async as one
    except TimeoutError:
        return f"unreachable: no answer within {PING_SECONDS:g} s"
    except (RedisError, OSError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        return f"unreachable: {type(exc).__name__}: {first_line}".rstrip(": ")
    return None
