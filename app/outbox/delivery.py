"""Delivering the outbox: a background task that leases due messages, hands each to the
deliverer registered for its kind, and records what happened.

- Leasing: a message is claimed by setting `leased_until` (now + LEASE) in a short
  transaction: on PostgreSQL the due rows are selected `FOR UPDATE SKIP LOCKED`, so two
  processes never claim the same row; on SQLite (one writer at a time) each row is claimed by
  a conditional UPDATE that only succeeds while nobody holds it. A deliverer that crashed
  leaves its lease to expire, and the message is delivered again: delivery is at least once.
- Outcomes: `Delivered` ends a message; `Refused` (the other side said no for good) ends it
  as "refused" with its reason, never retried; `Retry` (and any exception) tries again after
  2^tries seconds (capped at an hour, with jitter), and after MAX_TRIES tries it is "dead".
- A kind with no deliverer registered stays pending (logged once), for a later version.
- Database work goes through app.core.db.Database (never blocking the event loop on a
  server database); the network through one shared httpx.AsyncClient with timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import Database, utcnow
from app.core.handlers import log_failed_round
from app.outbox import service
from app.outbox.models import OutboxMessage, OutboxTry

log = logging.getLogger("torchquiz.outbox")

MAX_TRIES = 12
MAX_BACKOFF_SECONDS = 3600
LEASE = timedelta(seconds=60)  # longer than any one delivery may take (DELIVERY_TIMEOUT)
DELIVERY_TIMEOUT_SECONDS = 30.0  # a deliverer may make a few calls (a token, then a post)
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
POLL_SECONDS = 1.0
BATCH = 20
CONCURRENCY = 8
ERROR_LENGTH = 2000  # of an error kept: the start says what went wrong


@dataclass(frozen=True)
class Delivered:
    status: int | None = None


@dataclass(frozen=True)
class Retry:
    error: str
    status: int | None = None
    after: timedelta | float | None = None  # the other side's Retry-After, if it said


@dataclass(frozen=True)
class Refused:
    """A permanent no (a 4xx that retrying cannot fix): recorded, never retried."""

    error: str
    status: int | None = None


Outcome = Delivered | Retry | Refused


@dataclass(frozen=True)
class DeliveryContext:
    """What a deliverer works with, besides the payload: the database (its own transactions,
    through `database.run`), the shared HTTP client, the settings, and the message's identity."""

    database: Database
    http: httpx.AsyncClient
    settings: Settings
    message_id: int = 0
    key: str | None = None
    course_id: int | None = None
    attempt: int = 1  # 1 for the first try


Deliverer = Callable[[DeliveryContext, dict[str, Any]], Awaitable[Outcome]]
_deliverers: dict[str, Deliverer] = {}


def register(kind: str, deliver: Deliverer) -> None:
    """Deliver messages of `kind` with `deliver` (registering again replaces it)."""
    _deliverers[kind] = deliver


def deliverer(kind: str) -> Deliverer | None:
    return _deliverers.get(kind)


@dataclass(frozen=True)
class Leased:
    """A message claimed by this deliverer until `lease`, as plain values."""

    id: int
    kind: str
    key: str | None
    course_id: int | None
    payload: dict[str, Any]
    attempts: int
    lease: datetime


def backoff_seconds(tries: int, rng: Callable[[], float] = random.random) -> float:
    """How long to wait after the `tries`-th failed try: 2^tries seconds, capped at an hour,
    with jitter (between half and all of it) so that many messages failing together do not
    come back together."""
    ceiling = min(2.0**tries, MAX_BACKOFF_SECONDS)
    return ceiling * (0.5 + 0.5 * rng())


def _due(now: datetime, kinds: list[str]) -> Any:
    return and_(
        OutboxMessage.status == "pending",
        OutboxMessage.kind.in_(kinds),
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.leased_until.is_(None), OutboxMessage.leased_until < now),
    )


