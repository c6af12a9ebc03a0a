"""The gradebook of one assignment: every learner's attempts, grades and override, and each
question's score distribution. The pages, the API and the CSV export all read it from here.

The whole table is one query (the roster, its attempts and overrides, joined); each attempt's
grade is then `rules.grade_percent` of its score, in Python, so the late penalty is the
assignment rules' own (rounding included), never a second formula written in SQL. The
per-question distribution is one GROUP BY over the submitted attempts' answers.

Who is on the roster: everyone enrolled in the course, and anyone who attempted the
assignment (a learner who has since left keeps their row), less the course's staff, whose
attempts are previews.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, union
from sqlalchemy.orm import Session

from app.attempts import results
from app.attempts import rules as rules_
from app.attempts.assignments import expire_assignment, rules_of
from app.attempts.models import Answer, Assignment, QuizSession
from app.attempts.records import SessionRecord, reload_session
from app.attempts.schemas import TestResult
from app.core.db import as_utc
from app.core.errors import NotFoundError
from app.courses.models import CourseStaff, Enrolment
from app.gradebook.models import GradeOverride
from app.learners.models import Learner, User
from app.questions.catalog import Catalog
from app.questions.models import QuestionRow, QuestionVersion, TopicRow

FULL_MARK = 1 - 1e-9  # an answer's score at or above this is full marks (scores are floats)


@dataclass(frozen=True)
class AttemptGrade:
    session: str  # the attempt's public id
    number: int
    started_at: datetime
    submitted_at: datetime | None  # None: in progress
    score: float | None  # the raw percent of its answers' points
    grade: float | None  # the score less any late penalty; None while in progress
    late: bool

    @property
    def seconds(self) -> int | None:
        """Time taken: from start to submission."""
        if self.submitted_at is None:
            return None
        return int((self.submitted_at - self.started_at).total_seconds())


@dataclass(frozen=True)
class Override:
    percent: float
    reason: str
    set_at: datetime


@dataclass(frozen=True)
class GradeRow:
    """One learner's line of the gradebook."""

    learner: str | None  # the learner's public id (None: an account that never signed in)
    name: str
    email: str | None
    attempts: tuple[AttemptGrade, ...]
    override: Override | None

    @property
    def submitted(self) -> list[AttemptGrade]:
        return [a for a in self.attempts if a.grade is not None]

    @property
    def in_progress(self) -> bool:
        return any(a.submitted_at is None for a in self.attempts)

    @property
    def best(self) -> AttemptGrade | None:
        """The submitted attempt of the highest grade; the earlier one on a tie."""
        done = self.submitted
        return max(done, key=lambda a: (a.grade, -a.number)) if done else None

    @property
    def latest(self) -> AttemptGrade | None:
        done = self.submitted
        return done[-1] if done else None

    @property
    def final(self) -> float | None:
        """The grade that counts: the override if one is set, else the best attempt's."""
        if self.override is not None:
            return self.override.percent
        best = self.best
        return best.grade if best else None


@dataclass(frozen=True)
class QuestionScores:
    """A question version's answers in the assignment's submitted attempts."""

    question: str  # "topic/slug"
    version: int
    answers: int
    mean: float  # mean score, 0..1
    zero: int
    partial: int
    full: int


@dataclass(frozen=True)
class Gradebook:
    assignment: Assignment
    rows: list[GradeRow]
    questions: list[QuestionScores]


def not_staff(course_id: int | None, user_id: Any) -> ColumnElement[bool]:
    """A condition on a user id column: not on the course's staff (anonymous learners pass)."""
    staff = select(CourseStaff.user_id).where(CourseStaff.course_id == course_id)
    return or_(user_id.is_(None), user_id.not_in(staff))


