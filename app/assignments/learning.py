"""A learner and an assignment: who may open it, and what its start page shows (the rules in
words, their attempts and grades, whether they may start or continue now).

The learners' URLs carry the assignment's id, not its course's slug, so the course check of
app.courses.deps cannot run on them: `assignment_access` asks the same question
(`course:view`, with the same matrix) of the assignment's course instead.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.assignments.schemas import AssignmentStart, AttemptOut
from app.attempts import assignments
from app.attempts import rules as rules_
from app.attempts.models import Assignment, QuizSession
from app.attempts.records import SessionRecord
from app.attempts.rules import AssignmentRules
from app.core.db import as_utc, utcnow
from app.core.errors import NotFoundError, UnauthorizedError
from app.courses.models import Course
from app.courses.permissions import allows
from app.courses.service import roles_in
from app.gradebook.models import GradeOverride
from app.learners.models import Learner
from app.learners.sessions import Account
from app.questions.catalog import Catalog


def assignment_access(db: Session, account: Account | None, assignment: Assignment) -> Course:
    """The assignment's course, if the account is one of its members (enrolled, or staff):
    401 when nobody is signed in, and to anyone else 404, as if it did not exist. A shipped
    topic's default assignment has no course: it is taken at /topics/{slug}/test, not here."""
    if account is None:
        raise UnauthorizedError("sign in first: assignments are for a course's members")
    course = db.get(Course, assignment.course_id) if assignment.course_id else None
    if course is not None:
        roles = roles_in(db, course.id, account.user_id, admin=account.is_admin)
        if allows(roles, account, "course:view"):
            return course
    raise NotFoundError(f"no assignment '{assignment.public_id}'", field="assignment")


def member_assignment(
    db: Session, account: Account | None, public_id: str
) -> tuple[Assignment, Course]:
    """An unarchived assignment the account may open, and its course (see assignment_access);
    anonymous visitors learn nothing, not even whether it exists."""
    if account is None:
        raise UnauthorizedError("sign in first: assignments are for a course's members")
    assignment = assignments.get_assignment(db, public_id)
    return assignment, assignment_access(db, account, assignment)


def when(moment: datetime) -> str:
    return as_utc(moment).strftime("%d %b %Y, %H:%M UTC")


FEEDBACK_WORDS = {
    "immediately": "You see whether each answer is right as soon as you save it.",
    "after_submission": "You see which answers were right, and the solutions, once you submit.",
    "after_close": "You see which answers were right, and the solutions, once it closes ({}).",
    "never": "You see your score once you submit, but not which answers were right.",
}


def describe(rules: AssignmentRules, used: int) -> list[str]:
    """The rules as a learner reads them, one sentence each."""
    said = [f"{rules.size} questions." if rules.size != 1 else "1 question."]
    if rules.time_limit_minutes:
        said.append(
            f"Time limit: {rules.time_limit_minutes} minutes from the start; an attempt still "
            "open then is submitted as it stands."
        )
    else:
        said.append("No time limit.")
    if rules.opens_at:
        said.append(f"Opens {when(rules.opens_at)}.")
    if rules.closes_at:
        said.append(f"Closes {when(rules.closes_at)}.")
        said.append(_late_words(rules))
    if rules.attempts_allowed is None:
        said.append(f"Any number of attempts; you have used {used}.")
    else:
        said.append(f"Attempts: {used} of {rules.attempts_allowed} used.")
    closes = when(rules.closes_at) if rules.closes_at else ""
    said.append(FEEDBACK_WORDS[rules.feedback].format(closes))
    return said


def _late_words(rules: AssignmentRules) -> str:
    if rules.late == "refuse":
        return "After it closes no attempt is accepted."
    until = f" until {when(rules.late_until)}" if rules.late_until else ""
    return (
        f"Late attempts are accepted{until}, with {rules.late_penalty_percent}% taken off "
        "their grade."
    )


@dataclass(frozen=True)
class Attempt:
    session: QuizSession
    grade: float | None
    late: bool

    def out(self) -> AttemptOut:
        s = self.session
        return AttemptOut(
            number=s.attempt or 0,
            session_id=s.public_id,
            started_at=as_utc(s.started_at),
            finished_at=as_utc(s.finished_at) if s.finished_at else None,
            deadline_at=as_utc(s.deadline_at) if s.deadline_at else None,
            score=s.score if s.finished_at else None,
            grade=self.grade,
            late=self.late,
        )


def my_attempts(
    db: Session, assignment: Assignment, learner_id: int | None, now: datetime
) -> list[Attempt]:
    """The learner's attempts, first first; those whose time is up submitted first."""
    if learner_id is None:
        return []
    if assignments.expire(db, assignments.attempts(db, assignment, learner_id), now):
        db.expire_all()
    rules = assignments.rules_of(assignment)
    found = []
    for session in assignments.attempts(db, assignment, learner_id):
        submitted = as_utc(session.finished_at) if session.finished_at else None
        grade = None
        if submitted is not None and session.score is not None:
            grade = rules_.grade_percent(rules, session.score, submitted)
        late = submitted is not None and rules_.is_late(rules, submitted)
        found.append(Attempt(session, grade, late))
    return found


def start_view(
    db: Session,
    assignment: Assignment,
    course: Course,
    learner_id: int | None,
    now: datetime | None = None,
) -> AssignmentStart:
    now = now or utcnow()
    rules = assignments.rules_of(assignment)
    mine = my_attempts(db, assignment, learner_id, now)
    still_open = [a.session for a in mine if a.session.finished_at is None]
    refusal = rules_.closed_reason(rules, now, used=len(mine))
    return AssignmentStart(
        id=assignment.public_id,
        title=assignment.title,
        course=course.title,
        questions=rules.size,
        time_limit_minutes=rules.time_limit_minutes,
        opens_at=rules.opens_at,
        closes_at=rules.closes_at,
        late=rules.late,
        late_until=rules.late_until,
        late_penalty_percent=rules.late_penalty_percent,
        feedback=rules.feedback,
        attempts_allowed=rules.attempts_allowed,
        attempts_used=len(mine),
        summary=describe(rules, len(mine)),
        can_start=refusal is None,
        refusal=refusal,
        open_attempt=still_open[-1].public_id if still_open else None,
        attempts=[a.out() for a in mine],
        grade_set_by_staff=_override(db, assignment, learner_id),
    )


def _override(db: Session, assignment: Assignment, learner_id: int | None) -> float | None:
    found = db.get(GradeOverride, (assignment.id, learner_id)) if learner_id else None
    return found.percent if found is not None else None


def start(
    db: Session,
    catalog: Catalog,
    assignment: Assignment,
    course: Course,
    learner: Learner,
    rng: random.Random,
    now: datetime | None = None,
) -> tuple[SessionRecord, bool]:
    """The learner's open attempt, or a new one (and True) when the rules allow: a
    assignments.ClosedError (409) says why not. A course's bank among the sources is served as
    it is published now (app.authoring.practice)."""
    used = assignments.attempt_count(db, assignment.id, learner.id)
    session = assignments.start_attempt(db, catalog, assignment, learner, rng=rng, now=now)
    return session, (session.attempt or 0) > used
