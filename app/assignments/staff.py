"""Setting a course's assignments: create, change, archive and list them. The staff pages and
the API both call these, behind their course's content permissions (app.courses.deps).

An assignment draws from its course's own bank (the course's topic in the catalog, refreshed
here so that the newest publish counts) and from the shipped topics; never from another
course's bank, though the catalog serves those too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from app.attempts import assignments
from app.attempts import rules as rules_
from app.attempts.models import Assignment, QuizSession
from app.attempts.rules import AssignmentRules
from app.authoring.practice import served_course
from app.core.db import utcnow
from app.core.errors import AppError
from app.courses.models import Course
from app.questions.catalog import Catalog, CatalogTopic


def offered_sources(db: Session, catalog: Catalog, course: Course) -> list[CatalogTopic]:
    """What the course's assignments may draw from: its own bank first (its published
    questions as they are now), then every shipped topic."""
    return [served_course(db, catalog, course), *catalog.topics.values()]


def check(db: Session, catalog: Catalog, course: Course, rules: AssignmentRules) -> int:
    """Refuse rules naming a source the course may not use or a question not in the sources
    (a 400 naming `sources` or `questions`); the id of the topic its attempts are filed
    under: the course's bank when it is a source, else the first shipped source."""
    offered = offered_sources(db, catalog, course)
    slugs = {topic.slug: topic for topic in offered}
    foreign = [slug for slug in rules.sources if slug not in slugs]
    if foreign:
        raise AppError(
            f"no topic '{foreign[0]}' to draw from: use the course's bank or a shipped topic",
            field="sources",
        )
    assignments.check_rules(db, catalog, rules)
    bank = offered[0]
    return bank.id if bank.slug in rules.sources else slugs[rules.sources[0]].id


def create(
    db: Session,
    catalog: Catalog,
    course: Course,
    title: str,
    rules: AssignmentRules,
    *,
    created_by: int | None,
) -> Assignment:
    topic_id = check(db, catalog, course, rules)
    assignment = Assignment(
        course_id=course.id,
        topic_id=topic_id,
        title=title,
        rules=rules.model_dump(mode="json"),
        created_by=created_by,
    )
    db.add(assignment)
    db.flush()
    return assignment


def update(
    db: Session,
    catalog: Catalog,
    course: Course,
    assignment: Assignment,
    title: str,
    rules: AssignmentRules,
) -> Assignment:
    """New title and rules, whatever attempts there are: an attempt already started keeps
    its questions (its session stores their exact versions), and its deadline; the rest of
    the new rules (attempts allowed, dates, late policy, feedback) apply to it from now on,
    and only new attempts draw by the new rules."""
    assignment.topic_id = check(db, catalog, course, rules)
    assignment.title = title
    assignment.rules = rules.model_dump(mode="json")
    db.flush()
    return assignment


def archive(db: Session, assignment: Assignment) -> None:
    """Out of the learners' sight (their links answer 404); results stay for the staff.
    Archiving twice keeps the first date."""
    if assignment.archived_at is None:
        assignments.archive(db, assignment)
        db.refresh(assignment)


@dataclass(frozen=True)
class AssignmentRow:
    """An assignment with how far its learners are."""

    assignment: Assignment
    learners: int  # with at least one attempt
    submitted: int  # attempts submitted, or whose time is up (submitted at their deadline)

    @property
    def rules(self) -> AssignmentRules:
        return assignments.rules_of(self.assignment)


def list_assignments(
    db: Session,
    course: Course,
    *,
    archived: bool = False,
    only: int | None = None,
    now: datetime | None = None,
) -> list[AssignmentRow]:
    """The course's assignments, oldest first (archived ones too when asked), each with its
    counts from one grouped query. An attempt whose time is up counts as submitted, though
    it is submitted only when its results are next read (assignments.expire_assignment).
    `only`: just the assignment of this id."""
    cutoff = (now or utcnow()) - rules_.GRACE
    mine = [Assignment.id == only] if only is not None else []
    done = or_(QuizSession.finished_at.is_not(None), QuizSession.deadline_at <= cutoff)
    counts = (
        select(
            QuizSession.assignment_id,
            func.count(func.distinct(QuizSession.learner_id)).label("learners"),
            func.count(case((done, 1))).label("submitted"),
        )
        .join(Assignment, Assignment.id == QuizSession.assignment_id)
        .where(Assignment.course_id == course.id, *mine)
        .group_by(QuizSession.assignment_id)
        .subquery()
    )
    query = (
        select(Assignment, counts.c.learners, counts.c.submitted)
        .outerjoin(counts, counts.c.assignment_id == Assignment.id)
        .where(Assignment.course_id == course.id, *mine)
        .order_by(Assignment.created_at, Assignment.id)
    )
    if not archived:
        query = query.where(Assignment.archived_at.is_(None))
    rows = db.execute(query)
    return [AssignmentRow(a, learners or 0, submitted or 0) for a, learners, submitted in rows]


def assignment_row(db: Session, assignment: Assignment) -> AssignmentRow:
    """One assignment with its counts (archived or not)."""
    course = db.get(Course, assignment.course_id) if assignment.course_id else None
    if course is None:
        raise AppError("a course's assignment only", field="assignment")
    return list_assignments(db, course, archived=True, only=assignment.id)[0]


def open_now(db: Session, course: Course, now: datetime | None = None) -> list[Assignment]:
    """The course's assignments a learner may start now (attempts used aside)."""
    now = now or utcnow()
    found = db.scalars(
        select(Assignment)
        .where(Assignment.course_id == course.id, Assignment.archived_at.is_(None))
        .order_by(Assignment.created_at, Assignment.id)
    )
    return [a for a in found if rules_.closed_reason(assignments.rules_of(a), now) is None]