def _roster(assignment: Assignment) -> Any:
    """(user_id, learner_id) of the enrolled and of those who attempted, as a subquery."""
    enrolled = (
        select(Enrolment.user_id.label("user_id"), Learner.id.label("learner_id"))
        .outerjoin(Learner, Learner.user_id == Enrolment.user_id)
        .where(Enrolment.course_id == assignment.course_id)
    )
    attempted = select(Learner.user_id, Learner.id).where(
        Learner.id.in_(
            select(QuizSession.learner_id).where(QuizSession.assignment_id == assignment.id)
        )
    )
    return union(enrolled, attempted).subquery("roster")


def _table_query(assignment: Assignment, learner_id: int | None = None) -> Any:
    roster = _roster(assignment)
    name = func.coalesce(User.display_name, User.email, literal(""))
    query = (
        select(
            roster.c.user_id,
            roster.c.learner_id,
            Learner.public_id.label("learner"),
            User.display_name,
            User.email,
            GradeOverride.percent.label("override"),
            GradeOverride.reason,
            GradeOverride.set_at,
            QuizSession.public_id.label("session"),
            QuizSession.attempt,
            QuizSession.started_at,
            QuizSession.finished_at,
            QuizSession.score,
        )
        .select_from(roster)
        .outerjoin(User, User.id == roster.c.user_id)
        .outerjoin(Learner, Learner.id == roster.c.learner_id)
        .outerjoin(
            GradeOverride,
            and_(
                GradeOverride.learner_id == roster.c.learner_id,
                GradeOverride.assignment_id == assignment.id,
            ),
        )
        .outerjoin(
            QuizSession,
            and_(
                QuizSession.learner_id == roster.c.learner_id,
                QuizSession.assignment_id == assignment.id,
            ),
        )
        .where(not_staff(assignment.course_id, roster.c.user_id))
        .order_by(func.lower(name), roster.c.user_id, roster.c.learner_id, QuizSession.attempt)
    )
    if learner_id is not None:
        query = query.where(roster.c.learner_id == learner_id)
    return query


def grade_rows(
    db: Session, assignment: Assignment, learner_id: int | None = None
) -> list[GradeRow]:
    """The gradebook's lines (or one learner's), by name, from one query."""
    rules = rules_of(assignment)
    lines: dict[tuple[Any, ...], list[Any]] = {}
    for row in db.execute(_table_query(assignment, learner_id)):
        lines.setdefault((row.user_id, row.learner_id), []).append(row)
    return [_grade_row(rules, rows) for rows in lines.values()]


def _grade_row(rules: rules_.AssignmentRules, rows: list[Any]) -> GradeRow:
    first = rows[0]
    override = None
    if first.override is not None:
        override = Override(first.override, first.reason, as_utc(first.set_at))
    return GradeRow(
        learner=first.learner,
        name=first.display_name or first.email or f"Anonymous learner {(first.learner or '')[:8]}",
        email=first.email,
        attempts=tuple(_attempt(rules, row) for row in rows if row.session is not None),
        override=override,
    )


def _attempt(rules: rules_.AssignmentRules, row: Any) -> AttemptGrade:
    submitted = as_utc(row.finished_at) if row.finished_at else None
    grade = None
    if submitted is not None and row.score is not None:
        grade = rules_.grade_percent(rules, row.score, submitted)
    return AttemptGrade(
        session=row.session,
        number=row.attempt,
        started_at=as_utc(row.started_at),
        submitted_at=submitted,
        score=row.score if submitted else None,
        grade=grade,
        late=submitted is not None and rules_.is_late(rules, submitted),
    )


