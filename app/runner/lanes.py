"""The sandbox pool's lanes: runs of some kinds, at most `parallel` at once and at most `depth`
more waiting (app.runner.pool refuses the next with 429 and a retry hint).

Snippets, checks and code tests answer in tens of milliseconds; a learner's own lab model
(`lab_code`) trains for up to a minute. Sharing slots, three sleeping lab runs made another
learner's `print(1)` wait 50 s. So each has a lane of its own: a lab run never holds a place a
snippet could use, and lab runs wait in their own short queue.

Within a lane, a free place goes to the requester (the client's network address, else the
learner) with the fewest runs going, then to the one served longest ago (round robin): a flood
from a few addresses waits behind a learner who asks now and then, instead of in front of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter, deque
from collections.abc import AsyncIterator
from typing import Any

from app.runner.limits import RunKind
from app.runner.ratelimit import address_key

LONG_KINDS: frozenset[RunKind] = frozenset({"lab_code"})


def requester(*, address: str | None, learner: str | None) -> str:
    """Whom a run counts against for its turn: the client's network address (a script that
    drops its cookie, a new learner each time, is still one requester), else the learner."""
    return address_key(address) if address else learner or ""


class Lane:
    def __init__(self, *, parallel: int, depth: int, typical_ms: float) -> None:
        self.parallel, self.depth = parallel, depth
        self.waiting = 0
        self.active = 0  # places held, including ones granted to a waiter not yet resumed
        self._going: Counter[str] = Counter()  # places held, by requester
        self._served: dict[str, int] = {}  # when each requester with runs was last given one
        self._grants = itertools.count()
        # Waiters by requester, each queue oldest first, tagged with its arrival number.
        self._queues: dict[str, deque[tuple[int, asyncio.Future[None]]]] = {}
        self._arrivals = itertools.count()
        self._typical_ms = typical_ms  # a run's duration until some have been measured
        self._recent_ms: list[float] = []

    def full(self) -> bool:
        return self.active >= self.parallel and self.waiting >= self.depth

    @contextlib.asynccontextmanager
    async def turn(self, who: str = "") -> AsyncIterator[None]:
        """Wait for a place (counted as waiting meanwhile), then hold it while the run lasts."""
        if self.active < self.parallel and not self._queues:
            self._hold(who)
        else:
            await self._wait(who)
        try:
            yield
        finally:
            self._release(who)

    async def _wait(self, who: str) -> None:
        granted = asyncio.get_running_loop().create_future()
        entry = (next(self._arrivals), granted)
        self._queues.setdefault(who, deque()).append(entry)
        self.waiting += 1
        try:
            await granted  # _release holds the place for us before it wakes us
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self._release(who)  # given a place we will not use: pass it on
            elif entry in self._queues.get(who, ()):
                self._drop(who, entry)
            raise
        finally:
            self.waiting -= 1

    def _hold(self, who: str) -> None:
        self.active += 1
        self._going[who] += 1
        self._served[who] = next(self._grants)

    def _release(self, who: str) -> None:
        self.active -= 1
        self._going[who] -= 1
        if not self._going[who]:
            del self._going[who]
            self._forget_if_idle(who)
        while self._queues and self.active < self.parallel:
            nxt = min(self._queues, key=self._precedence)
            entry = self._queues[nxt][0]
            self._drop(nxt, entry)
            if not entry[1].done():  # else cancelled, its waiter not yet woken: skip it
                self._hold(nxt)
                entry[1].set_result(None)

    def _precedence(self, who: str) -> tuple[int, int, int]:
        """Fewest places held first, then served longest ago (never: first), then oldest."""
        return self._going[who], self._served.get(who, -1), self._queues[who][0][0]

    def _drop(self, who: str, entry: tuple[int, asyncio.Future[None]]) -> None:
        self._queues[who].remove(entry)
        if not self._queues[who]:
            del self._queues[who]
            self._forget_if_idle(who)

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
