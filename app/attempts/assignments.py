"""Assignments and their attempts: the one way a test starts, is timed and ends.

An attempt is a test session (`quiz_sessions`, mode "test") pointing at its assignment, with
its number and its deadline. A shipped topic's Test mode is that topic's default assignment
(`default_assignment`), so the shipped test and a course's assignment share every rule here.
"""

from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from app.attempts import records
from app.attempts import rules as rules_
from app.attempts.drawing import draw_questions, just_met, learner_random, pick_variants, pool_of
from app.attempts.history import graded_answers
from app.attempts.models import Assignment, QuizSession
from app.attempts.records import SessionRecord
from app.attempts.rules import AssignmentRules
from app.core.db import add_once, as_utc, utcnow
from app.core.errors import AppError, ConflictError, NotFoundError
from app.learners.models import Learner
from app.questions.catalog import Catalog, CatalogTopic


class ClosedError(ConflictError):
    """No new attempt now: not yet open, closed, or no attempts left."""


def rules_of(assignment: Assignment) -> AssignmentRules:
    return AssignmentRules.model_validate(assignment.rules)


def get_assignment(db: Session, public_id: str) -> Assignment:
    found = db.scalar(
        select(Assignment).where(
            Assignment.public_id == public_id, Assignment.archived_at.is_(None)
        )
    )
    if found is None:
        raise NotFoundError(f"no assignment '{public_id}'", field="assignment")
    return found


def course_assignment(db: Session, course_id: int, public_id: str) -> Assignment:
    """One of the course's assignments (archived ones included: staff still read their
    results); another course's is as unknown as a missing one."""
    found = db.scalar(
        select(Assignment).where(
            Assignment.public_id == public_id, Assignment.course_id == course_id
        )
    )
    if found is None:
        raise NotFoundError(f"no assignment '{public_id}' in this course", field="assignment")
    return found


def default_assignment(db: Session, topic: CatalogTopic) -> Assignment:
    """The shipped topic's Test mode, made on first use (once, whatever the processes)."""
    query = select(Assignment).where(Assignment.topic_id == topic.id, Assignment.is_default)
    found = db.scalar(query)
    if found is None:
        add_once(
            db,
            Assignment(
                topic_id=topic.id,
                title=f"{topic.topic.title}: test",
                rules=rules_.default_test(topic.slug).model_dump(mode="json"),
                is_default=True,
            ),
        )
        found = db.scalar(query)
    assert found is not None
    return found


def assignment_of(db: Session, session: SessionRecord) -> Assignment | None:
    """The assignment a test is an attempt at (None for practice); read once per request."""
    return db.get(Assignment, session.assignment_id) if session.assignment_id else None


def session_rules(db: Session, session: SessionRecord) -> AssignmentRules | None:
    """The rules of the assignment a test is an attempt at, as they are now."""
    assignment = assignment_of(db, session)
    return rules_of(assignment) if assignment is not None else None


def sources(db: Session, catalog: Catalog, rules: AssignmentRules) -> list[CatalogTopic]:
    """The topics the rules draw from, as served now (a course's bank included)."""
    try:
        return [catalog.session_topic(db, slug) for slug in rules.sources]
    except NotFoundError as missing:
        raise AppError(missing.message, field="sources") from None


def check_rules(db: Session, catalog: Catalog, rules: AssignmentRules) -> None:
    """Refuse rules whose sources or fixed questions do not exist, before they are saved."""
    pool = pool_of(sources(db, catalog, rules))
    unknown = [ref for ref in rules.questions if ref not in pool]
    if unknown:
        raise AppError(f"no question {unknown[0]} among the sources", field="questions")


def attempts(db: Session, assignment: Assignment, learner_id: int) -> list[QuizSession]:
    """A learner's attempts at the assignment, first first."""
    return list(
        db.scalars(
            select(QuizSession)
            .where(QuizSession.assignment_id == assignment.id, QuizSession.learner_id == learner_id)
            .order_by(QuizSession.attempt)
        )
    )


