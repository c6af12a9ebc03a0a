"""Learners by an LMS's id for them, and a course's attempts listed for an integration.

An LMS knows its users by its own id (`sub` under its issuer), not by ours: a learner is found
by that pair (app.learners.models.ExternalIdentity, which LTI launches use too) or made, as an
account without a password, and enrolled. A course's attempts come from one query in
(started_at, session id) order, paged by keyset (app.core.pagination.Keyset): grades are the
assignment rules' own (rules.grade_percent), as in the gradebook, and staff previews are left
out as the gradebook leaves them (gradebook.service.not_staff).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts.service import account_learner, find_user, normalise_email
from app.attempts import assignments
from app.attempts import rules as rules_
from app.attempts.models import Answer, Assignment, QuizSession
from app.attempts.rules import GRACE
from app.core.db import as_utc, utcnow
from app.core.errors import AppError, NotFoundError
from app.core.pagination import Keyset
from app.courses import service as courses
from app.courses.models import Course, Enrolment
from app.gradebook.service import not_staff
from app.learners.models import ExternalIdentity, Learner, User
from app.results.schemas import (
    AttemptItem,
    AttemptStatus,
    ExternalId,
    ExternalLearnerIn,
    ExternalLearnerOut,
)


class HalfExternalIdError(AppError):
    status = 422
    code = "validation_error"


def put_external_learner(
    db: Session, course: Course, given: ExternalLearnerIn
) -> ExternalLearnerOut:
    """Find or make the account of (issuer, subject), and enrol it: PUT twice, one account."""
    user, created = _external_user(db, given)
    enrolled = courses.join(db, course, user.id)
    return _learner_out(db, user, given, created=created, enrolled=enrolled)


def get_external_learner(
    db: Session, course: Course, issuer: str, subject: str
) -> ExternalLearnerOut:
    """A learner of the course by their LMS id; 404 for anyone else, known or not."""
    user = _user_of(db, issuer, subject)
    if user is None or db.get(Enrolment, (course.id, user.id)) is None:
        raise NotFoundError(
            f"no learner of this course has the id {subject!r} under {issuer!r}", field="subject"
        )
    return _learner_out(db, user, ExternalId(issuer=issuer, subject=subject))


def _user_of(db: Session, issuer: str, subject: str) -> User | None:
    return db.scalar(
        select(User)
        .join(ExternalIdentity, ExternalIdentity.user_id == User.id)
        .where(ExternalIdentity.issuer == issuer, ExternalIdentity.subject == subject)
    )


def _external_user(db: Session, given: ExternalLearnerIn) -> tuple[User, bool]:
    """The account of the pair, or a new one; two requests at once make one (the identity's
    unique key refuses the second, which then finds the first's)."""
    found = _user_of(db, given.issuer, given.subject)
    if found is not None:
        return found, False
    email = given.email and normalise_email(given.email)
    if email and find_user(db, email) is not None:
        email = None  # someone else's address: never attach it to this account
    try:
        with db.begin_nested():
            user = User(email=email, display_name=given.name, password_hash=None)
            db.add(user)
            db.flush()
            db.add(ExternalIdentity(issuer=given.issuer, subject=given.subject, user_id=user.id))
            db.flush()
    except IntegrityError:
        found = _user_of(db, given.issuer, given.subject)
        if found is None:  # the address was taken meanwhile: the account goes without it
            return _external_user(db, given.model_copy(update={"email": None}))
        return found, False
    return user, True


def _learner_out(
    db: Session, user: User, external: ExternalId, *, created: bool = False, enrolled: bool = False
) -> ExternalLearnerOut:
    return ExternalLearnerOut(
        issuer=external.issuer,
        subject=external.subject,
        learner_id=account_learner(db, user).public_id,
        name=user.display_name,
        email=user.email,
        created=created,
        enrolled=enrolled,
    )


@dataclass(frozen=True)
class AttemptFilters:
    assignment: str | None = None  # public ids
    learner: str | None = None
    issuer: str | None = None
    subject: str | None = None
    status: AttemptStatus | None = None


def course_attempts(
    db: Session, course: Course, filters: AttemptFilters, *, limit: int, after: Keyset | None
) -> tuple[list[AttemptItem], Keyset | None]:
    """A page of the course's attempts, oldest first, and where the next page starts (None
    on the last): a client paging to the end sees the attempts started meanwhile too."""
    _submit_overdue(db, course)
    query = _attempts_query(db, course, filters)
    if after is not None:
        query = query.where(_after(after))
    rows = list(db.execute(query.order_by(*_ORDER).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    items = _items(db, rows)
    last = rows[-1].QuizSession if rows else None
    return items, Keyset(as_utc(last.started_at), last.public_id) if more and last else None


_ORDER = (QuizSession.started_at, QuizSession.public_id)


def _after(after: Keyset) -> ColumnElement[bool]:
    return or_(
        QuizSession.started_at > after.at,
        and_(QuizSession.started_at == after.at, QuizSession.public_id > after.id),
    )


def _attempts_query(db: Session, course: Course, filters: AttemptFilters) -> Any:
    query = (
        select(QuizSession, Assignment, Learner.public_id.label("learner"), Learner.user_id)
        .join(Assignment, Assignment.id == QuizSession.assignment_id)
        .join(Learner, Learner.id == QuizSession.learner_id)
        .where(
            Assignment.course_id == course.id,
            QuizSession.mode == "test",
            not_staff(course.id, Learner.user_id),
        )
    )
    if filters.assignment is not None:
        assignment = assignments.course_assignment(db, course.id, filters.assignment)
        query = query.where(QuizSession.assignment_id == assignment.id)
    if filters.learner is not None:
        query = query.where(Learner.public_id == filters.learner)
    if (filters.issuer is None) != (filters.subject is None):
        missing = "subject" if filters.subject is None else "issuer"
        raise HalfExternalIdError(
            f"{missing}: an external id is an issuer and a subject: give both", field=missing
        )
    if filters.issuer is not None:
        users = select(ExternalIdentity.user_id).where(
            ExternalIdentity.issuer == filters.issuer, ExternalIdentity.subject == filters.subject
        )
        query = query.where(Learner.user_id.in_(users))
    if filters.status is not None:
        done = QuizSession.finished_at.is_not(None)
        query = query.where(done if filters.status == "submitted" else ~done)
    return query


def _submit_overdue(db: Session, course: Course) -> None:
    """Attempts whose time is up count as submitted at their deadline before they are read,
    as the gradebook has them (app.attempts.assignments.expire)."""
    now = utcnow()
    overdue = db.scalars(
        select(QuizSession)
        .join(Assignment, Assignment.id == QuizSession.assignment_id)
        .where(
            Assignment.course_id == course.id,
            QuizSession.finished_at.is_(None),
            QuizSession.deadline_at <= now - GRACE,
        )
    )
    if assignments.expire(db, list(overdue), now):
        db.expire_all()


def _items(db: Session, rows: list[Any]) -> list[AttemptItem]:
    sessions = [row.QuizSession for row in rows]
    points = _points(db, [s.id for s in sessions])
    external = _external_ids(db, {row.user_id for row in rows if row.user_id is not None})
    rules = {}
    items = []
    for row in rows:
        session, assignment = row.QuizSession, row.Assignment
        if assignment.id not in rules:
            rules[assignment.id] = assignments.rules_of(assignment)
        items.append(
            _item(
                session,
                assignment.public_id,
                row.learner,
                rules[assignment.id],
                points.get(session.id, 0.0),
                external.get(row.user_id, []),
            )
        )
    return items


def _item(
    session: QuizSession,
    assignment: str,
    learner: str,
    rules: rules_.AssignmentRules,
    points: float,
    external: list[ExternalId],
) -> AttemptItem:
    submitted = as_utc(session.finished_at) if session.finished_at else None
    percent = session.score if submitted else None
    return AttemptItem(
        session_id=session.public_id,
        assignment_id=assignment,
        learner_id=learner,
        external_ids=external,
        attempt=session.attempt or 1,
        status="submitted" if submitted else "open",
        started_at=as_utc(session.started_at),
        submitted_at=submitted,
        deadline_at=as_utc(session.deadline_at) if session.deadline_at else None,
        score=round(points, 2) if submitted else None,
        max_score=len(session.version_ids),
        percent=percent,
        grade=_grade(rules, percent, submitted),
        late=submitted is not None and rules_.is_late(rules, submitted),
    )


def _grade(
    rules: rules_.AssignmentRules, percent: float | None, submitted: datetime | None
) -> float | None:
    if percent is None or submitted is None:
        return None
    return rules_.grade_percent(rules, percent, submitted)


def _points(db: Session, session_ids: list[int]) -> dict[int, float]:
    """Each attempt's points: its saved answers' scores (what records.submit sums)."""
    if not session_ids:
        return {}
    rows = db.execute(
        select(Answer.session_id, func.sum(Answer.score))
        .where(Answer.session_id.in_(session_ids), Answer.slot.is_not(None))
        .group_by(Answer.session_id)
    )
    return {session_id: float(total or 0.0) for session_id, total in rows}


def _external_ids(db: Session, user_ids: set[int]) -> dict[int, list[ExternalId]]:
    if not user_ids:
        return {}
    found: dict[int, list[ExternalId]] = {}
    rows = db.scalars(
        select(ExternalIdentity)
        .where(ExternalIdentity.user_id.in_(user_ids))
        .order_by(ExternalIdentity.issuer, ExternalIdentity.subject)
    )
    for row in rows:
        found.setdefault(row.user_id, []).append(ExternalId(issuer=row.issuer, subject=row.subject))
    return found
