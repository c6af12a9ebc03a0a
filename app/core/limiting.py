"""The app's rate limits, counted where every app process sees the same counts: in Redis when
TORCHQUIZ_REDIS_URL is set (through `limits`' async storage on redis-py's asyncio client, so a
route never blocks the event loop on it), else in this process's memory (the embedded default:
one process, nothing to share).

Every limit here is "a burst, then a rate" (failed sign-ins, new learners per address, an API
token's requests). `limits` has no token bucket; its moving window "`burst` per `burst / rate`"
is the closest it offers, and is what `Rule` asks for:
- the same burst, and the same rate in the long run;
- never more lenient than the token bucket: in any stretch of time T it allows at most
  burst * ceil(T / window) <= burst + rate * T, the bucket's own bound;
- but a spent burst comes back as it was spent (each try counts for one window), where the
  bucket gave one back every 1 / rate: after 10 failed sign-ins at once, the next is allowed
  10 minutes later (then as many as were spent 10 minutes before), not after one minute.
The moving window rather than the sliding window counter: it is exact (a log of at most
`burst` times per key, small for these limits) where the counter approximates the previous
window as spread evenly, and lets a burst through twice at a window's edge.

A Redis that fails mid-request answers 503 with a message (LimitsUnavailableError): a limited
route does not go unlimited, nor answers 500. redis-py reconnects by itself on the next call
once Redis is back.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import cast

import anyio.from_thread
import redis.asyncio as aioredis
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.aio.strategies import MovingWindowRateLimiter as SharedWindows
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter as LocalWindows
from redis.exceptions import RedisError

from app.core.errors import AppError
from app.core.redis import CONNECT_TIMEOUT_SECONDS, Keys

log = logging.getLogger("torchquiz")

# How long a limited request waits on Redis before it answers 503, and the Retry-After then.
REDIS_TIMEOUT_SECONDS = 2.0
RETRY_SECONDS = 5


class LimitsUnavailableError(AppError):
    status = 503
    code = "redis_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "the store of this site's rate limits (Redis) is not answering; "
            f"try again in {RETRY_SECONDS} seconds"
        )
        self.headers = {"Retry-After": str(RETRY_SECONDS)}


@dataclass(frozen=True)
class Rule:
    """A burst, then `per_minute`: `burst` per window of `burst / per_minute` minutes."""

    burst: int
    per_minute: float

    @property
    def item(self) -> RateLimitItem:
        window = max(1, round(60 * self.burst / self.per_minute))
        return RateLimitItemPerSecond(self.burst, window)

    def describe(self) -> str:
        return f"{self.burst} at once, then {self.per_minute:g} a minute"


def retry_after(wait: float) -> str:
    """A Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait)))


class Limits:
    """The app's one store of counts (`app.state.limits`). Each call answers the seconds to
    wait: 0 when allowed. A refused hit spends nothing."""

    def __init__(self, redis_url: str = "", prefix: str = "torchquiz:") -> None:
        self.shared = bool(redis_url)
        self._local: LocalWindows | None = None
        self._redis: SharedWindows | None = None
        if redis_url:
            storage = RedisStorage(
                _limits_uri(redis_url),
                implementation="redispy",
                wrap_exceptions=True,
                key_prefix=Keys(prefix)("limits"),
                socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
            )
            self._redis = SharedWindows(storage)
            bridge = cast(RedispyBridge, storage.bridge)
            self._client = cast(aioredis.Redis, bridge.get_connection())
        else:
            self._local = LocalWindows(MemoryStorage())

    async def hit(self, rule: Rule, *key: str) -> float:
        """Spend one from `key`'s window under `rule`."""
        if self._local is not None:
            return self._hit_local(rule, key)
        assert self._redis is not None
        try:
            if await self._redis.hit(rule.item, *key):
                return 0.0
            return _refused(await self._redis.get_window_stats(rule.item, *key))
        except (StorageError, RedisError, OSError) as exc:
            raise _unavailable(exc) from None

    async def wait(self, rule: Rule, *key: str) -> float:
        """What `hit` would answer, spending nothing."""
        if self._local is not None:
            return _wait(self._local.get_window_stats(rule.item, *key))
        assert self._redis is not None
        try:
            return _wait(await self._redis.get_window_stats(rule.item, *key))
        except (StorageError, RedisError, OSError) as exc:
            raise _unavailable(exc) from None

    def hit_here(self, rule: Rule, *key: str) -> float:
        """`hit` for synchronous code: a route's transaction, in a worker thread whenever
        Redis is configured (Settings.routes_on_event_loop), which waits here for the event
        loop to ask Redis; on the loop itself only with the in-memory counts."""
        if self._local is not None:
            return self._hit_local(rule, key)
        return anyio.from_thread.run(self.hit, rule, *key)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._client.aclose()

    def _hit_local(self, rule: Rule, key: tuple[str, ...]) -> float:
        assert self._local is not None
        if self._local.hit(rule.item, *key):
            return 0.0
        return _refused(self._local.get_window_stats(rule.item, *key))


def _wait(stats: tuple[float, int]) -> float:
    """From a window's (reset time, remaining): 0 while some remain, else the seconds until
    its oldest hit leaves the window."""
    return 0.0 if stats[1] > 0 else _refused(stats)


def _refused(stats: tuple[float, int]) -> float:
    """A refused hit's wait: never 0 (its window may have moved on since it was refused)."""
    return max(0.1, round(stats[0] - time.time(), 1))


def _limits_uri(redis_url: str) -> str:
    """`limits`' name for the async storage of a redis-py URL."""
    if redis_url.startswith("unix://"):
        return "async+redis+unix://" + redis_url.removeprefix("unix://")
    return "async+" + redis_url


def _unavailable(exc: BaseException) -> LimitsUnavailableError:
    log.warning("rate limits: Redis is not answering: %s: %s", type(exc).__name__, exc)
    return LimitsUnavailableError()
