"""Writing messages to the outbox, and reading its delivery log.

`enqueue` runs in the caller's transaction: the message exists exactly when the change it
reports does. When that transaction commits, this process's deliverer is woken at once
(`on_enqueue`), so a message goes out in milliseconds rather than at the next poll; other
processes find it at their next poll.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, event, func, or_, select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.errors import NotFoundError
from app.outbox.models import OutboxMessage, OutboxTry

# Set in a session's `info` by enqueue; read (and cleared) when that session commits.
_WAKE = "outbox_enqueued"
_wakers: list[Callable[[], None]] = []


def enqueue(
    db: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    key: str | None = None,
    course_id: int | None = None,
    replace_pending: bool = False,
) -> OutboxMessage:
    """Add a message to deliver once the caller's transaction commits.

    `replace_pending`: a pending message of the same kind and key that no deliverer holds
    right now is updated in place (a newer score replaces a stale one not yet sent); one being
    delivered is left alone and a second message is added after it."""
    now = utcnow()
    if replace_pending and key is not None:
        waiting = db.scalar(
            select(OutboxMessage)
            .where(
                OutboxMessage.kind == kind,
                OutboxMessage.key == key,
                OutboxMessage.status == "pending",
                or_(OutboxMessage.leased_until.is_(None), OutboxMessage.leased_until < now),
            )
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
        if waiting is not None:
            waiting.payload = payload
            waiting.course_id = course_id
            waiting.next_attempt_at = now
            waiting.attempts = 0  # new content: a full set of tries
            db.flush()
            db.info[_WAKE] = True
            return waiting
    message = OutboxMessage(
        kind=kind,
        key=key,
        course_id=course_id,
        payload=payload,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    db.add(message)
    db.flush()
    db.info[_WAKE] = True
    return message


def on_enqueue(wake: Callable[[], None]) -> None:
    """Call `wake` (from any thread) after a transaction that enqueued something commits."""
    if wake not in _wakers:
        _wakers.append(wake)


def off_enqueue(wake: Callable[[], None]) -> None:
    if wake in _wakers:
        _wakers.remove(wake)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_WAKE, False):
        for wake in list(_wakers):
            wake()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_WAKE, None)


def replay(db: Session, message_id: int) -> OutboxMessage:
    """A new pending copy of a message (same kind, key, course and payload), whatever became
    of the original: the delivery log's Replay button."""
    original = db.get(OutboxMessage, message_id)
    if original is None:
        raise NotFoundError(f"no outbox message {message_id}", field="message")
    return enqueue(
        db, original.kind, dict(original.payload), key=original.key, course_id=original.course_id
    )


def messages(
    db: Session,
    *,
    course_id: int | None = None,
    kind: str | None = None,
    where: ColumnElement[bool] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[OutboxMessage], int]:
    """The delivery log: messages of a course and kind (and `where`, a feature's own filter),
    newest first, one page of them, and how many there are in all."""
    conditions: list[ColumnElement[bool]] = []
    if course_id is not None:
        conditions.append(OutboxMessage.course_id == course_id)
    if kind is not None:
        conditions.append(OutboxMessage.kind == kind)
    if where is not None:
        conditions.append(where)
    total = db.scalar(select(func.count()).select_from(OutboxMessage).where(*conditions)) or 0
    rows = db.scalars(
        select(OutboxMessage)
        .where(*conditions)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


def tries(db: Session, message_ids: list[int]) -> dict[int, list[OutboxTry]]:
    """Every try at delivering these messages, by message, first first."""
    found: dict[int, list[OutboxTry]] = {one: [] for one in message_ids}
    if message_ids:
        query = select(OutboxTry).where(OutboxTry.message_id.in_(message_ids))
        for row in db.scalars(query.order_by(OutboxTry.id)):
            found[row.message_id].append(row)
    return found


def pending_count(db: Session, now: datetime | None = None) -> int:
    """Messages waiting (due now when `now` is given)."""
    query = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")
    if now is not None:
        query = query.where(OutboxMessage.next_attempt_at <= now)
    return db.scalar(query) or 0