def lease(db: Session, kinds: list[str], now: datetime, limit: int) -> list[Leased]:
    """Claim up to `limit` due messages of these kinds until now + LEASE."""
    until = now + LEASE
    due = _due(now, kinds)
    order = (OutboxMessage.next_attempt_at, OutboxMessage.id)
    if db.get_bind().dialect.name == "postgresql":
        ids = list(
            db.scalars(
                select(OutboxMessage.id)
                .where(due)
                .order_by(*order)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if ids:
            db.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(leased_until=until)
            )
    else:
        candidates = list(
            db.scalars(select(OutboxMessage.id).where(due).order_by(*order).limit(limit))
        )
        ids = [
            one
            for one in candidates
            if db.connection()
            .execute(
                update(OutboxMessage).where(OutboxMessage.id == one, due).values(leased_until=until)
            )
            .rowcount
            == 1
        ]
    if not ids:
        return []
    rows = db.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.kind,
            OutboxMessage.key,
            OutboxMessage.course_id,
            OutboxMessage.payload,
            OutboxMessage.attempts,
        )
        .where(OutboxMessage.id.in_(ids))
        .order_by(*order)
    )
    return [
        Leased(row.id, row.kind, row.key, row.course_id, row.payload, row.attempts, lease=until)
        for row in rows
    ]


def record(
    db: Session,
    message: Leased,
    outcome: Outcome,
    *,
    now: datetime,
    duration_ms: int,
    max_tries: int = MAX_TRIES,
    rng: Callable[[], float] = random.random,
) -> str:
    """Store what became of one try; returns the message's new status."""
    tries = message.attempts + 1
    values: dict[str, Any] = {
        "attempts": tries,
        "leased_until": None,
        "last_status": outcome.status,
    }
    if isinstance(outcome, Delivered):
        status, values["delivered_at"], values["last_error"] = "delivered", now, None
        kind_of_try = "delivered"
    elif isinstance(outcome, Refused):
        status, values["last_error"] = "refused", outcome.error[:ERROR_LENGTH]
        kind_of_try = "refused"
    else:
        values["last_error"] = outcome.error[:ERROR_LENGTH]
        if tries >= max_tries:
            status = kind_of_try = "dead"
        else:
            status, kind_of_try = "pending", "retry"
            wait = outcome.after
            seconds = (
                wait.total_seconds()
                if isinstance(wait, timedelta)
                else float(wait)
                if wait is not None
                else backoff_seconds(tries, rng)
            )
            # At least a second: a deliverer answering "retry now" must not spin through its
            # tries in a tight loop.
            seconds = min(max(seconds, 1.0), MAX_BACKOFF_SECONDS)
            values["next_attempt_at"] = now + timedelta(seconds=seconds)
    values["status"] = status
    # Only while this deliverer still holds the lease: one that outlived it must not
    # overwrite what the deliverer that took over recorded.
    held = db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.leased_until == message.lease)
        .values(**values)
    )
    if held.rowcount != 1:  # type: ignore[attr-defined]
        log.warning(
            "outbox message %d: the lease ran out before its outcome was recorded", message.id
        )
    db.add(
        OutboxTry(
            message_id=message.id,
            at=now,
            outcome=kind_of_try,
            status=outcome.status,
            error=None if isinstance(outcome, Delivered) else outcome.error[:ERROR_LENGTH],
            duration_ms=duration_ms,
        )
    )
    return status


def due_kinds(db: Session, now: datetime) -> list[str]:
    """The kinds of the pending messages due at `now`."""
    return list(
        db.scalars(
            select(OutboxMessage.kind)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .distinct()
        )
    )


