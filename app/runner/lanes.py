"""The sandbox pool's lanes: runs of some kinds, at most `parallel` at once and at most `depth`
more waiting (app.runner.pool refuses the next with 429 and a retry hint).

Snippets, checks and code tests answer in tens of milliseconds; a learner's own lab model
(`lab_code`) trains for up to a minute. Sharing slots, three sleeping lab runs made another
learner's `print(1)` wait 50 s. So each has a lane of its own: a lab run never holds a place a
snippet could use, and lab runs wait in their own short queue.

Within a lane, runs take turns by requester (the client's network address, else the learner):
- a free place goes to the requester with the fewest runs going, then to the one served
  longest ago (round robin), so a flood from a few addresses waits behind a learner who asks
  now and then, instead of in front of them;
- a busy requester (more runs lately than one learner may start) never takes the last free
  place: it stays free for everyone else, whose run then starts at once instead of after one
  of the flood's.

A run joins the queue at once (`Lane.join`, no await: counted before its caller answers that
the run is accepted) and may be withdrawn from it at once (`Lane.withdraw`, a cancel): its
place in the queue is then free for the next requester, not when its turn would have come.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from app.runner.limits import RunKind
from app.runner.ratelimit import address_key

LONG_KINDS: frozenset[RunKind] = frozenset({"lab_code"})
# Busy: more than 10 runs in 10 s, which no single learner's rate limit allows for long.
BUSY_RUNS, BUSY_WINDOW = 10, 10.0


def requester(*, address: str | None, learner: str | None) -> str:
    """Whom a run counts against for its turn: the client's network address (a script that
    drops its cookie, a new learner each time, is still one requester), else the learner."""
    return address_key(address) if address else learner or ""


class WithdrawnError(Exception):
    """The run was withdrawn from the queue (`Lane.withdraw`) before its turn came."""


@dataclass(eq=False)
class Place:
    """A run's request for a place in a lane, from `Lane.join` until it is granted (the future's
    result True) or withdrawn (False)."""

    who: str
    arrival: int
    granted: asyncio.Future[bool]
    queued: bool = True


class Usage:
    """When each requester was last given places: those of the last BUSY_WINDOW seconds."""

    def __init__(self) -> None:
        self._given: dict[str, deque[float]] = {}

    def add(self, who: str) -> None:
        now = time.monotonic()
        self._recent(who, now).append(now)
        if len(self._given) > 4096:  # forget requesters who have gone quiet
            for quiet in [w for w in self._given if not self._recent(w, now)]:
                del self._given[quiet]

    def busy(self, who: str) -> bool:
        return len(self._recent(who, time.monotonic())) > BUSY_RUNS

    def _recent(self, who: str, now: float) -> deque[float]:
        given = self._given.setdefault(who, deque())
        while given and given[0] < now - BUSY_WINDOW:
            given.popleft()
        return given


class Lane:
    def __init__(self, *, parallel: int, depth: int, typical_ms: float) -> None:
        self.parallel, self.depth = parallel, depth
        self.waiting = 0  # places queued for, from `join` until granted or withdrawn
        self.active = 0  # places held, including ones granted to a waiter not yet resumed
        self._reserved = 1 if parallel > 1 else 0  # places a busy requester may not take
        self._going: Counter[str] = Counter()  # places held, by requester
        self._served: dict[str, int] = {}  # when each requester with runs was last given one
        self._grants = itertools.count()
        self._usage = Usage()
        # Waiting places by requester, each queue oldest first.
        self._queues: dict[str, deque[Place]] = {}
        self._arrivals = itertools.count()
        self._typical_ms = typical_ms  # a run's duration until some have been measured
        self._recent_ms: list[float] = []

    def full(self, who: str = "") -> bool:
        """No place for this requester now, and the queue is at its depth; or the lane has no
        places at all (`parallel` 0), so that nothing would ever leave its queue."""
        return (self.waiting >= self.depth or not self.parallel) and not self._may_take(who)

    def join(self, who: str = "") -> Place:
        """Queue for a place now: counted as waiting before this returns (no await), and given
        a place at once if one is free for `who`. `turn` then waits for it."""
        place = Place(who, next(self._arrivals), asyncio.get_running_loop().create_future())
        self._queues.setdefault(who, deque()).append(place)
        self.waiting += 1
        self._grant()
        return place

    def withdraw(self, place: Place) -> bool:
        """Take a place out of the queue at once (its run is cancelled): the queue has room
        for the next requester now, and the run's `turn` raises WithdrawnError. False when the
        place was already granted: too late, the run goes ahead unless its caller stops it."""
        if not place.queued:
            return False
        self._drop(place)
        if not place.granted.done():  # else its waiter was cancelled, and not yet woken
            place.granted.set_result(False)
        return True

    @contextlib.asynccontextmanager
    async def turn(self, who: str = "", place: Place | None = None) -> AsyncIterator[None]:
        """Wait for a place (queued by `join`: here, unless the caller did so already), then
        hold it while the run lasts; WithdrawnError if `withdraw` took it out of the queue."""
        place = place or self.join(who)
        await self._wait(place)
        try:
            yield
        finally:
            self._release(place.who)

    async def _wait(self, place: Place) -> None:
        try:
            granted = await place.granted  # _grant holds the place for us before it wakes us
        except asyncio.CancelledError:
            if place.queued:
                self._drop(place)
            elif place.granted.done() and not place.granted.cancelled() and place.granted.result():
                self._release(place.who)  # given a place we will not use: pass it on
            raise
        if not granted:
            raise WithdrawnError()

    def _may_take(self, who: str) -> bool:
        reserved = self._reserved if self._usage.busy(who) else 0
        return self.active < self.parallel - reserved

    def _grant(self) -> None:
        """Give free places to waiters: of those who may take one, by precedence."""
        while self.active < self.parallel:
            ready = [who for who in self._queues if self._may_take(who)]
            if not ready:
                return
            who = min(ready, key=self._precedence)
            place = self._queues[who][0]
            self._drop(place)
            if not place.granted.done():  # else cancelled, its waiter not yet woken: skip it
                self._hold(who)
                place.granted.set_result(True)

    def _precedence(self, who: str) -> tuple[int, int, int]:
        """Fewest places held first, then served longest ago (never: first), then oldest."""
        return self._going[who], self._served.get(who, -1), self._queues[who][0].arrival

    def _hold(self, who: str) -> None:
        self.active += 1
        self._going[who] += 1
        self._served[who] = next(self._grants)
        self._usage.add(who)

    def _release(self, who: str) -> None:
        self.active -= 1
        self._going[who] -= 1
        if not self._going[who]:
            del self._going[who]
            self._forget_if_idle(who)
        self._grant()

    def _drop(self, place: Place) -> None:
        """Out of the queue (granted, withdrawn or given up): no longer waiting."""
        place.queued = False
        self.waiting -= 1
        queue = self._queues[place.who]
        queue.remove(place)
        if not queue:
            del self._queues[place.who]
            self._forget_if_idle(place.who)

    def _forget_if_idle(self, who: str) -> None:
        """Nothing going or waiting: the requester starts afresh next time."""
        if who not in self._going and who not in self._queues:
            self._served.pop(who, None)

    def remember(self, elapsed_ms: float) -> None:
        self._recent_ms = [*self._recent_ms[-49:], elapsed_ms]

    def retry_after(self) -> float:
        """Seconds until the queue has room, from how long recent runs took."""
        recent = sorted(self._recent_ms)
        typical = recent[len(recent) // 2] if recent else self._typical_ms
        waits = self.waiting / max(self.parallel, 1)
        return max(1.0, round(waits * typical / 1000, 1))

    def status(self) -> dict[str, Any]:
        return {
            "running": self.active,
            "queued": self.waiting,
            "parallel": self.parallel,
            "queue_depth": self.depth,
        }
