"""A lab run's changes, announced to its readers in every process.

The database holds each run whole; the feed only tells readers that it changed, and where.
The process following a run (app.lab.running) commits each change, then appends its number to
the feed (app.lab.service.changes: the start, each epoch, the end, counted from the run itself).
A reader waits on the feed after the change it last showed, then reads the run again. So a
reader's place is one number that every process derives alike from the database: the live
events' `id`, resumable on any replica with Last-Event-ID (app.lab.live).

Two implementations, chosen by TORCHQUIZ_REDIS_URL (`feed_of`):
- MemoryFeed, the embedded default: one process; readers are woken in it, and a slow look at
  the database covers a change made by another process (several workers without Redis, or a
  neighbour ending a run whose holder died).
- RedisFeed: a Redis Stream per run, `{prefix}lab:{public_id}`, whose entry ids are the change
  numbers (`7-0` is change 7: ids stay in order, and a change appended twice is refused by
  Redis as not newer). Readers block in XREAD on any replica. Each stream is trimmed to its
  latest entries (only the newest matters to a waiting reader) and expires a while after the
  run's last change.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from app.core.config import Settings
from app.core.redis import Keys, connect

log = logging.getLogger("torchquiz")

# A reader with no sign of a change looks at the database again after this long anyway: with
# the memory feed, the only way to see another process's change; with Redis, a safety net for
# a change whose announcement was lost (Redis away for a moment). Its streams also send a
# comment line then, which keeps proxies from closing a quiet connection.
QUIET_SECONDS = 15.0
MEMORY_POLL_SECONDS = 1.0  # the memory feed's look at the database (other processes' changes)
REDIS_DOWN_SECONDS = 1.0  # how long a reader waits before trying again when Redis fails
KEEP_ENTRIES = 32  # a run's stream keeps about this many latest entries
ACTIVE_TTL_SECONDS = 24 * 3600  # a run's stream outlives its last change by this long...
FINISHED_TTL_SECONDS = 600  # ...or this long once it has ended (late readers read the database)


class Feed(Protocol):
    async def append(self, public_id: str, change: int, *, finished: bool) -> None:
        """Announce change number `change` of a run, committed to the database already."""

    async def wait(self, public_id: str, after: int, seconds: float) -> bool:
        """Until a change after `after` is announced (True), or `seconds` pass (False).
        A False does not mean nothing changed: the caller reads the database either way."""

    async def aclose(self) -> None: ...


class MemoryFeed:
    """One process's readers, woken by its own recorder; `poll_seconds` bounds how long a
    change made by another process goes unseen."""

    def __init__(self, poll_seconds: float = MEMORY_POLL_SECONDS) -> None:
        self.poll_seconds = poll_seconds
        self._latest: dict[str, int] = {}
        self._changed: dict[str, asyncio.Event] = {}

    async def append(self, public_id: str, change: int, *, finished: bool) -> None:
        self._latest[public_id] = max(change, self._latest.get(public_id, 0))
        if event := self._changed.pop(public_id, None):
            event.set()
        if finished:  # a reader reading the run now sees it ended: no need to remember it long
            asyncio.get_running_loop().call_later(60, self._latest.pop, public_id, None)

    async def wait(self, public_id: str, after: int, seconds: float) -> bool:
        if self._latest.get(public_id, 0) > after:  # announced while the reader read the run
            return True
        changed = self._changed.setdefault(public_id, asyncio.Event())
        try:
            async with asyncio.timeout(min(seconds, self.poll_seconds)):
                await changed.wait()
        except TimeoutError:
            return False
        return True

    async def aclose(self) -> None:
        for event in self._changed.values():
            event.set()
        # A reader still waiting afterwards gets a new event: one left set would wake it at
        # once, every time, and its loop would never yield to the others.
        self._changed.clear()


class RedisFeed:
    """A Stream per run on the site's Redis. A reader holds one connection while it blocks.
    `owned`: the client is this feed's own, closed with it (not one the app shares)."""

    def __init__(self, client: aioredis.Redis, prefix: str, *, owned: bool = True) -> None:
        self.client, self.keys, self.owned = client, Keys(prefix), owned
        self._down = False  # said once when Redis fails, once when it is back

    def key(self, public_id: str) -> str:
        return self.keys("lab", public_id)

    async def append(self, public_id: str, change: int, *, finished: bool) -> None:
        """Best effort: the change is in the database already, and readers look there again
        after QUIET_SECONDS even if this announcement is lost."""
        key = self.key(public_id)
        ttl = FINISHED_TTL_SECONDS if finished else ACTIVE_TTL_SECONDS
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.xadd(
                    key,
                    {"change": change, "finished": int(finished)},
                    id=f"{change}-0",
                    maxlen=KEEP_ENTRIES,
                    approximate=True,
                )
                pipe.expire(key, ttl)
                added, _ = await pipe.execute(raise_on_error=False)
            if isinstance(added, ResponseError) and "equal or smaller" not in str(added):
                raise added  # anything but "announced already"
        except RedisError as exc:
            log.warning("lab run %s: announcing change %d failed: %s", public_id, change, exc)

    async def wait(self, public_id: str, after: int, seconds: float) -> bool:
        try:
            found = await self.client.xread(
                {self.key(public_id): f"{after}-0"}, count=1, block=max(1, int(seconds * 1000))
            )
        except RedisError as exc:  # Redis away: readers fall back on reading the database
            if not self._down:
                log.warning("lab: live events read from the database while Redis fails: %s", exc)
            self._down = True
            await asyncio.sleep(REDIS_DOWN_SECONDS)
            return False
        if self._down:
            log.info("lab: live events through Redis again")
        self._down = False
        return bool(found)

    async def aclose(self) -> None:
        if self.owned:
            await self.client.aclose()


def feed_of(settings: Settings, client: aioredis.Redis | None = None) -> Feed:
    """The feed the settings ask for: Redis when TORCHQUIZ_REDIS_URL is set (on `client` if
    the app has one already), else this process's memory."""
    if not settings.redis_url:
        return MemoryFeed()
    if client is not None:
        return RedisFeed(client, settings.redis_prefix, owned=False)
    return RedisFeed(connect(settings.redis_url), settings.redis_prefix)