class Outbox:
    """This process's deliverer. `start()` in the app's lifespan, `stop()` at shutdown;
    `drain()` delivers everything due now and returns (tests, the CLI). `clock` is the
    notion of now (tests move it forward instead of sleeping through a backoff)."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] = utcnow,
        poll_seconds: float = POLL_SECONDS,
        batch: int = BATCH,
        concurrency: int = CONCURRENCY,
        max_tries: int = MAX_TRIES,
        rng: Callable[[], float] = random.random,
        sqlite_file: str | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.max_tries = max_tries
        self.rng = rng
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(
            timeout=HTTP_TIMEOUT, headers={"User-Agent": "torchquiz"}
        )
        self._limit = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.sqlite_file = sqlite_file
        self._reader: sqlite3.Connection | None = None
        self._warned: set[str] = set()

    # --- the background task -------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        service.on_enqueue(self._woken)
        self._task = asyncio.create_task(self._run(), name="outbox")

    async def stop(self) -> None:
        service.off_enqueue(self._woken)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._own_http and not self.http.is_closed:
            await self.http.aclose()

    def _woken(self) -> None:
        """After a commit that enqueued something: from whichever thread committed."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: shutting down
                loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                due = await self._due_kinds()
                for kind in due - set(_deliverers) - self._warned:
                    self._warned.add(kind)
                    log.warning("outbox: no deliverer for kind %r; its messages wait", kind)
                if due & set(_deliverers):
                    await self.drain()
            except Exception as exc:  # the task outlives a failed round: the next poll tries again
                log_failed_round(
                    log, f"outbox: delivering failed; trying again in {self.poll_seconds}s", exc
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def _due_kinds(self) -> set[str]:
        """The kinds of the messages due now: the poll's question, asked without a lock.

        On SQLite every transaction of ours begins IMMEDIATE (takes the write lock), and a
        poll each second would queue behind, or hold up, a long writer; this read goes on
        its own connection without a transaction, which in WAL mode waits for nobody."""
        now = self.clock()
        if self.sqlite_file is None:
            return set(await self.database.run(due_kinds, now))
        if self._reader is None:
            self._reader = sqlite3.connect(
                self.sqlite_file, isolation_level=None, check_same_thread=False
            )
        rows = self._reader.execute(
            "SELECT DISTINCT kind FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?",
            (now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),),
        )
        return {kind for (kind,) in rows}

    # --- delivering ----------------------------------------------------------------------

    async def drain(self) -> int:
        """Deliver every message due now (leased by nobody else); returns how many tries
        were made. A retried message comes back later, so this ends."""
        kinds = sorted(_deliverers)
        if not kinds:
            return 0
        made = 0
        while True:
            batch = await self.database.run(lease, kinds, self.clock(), self.batch)
            if not batch:
                return made
            await asyncio.gather(*(self._deliver(message) for message in batch))
            made += len(batch)

    async def _deliver(self, message: Leased) -> None:
        deliver = _deliverers[message.kind]
        context = DeliveryContext(
            self.database,
            self.http,
            self.settings,
            message_id=message.id,
            key=message.key,
            course_id=message.course_id,
            attempt=message.attempts + 1,
        )
        # The outcome is recorded under the same limit: a deliverer's database work and
        # its try's record never outnumber the connections the limit allows for.
        async with self._limit:
            started = time.monotonic()
            try:
                async with asyncio.timeout(DELIVERY_TIMEOUT_SECONDS):
                    outcome = await deliver(context, message.payload)
            except TimeoutError:
                outcome = Retry(f"no answer within {DELIVERY_TIMEOUT_SECONDS:.0f} s")
            except Exception as exc:
                log.warning("outbox message %d (%s) failed: %r", message.id, message.kind, exc)
                outcome = Retry(f"{type(exc).__name__}: {exc}")
            took = int((time.monotonic() - started) * 1000)
            status = await self.database.run(
                record,
                message,
                outcome,
                now=self.clock(),
                duration_ms=took,
                max_tries=self.max_tries,
                rng=self.rng,
            )
        if status in ("dead", "refused"):
            log.warning("outbox message %d (%s) %s: %s", message.id, message.kind, status, outcome)
