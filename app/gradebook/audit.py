"""The audit log: one append-only entry per change a person made to a grade (an override set
or removed, a regrade applied), read back per course, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.db import as_utc
from app.gradebook.models import AuditEntry
from app.learners.models import Learner, User


def record(
    db: Session,
    *,
    course_id: int | None,
    actor_id: int | None,
    action: str,
    target: dict[str, Any],
    before: Any,
    after: Any,
    reason: str | None,
) -> AuditEntry:
    entry = AuditEntry(
        course_id=course_id,
        actor_id=actor_id,
        action=action,
        target=target,
        before=before,
        after=after,
        reason=reason,
    )
    db.add(entry)
    db.flush()
    return entry


@dataclass(frozen=True)
class LoggedChange:
    id: int
    at: datetime
    actor: str | None  # who, by name or email; None once their account is gone
    action: str
    target: dict[str, Any]
    before: Any
    after: Any
    reason: str | None
    learner_name: str | None = None  # the target learner's, to read the log by


def course_log(
    db: Session, course_id: int, *, limit: int, offset: int
) -> tuple[list[LoggedChange], int]:
    """One page of the course's audit log, newest first, and how many entries it holds."""
    total = db.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.course_id == course_id)
    )
    rows = db.execute(
        select(AuditEntry, func.coalesce(User.display_name, User.email))
        .outerjoin(User, User.id == AuditEntry.actor_id)
        .where(AuditEntry.course_id == course_id)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    names = _learner_names(db, {str(e.target.get("learner")) for e, _ in rows})
    changes = [
        LoggedChange(
            id=entry.id,
            at=as_utc(entry.created_at),
            actor=actor,
            action=entry.action,
            target=entry.target,
            before=entry.before,
            after=entry.after,
            reason=entry.reason,
            learner_name=names.get(str(entry.target.get("learner"))),
        )
        for entry, actor in rows
    ]
    return changes, total or 0


def _learner_names(db: Session, public_ids: set[str]) -> dict[str, str]:
    if not public_ids:
        return {}
    rows = db.execute(
        select(Learner.public_id, func.coalesce(User.display_name, User.email))
        .join(User, User.id == Learner.user_id)
        .where(Learner.public_id.in_(public_ids))
    )
    return {public_id: name for public_id, name in rows if name}
