"""What one app process tells the others when something they may keep has changed: a session
ended, an API token revoked, the origins CORS allows, the platforms that may frame our pages.

Each process keeps such things for a few seconds (app.learners.sessions.Kept,
app.core.refreshed.Refreshed), so that a busy site does not ask the database on every request.
With several processes (TORCHQUIZ_REDIS_URL set), a change made in one must be seen by all at
once: the process that makes it announces it on a Redis pub/sub channel under the site's prefix,
and every process forgets what it kept. Without Redis this process is the whole site and the
announcement goes to this process's own caches only, as it always did.

Pub/sub delivers only to those listening at the time. So a process trusts its caches only while
it listens (`trusted`); when its subscription breaks (Redis restarted, the network), every cache
is bypassed and read from the database, and when it listens again everything kept is forgotten
(`on_reset`), since a message may have been missed meanwhile.

A change is announced from inside its transaction, just before the commit (the routes that make
them are one transaction each): a process that hears it and reads the database at once may still
read the old value. So what was announced is not kept again for SETTLING_SECONDS: until then,
each ask reads the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable

from redis.exceptions import RedisError

from app.core.errors import AppError
from app.core.redis import Keys, connect

log = logging.getLogger("torchquiz")

SETTLING_SECONDS = 2.0
PUBLISH_TIMEOUT_SECONDS = 3.0
RESUBSCRIBE_SECONDS = 1.0  # after a broken subscription, the next try


class InvalidationsUnavailableError(AppError):
    """A change could not be told to the other processes: it is not made (503)."""

    status = 503
    code = "redis_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "this change could not reach the site's other servers (Redis is not answering), "
            "so it was not made; try again in a few seconds"
        )
        self.headers = {"Retry-After": "5"}


class Invalidations:
    """`app.state.invalidations`: `on(topic, handler)` at start-up, `announce(topic, key)` on
    a change; `start()` and `stop()` in the app's lifespan."""

    def __init__(self, redis_url: str = "", prefix: str = "torchquiz:") -> None:
        self._handlers: dict[str, list[Callable[[str], None]]] = {}
        self._resets: list[Callable[[], None]] = []
        self._redis = connect(redis_url) if redis_url else None
        self._channel = Keys(prefix)("invalidations")
        self._me = uuid.uuid4().hex  # our own messages come back: already handled here
        self._listening = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()

    @property
    def shared(self) -> bool:
        return self._redis is not None

    @property
    def trusted(self) -> bool:
        """May caches serve what they keep? Always without Redis; with it, only while this
        process hears the others' announcements."""
        return self._redis is None or self._listening

    def on(self, topic: str, handler: Callable[[str], None]) -> None:
        self._handlers.setdefault(topic, []).append(handler)

    def on_reset(self, handler: Callable[[], None]) -> None:
        """`handler` forgets everything kept: called whenever this process (re)subscribes."""
        self._resets.append(handler)

    def announce(self, topic: str, key: str = "") -> None:
        """Handled here at once, and told to every other process. From a worker thread (a
        route's transaction) this waits until Redis took the message, and raises
        InvalidationsUnavailableError if it could not (the route's change is rolled back);
        on the event loop it is sent in the background, as soon as the caller yields."""
        self._dispatch(topic, key)
        if self._redis is None or self._loop is None:
            return
        message = json.dumps({"from": self._me, "topic": topic, "key": key})
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            task = self._loop.create_task(self._publish(message, raising=False))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
            return
        future = asyncio.run_coroutine_threadsafe(self._publish(message), self._loop)
        try:
            future.result(timeout=PUBLISH_TIMEOUT_SECONDS)
        except TimeoutError:
            future.cancel()
            raise InvalidationsUnavailableError() from None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._redis is not None and self._task is None:
            self._task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._redis is not None:
            await self._redis.aclose()

    async def _publish(self, message: str, *, raising: bool = True) -> None:
        assert self._redis is not None
        try:
            await self._redis.publish(self._channel, message)
        except (RedisError, OSError) as exc:
            log.warning("could not announce a change to the other servers: %r", exc)
            if raising:
                raise InvalidationsUnavailableError() from None

    async def _listen(self) -> None:
        assert self._redis is not None
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            connection = None
            try:
                await pubsub.subscribe(self._channel)
                # redis-py reconnects and subscribes again by itself after a broken connection:
                # anything announced meanwhile was missed, so each reconnection forgets too.
                if (connection := pubsub.connection) is not None:
                    connection.register_connect_callback(self._reconnected)
                self._reset()
                self._listening = True
                log.info("listening for other servers' changes on %s", self._channel)
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        self._receive(message["data"])
            except (RedisError, OSError) as exc:
                if self._listening:
                    log.warning("stopped hearing other servers' changes: %r", exc)
            finally:
                self._listening = False
                if connection is not None:
                    connection.deregister_connect_callback(self._reconnected)
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(RESUBSCRIBE_SECONDS)

    async def _reconnected(self, _: object) -> None:
        self._reset()

    def _receive(self, data: str) -> None:
        try:
            message = json.loads(data)
            if message["from"] != self._me:
                self._dispatch(str(message["topic"]), str(message["key"]))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("an unreadable change announcement was ignored: %r", exc)

    def _dispatch(self, topic: str, key: str) -> None:
        for handler in self._handlers.get(topic, ()):
            handler(key)

    def _reset(self) -> None:
        for handler in self._resets:
            handler()
