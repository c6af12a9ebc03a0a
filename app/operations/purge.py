"""Purging rows that have served their purpose, so that tables which grow with traffic do not
grow forever: `torchquiz purge`, and a background task in every server process.

What goes (RULES), and after how long (settings, README "Configuration"):
- outbox messages that are finished (delivered, refused, dead) and older than
  TORCHQUIZ_OUTBOX_RETENTION_DAYS (30), with their tries and webhook log rows (ON DELETE
  CASCADE); pending messages are never touched, however old;
- rows past their own expiry by more than TORCHQUIZ_EXPIRED_RETENTION_DAYS (1): LTI logins
  (state and nonce: a login is good for 10 minutes), idempotency keys (24 hours), account
  sessions, password resets, unaccepted staff invitations and LTI deep-linking sessions;
- import previews (app.authoring.transfer) as soon as they expire: an upload nobody confirmed
  is no record of anything.
Learners' data (answers, attempts, lab runs) and the audit log are never purged: they are the
site's record, removed only with the learner (app.privacy).

Safe with many processes: each rule is `DELETE ... WHERE id IN (SELECT id ... LIMIT n)`, in
batches of BATCH rows, each its own short transaction, so neither engine holds a lock for long
and two replicas purging at once only find less to delete. Cheap when there is nothing to do:
one query per rule, once an hour, at a random offset per process so replicas do not line up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import Database, utcnow
from app.core.handlers import log_failed_round
from app.models import Base

log = logging.getLogger("torchquiz.purge")

BATCH = 1000
FINISHED = ("delivered", "refused", "dead")
EXPIRING = (
    "lti_logins",
    "idempotency_keys",
    "account_sessions",
    "password_resets",
    "staff_invites",
    "lti_deep_links",
)


@dataclass(frozen=True)
class Rule:
    """Which rows of a table may go, given the moment `now`."""

    table: str
    where: Callable[[Table, datetime, Settings], Any]
    says: str


def _finished_messages(t: Table, now: datetime, settings: Settings) -> Any:
    before = now - timedelta(days=settings.outbox_retention_days)
    return t.c.status.in_(FINISHED) & (t.c.created_at < before)


def _expired(t: Table, now: datetime, settings: Settings) -> Any:
    before = now - timedelta(days=settings.expired_retention_days)
    where = t.c.expires_at < before
    if "accepted_at" in t.c:  # an accepted invitation is the record of who joined the staff
        where = where & t.c.accepted_at.is_(None)
    return where


def _past_expiry(t: Table, now: datetime, settings: Settings) -> Any:
    return t.c.expires_at < now


RULES = [
    Rule("outbox", _finished_messages, "finished outbox messages (and their tries)"),
    *(Rule(name, _expired, f"expired {name.replace('_', ' ')}") for name in EXPIRING),
    Rule("course_imports", _past_expiry, "expired import previews (and their uploads)"),
]


def purge_rule(db: Session, rule: Rule, now: datetime, settings: Settings, *, dry_run: bool) -> int:
    """One batch of the rule (or, with dry_run, how many rows it would delete in all)."""
    t = Base.metadata.tables[rule.table]
    where = rule.where(t, now, settings)
    if dry_run:
        return int(db.scalar(select(func.count()).select_from(t).where(where)) or 0)
    ids = select(t.c.id).where(where).order_by(t.c.id).limit(BATCH).scalar_subquery()
    result: Any = db.execute(delete(t).where(t.c.id.in_(ids)))
    return int(result.rowcount or 0)


async def purge(database: Database, settings: Settings, *, dry_run: bool = False) -> dict[str, int]:
    """Every rule until it has nothing left; rows deleted (or that would be) by table."""
    now = utcnow()
    counts: dict[str, int] = {}
    for rule in RULES:
        total = 0
        while True:
            n = await database.run(purge_rule, rule, now, settings, dry_run=dry_run)
            total += n
            if dry_run or n < BATCH:
                break
        counts[rule.table] = total
    return counts


class Purger:
    """The background task: a purge every `settings.purge_interval_seconds` (0: never)."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.settings.purge_interval_seconds > 0:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        interval = self.settings.purge_interval_seconds
        await asyncio.sleep(random.uniform(0.1, 1.0) * interval)  # noqa: S311 - spread only
        while True:
            try:
                counts = await purge(self.database, self.settings)
                if any(counts.values()):
                    log.info("purged old rows: %s", {k: n for k, n in counts.items() if n})
            except Exception as exc:  # a database outage must not end the task: try next time
                log_failed_round(log, "purging old rows failed", exc)
            await asyncio.sleep(interval)
