"""Grades set by hand: an override replaces a learner's computed grade (their best attempt)
until removed, and every change is an audit entry with the grade before and after, who made
it and why."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.attempts.models import Assignment
from app.core import events
from app.core.db import add_once, utcnow
from app.core.errors import AppError, NotFoundError
from app.gradebook import audit
from app.gradebook.models import GradeOverride
from app.gradebook.service import GradeRow, grade_rows, roster_learner
from app.learners.models import Learner


def _checked(percent: float, reason: str) -> str:
    """The service's own guard, whichever face called it (the schemas check first)."""
    if not 0 <= percent <= 100:
        raise AppError("the grade is a percent, from 0 to 100", field="percent")
    if not reason.strip():
        raise AppError("give a reason: it is kept in the audit log", field="reason")
    return reason.strip()


def _target(assignment: Assignment, learner: Learner) -> dict[str, str]:
    return {"assignment": assignment.public_id, "learner": learner.public_id}


def set_override(
    db: Session,
    assignment: Assignment,
    learner_public_id: str,
    *,
    percent: float,
    reason: str,
    actor_id: int | None,
) -> GradeRow:
    """Set (or change) the learner's grade by hand; their line afterwards."""
    reason = _checked(percent, reason)
    learner, before = roster_learner(db, assignment, learner_public_id)
    key = (assignment.id, learner.id)
    values = {"percent": percent, "reason": reason, "set_by": actor_id, "set_at": utcnow()}
    existing = db.get(GradeOverride, key)
    if existing is None and not add_once(
        db, GradeOverride(assignment_id=assignment.id, learner_id=learner.id, **values)
    ):
        existing = db.get(GradeOverride, key)  # another request set one first: change it
    if existing is not None:
        for name, value in values.items():
            setattr(existing, name, value)
    return _audited(db, assignment, learner, before, "grade.override", reason, actor_id)


def remove_override(
    db: Session,
    assignment: Assignment,
    learner_public_id: str,
    *,
    reason: str,
    actor_id: int | None,
) -> GradeRow:
    """Back to the computed grade (the best attempt's); 404 when no override is set."""
    reason = _checked(0, reason)
    learner, before = roster_learner(db, assignment, learner_public_id)
    existing = db.get(GradeOverride, (assignment.id, learner.id))
    if existing is None:
        raise NotFoundError("this learner's grade has no override to remove", field="learner")
    db.delete(existing)
    return _audited(db, assignment, learner, before, "grade.override.remove", reason, actor_id)


def _audited(
    db: Session,
    assignment: Assignment,
    learner: Learner,
    before: GradeRow,
    action: str,
    reason: str,
    actor_id: int | None,
) -> GradeRow:
    """The learner's line after the change, with the change's audit entry written."""
    db.flush()
    after = grade_rows(db, assignment, learner.id)[0]
    audit.record(
        db,
        course_id=assignment.course_id,
        actor_id=actor_id,
        action=action,
        target=_target(assignment, learner),
        before=before.final,
        after=after.final,
        reason=reason,
    )
    events.grade_changed(db, assignment.id, learner.id)  # an LMS's gradebook follows
    return after