def start_attempt(
    db: Session,
    catalog: Catalog,
    assignment: Assignment,
    learner: Learner,
    *,
    rng: random.Random,
    now: datetime | None = None,
) -> SessionRecord:
    """The learner's open attempt, or a new one when the rules allow it.

    Two tabs starting at once make one attempt: its number is unique per learner and
    assignment, and the tab that loses the insert resumes the winner's.
    """
    now = now or utcnow()
    rules = rules_of(assignment)
    for _try in range(2):
        if expire(db, attempts(db, assignment, learner.id), now):
            db.expire_all()  # the rows just submitted, read afresh below
        mine = attempts(db, assignment, learner.id)
        still_open = [a for a in mine if a.finished_at is None]
        if still_open:
            return SessionRecord.of(still_open[-1])
        refusal = rules_.closed_reason(rules, now, used=len(mine))
        if refusal is not None:
            raise ClosedError(refusal)
        session = _new_attempt(db, catalog, assignment, rules, learner, len(mine) + 1, rng, now)
        if add_once(db, session):
            return SessionRecord.of(session)
    raise ConflictError("another attempt was started at the same moment; try again")


def _new_attempt(
    db: Session,
    catalog: Catalog,
    assignment: Assignment,
    rules: AssignmentRules,
    learner: Learner,
    number: int,
    rng: random.Random,
    now: datetime,
) -> QuizSession:
    topics = sources(db, catalog, rules)
    avoid: set[str] = set()
    if rules.prefer_unseen:
        history = [a for t in topics for a in graded_answers(db, learner.id, t)]
        avoid = just_met(history, now)
    mine = (assignment.public_id, learner.public_id)
    chosen = draw_questions(
        pool_of(topics), rules, rng, avoid=avoid, order_rng=learner_random(*mine)
    )
    if not chosen:
        raise AppError("this assignment's sources hold no questions yet", field="sources")
    variant_seed = "/".join(mine) if rules.variant_per_learner else None
    return QuizSession(
        learner_id=learner.id,
        topic_id=assignment.topic_id,
        mode="test",
        version_ids=pick_variants(chosen, rng, variant_seed),
        filters={} if rules.shuffle_options else {"shuffle_options": False},
        assignment_id=assignment.id,
        attempt=number,
        started_at=now,
        deadline_at=rules_.deadline(rules, now),
    )


def expire(db: Session, sessions: list[QuizSession], now: datetime) -> int:
    """Submit every attempt here left open past its deadline, as at its deadline; how many."""
    overdue = [
        SessionRecord.of(s) for s in sessions if records.time_is_up(SessionRecord.of(s), now)
    ]
    for session in overdue:
        assert session.deadline_at is not None
        records.submit(db, session, as_utc(session.deadline_at))
    return len(overdue)


def expire_assignment(db: Session, assignment: Assignment) -> int:
    """Before reading an assignment's results: submit its attempts whose time is up."""
    return _expire_where(db, QuizSession.assignment_id == assignment.id)


def expire_learner(db: Session, learner_id: int) -> int:
    """Before listing a learner's sessions: submit their attempts whose time is up."""
    return _expire_where(db, QuizSession.learner_id == learner_id)


def _expire_where(db: Session, *where: ColumnElement[bool]) -> int:
    now = utcnow()
    overdue = db.scalars(
        select(QuizSession).where(
            *where,
            QuizSession.finished_at.is_(None),
            QuizSession.deadline_at <= now - rules_.GRACE,
        )
    )
    return expire(db, list(overdue), now)


def attempt_count(db: Session, assignment_id: int, learner_id: int) -> int:
    return (
        db.scalar(
            select(func.count())
            .select_from(QuizSession)
            .where(QuizSession.assignment_id == assignment_id, QuizSession.learner_id == learner_id)
        )
        or 0
    )


def archive(db: Session, assignment: Assignment) -> None:
    db.execute(
        update(Assignment).where(Assignment.id == assignment.id).values(archived_at=utcnow())
    )