def question_scores(db: Session, assignment: Assignment) -> list[QuestionScores]:
    """Per question version: how many answers in submitted attempts, their mean score, and
    how many scored nothing, part, or full marks. Staff attempts are left out."""
    version, question, topic = QuestionVersion, QuestionRow, TopicRow
    zero = func.sum(case((Answer.score <= 0, 1), else_=0))
    full = func.sum(case((Answer.score >= FULL_MARK, 1), else_=0))
    rows = db.execute(
        select(
            topic.slug.label("topic"),
            question.slug,
            version.number,
            func.count(Answer.id).label("answers"),
            func.avg(Answer.score).label("mean"),
            zero.label("zero"),
            full.label("full"),
        )
        .select_from(Answer)
        .join(QuizSession, QuizSession.id == Answer.session_id)
        .join(Learner, Learner.id == QuizSession.learner_id)
        .join(version, version.id == Answer.question_version_id)
        .join(question, question.id == version.question_id)
        .join(topic, topic.id == question.topic_id)
        .where(
            QuizSession.assignment_id == assignment.id,
            QuizSession.finished_at.is_not(None),
            Answer.slot.is_not(None),
            not_staff(assignment.course_id, Learner.user_id),
        )
        .group_by(question.id, topic.slug, question.slug, version.number)
        .order_by(topic.slug, question.slug, version.number)
    )
    return [
        QuestionScores(
            question=f"{row.topic}/{row.slug}",
            version=row.number,
            answers=row.answers,
            mean=round(float(row.mean or 0), 3),
            zero=int(row.zero or 0),
            partial=row.answers - int(row.zero or 0) - int(row.full or 0),
            full=int(row.full or 0),
        )
        for row in rows
    ]


def roster_learner(
    db: Session, assignment: Assignment, learner_public_id: str
) -> tuple[Learner, GradeRow]:
    """A learner on the assignment's gradebook, and their line: someone of another course, a
    staff member or an unknown id is a 404 alike."""
    learner = db.scalar(select(Learner).where(Learner.public_id == learner_public_id))
    rows = grade_rows(db, assignment, learner.id) if learner else []
    if learner is None or not rows:
        raise NotFoundError(
            f"no learner '{learner_public_id}' in this assignment's gradebook", field="learner"
        )
    return learner, rows[0]


def learner_grades(db: Session, assignment: Assignment, learner_public_id: str) -> GradeRow:
    """One learner's line of the gradebook (the table's own row, for their page), attempts
    whose time is up first submitted; 404 for someone not on the gradebook."""
    expire_assignment(db, assignment)
    return roster_learner(db, assignment, learner_public_id)[1]


def gradebook(db: Session, assignment: Assignment) -> Gradebook:
    """The whole gradebook, attempts whose time is up first submitted (they count)."""
    expire_assignment(db, assignment)
    return Gradebook(assignment, grade_rows(db, assignment), question_scores(db, assignment))


def attempt_of(db: Session, assignment: Assignment, session_public_id: str) -> SessionRecord:
    """One attempt at the assignment; another assignment's is as unknown as a missing one."""
    found = db.scalar(
        select(QuizSession.id).where(
            QuizSession.public_id == session_public_id,
            QuizSession.assignment_id == assignment.id,
        )
    )
    if found is None:
        raise NotFoundError(f"no attempt '{session_public_id}' at this assignment", field="session")
    return reload_session(db, found)


@dataclass(frozen=True)
class AttemptReview:
    learner: GradeRow | None  # the attempt's learner (None: a staff member's preview)
    attempt: AttemptGrade
    result: TestResult


def attempt_review(
    db: Session, catalog: Catalog, assignment: Assignment, session_public_id: str
) -> AttemptReview:
    """One submitted attempt with every answer, its grading and the solution, whatever the
    assignment's feedback rule says: staff always see it (app.attempts.results)."""
    expire_assignment(db, assignment)
    session = attempt_of(db, assignment, session_public_id)
    result = results.test_result(db, catalog, session, staff=True)  # 409 while in progress
    rows = grade_rows(db, assignment, session.learner_id)
    learner = rows[0] if rows else None
    mine = learner.attempts if learner else ()
    attempt = next((a for a in mine if a.session == session.public_id), None)
    if attempt is None:  # a staff member's attempt: not on the roster
        attempt = _attempt(rules_of(assignment), _AttemptRow.of(session))
    return AttemptReview(learner, attempt, result)


@dataclass(frozen=True)
class _AttemptRow:
    session: str
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    score: float | None

    @classmethod
    def of(cls, session: SessionRecord) -> _AttemptRow:
        return cls(
            session.public_id,
            session.attempt or 1,
            session.started_at,
            session.finished_at,
            session.score,
        )
