"""What each domain event sends a course's webhooks: registered at start-up (`install`, from
app.main). Each handler runs in the transaction of the change and only writes outbox rows.

- `attempt.submitted`: every submitted attempt at one of the course's assignments.
- `assignment.completed`: the attempt just submitted was the learner's last allowed one
  (`attempts_allowed` reached), with the final grade as the gradebook has it (best attempt,
  late penalty applied, a staff override if set). An assignment with unlimited attempts never
  completes: a learner may always try again.
- `question.reported`: a learner reported a problem with one of the course's questions.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attempts import rules as rules_
from app.attempts.assignments import rules_of
from app.attempts.models import Assignment
from app.core import events
from app.courses.models import Course
from app.gradebook.service import grade_rows
from app.learners.models import ExternalIdentity, Learner
from app.outbox import delivery
from app.webhooks import sender, service


def install() -> None:
    """Register the deliverer and the event handlers (once, however often called)."""
    delivery.register(service.KIND, sender.deliver)
    events.on_attempt_submitted(attempt_submitted)
    events.on_report_filed(report_filed)


def learner_data(db: Session, learner_id: int | None) -> dict[str, Any] | None:
    """A learner as a receiver can match them: our public id, and their ids in other systems
    (an LMS's user id under its issuer) when their account has any."""
    learner = db.get(Learner, learner_id) if learner_id is not None else None
    if learner is None:
        return None
    external: list[dict[str, str]] = []
    if learner.user_id is not None:
        found = db.execute(
            select(ExternalIdentity.issuer, ExternalIdentity.subject)
            .where(ExternalIdentity.user_id == learner.user_id)
            .order_by(ExternalIdentity.id)
        )
        external = [{"issuer": issuer, "subject": subject} for issuer, subject in found]
    return {"id": learner.public_id, "external_ids": external}


def attempt_submitted(db: Session, event: events.AttemptSubmitted) -> None:
    assignment = db.get(Assignment, event.assignment_id)
    if assignment is None or assignment.course_id is None:
        return  # a shipped topic's own test: no course to tell
    if not service.wanted(db, assignment.course_id) & {"attempt.submitted", "assignment.completed"}:
        return  # the common case: no webhook here, and no query more
    course = db.get(Course, assignment.course_id)
    assert course is not None
    rules = rules_of(assignment)
    learner = learner_data(db, event.learner_id)
    about = {
        "course": course.slug,
        "assignment": {"id": assignment.public_id, "title": assignment.title},
        "learner": learner,
    }
    attempt = {
        "id": event.session_public_id,
        "number": event.attempt,
        "started_at": event.started_at.isoformat(),
        "submitted_at": event.submitted_at.isoformat(),
        "points": event.points,
        "questions": event.total,
        "score": event.percent,
        "grade": rules_.grade_percent(rules, event.percent, event.submitted_at),
        "late": rules_.is_late(rules, event.submitted_at),
        "timed_out": event.timed_out,
    }
    at = event.submitted_at
    service.publish(db, course.id, "attempt.submitted", {**about, "attempt": attempt}, at)
    allowed = rules.attempts_allowed
    if allowed is not None and (event.attempt or 0) >= allowed:
        rows = grade_rows(db, assignment, event.learner_id)
        row = rows[0] if rows else None
        final = {
            "attempts": event.attempt,
            "attempts_allowed": allowed,
            "final_grade": row.final if row else attempt["grade"],
            "best_attempt": row.best.session if row and row.best else event.session_public_id,
            "overridden": bool(row and row.override is not None),
        }
        service.publish(db, course.id, "assignment.completed", {**about, **final}, at)


def report_filed(db: Session, event: events.ReportFiled) -> None:
    if event.course_id is None:
        return  # the shipped bank's question: no course to tell
    if "question.reported" not in service.wanted(db, event.course_id):
        return
    course = db.get(Course, event.course_id)
    assert course is not None
    data = {
        "course": course.slug,
        "question": {"slug": event.question_slug, "version_id": event.version_id},
        "report": {
            "id": event.report_public_id,
            "kind": event.kind,
            "text": event.text,
            "filed_at": event.filed_at.isoformat(),
        },
        "learner": learner_data(db, event.learner_id),
    }
    service.publish(db, course.id, "question.reported", data, event.filed_at)
