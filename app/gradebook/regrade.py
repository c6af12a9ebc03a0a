"""Regrading an assignment after a question was fixed: explicit, a dry run first.

An answer is regraded when its question has a published version other than the one it
answered (a fixed key, a corrected tolerance): its stored `given` (canonical: the file's
option letters) is graded against the published version with the pure grader. A
parameterised question's answer is graded against the new version's variant of the same seed;
when that variant is not computed yet, or the question is a code question (its grading needs
a run in the sandbox), or the stored answer does not fit the new version, the answer is left
as it is and listed as skipped, with why.

The dry run writes nothing. Applying takes the dry run's `versions` (answered version ->
version graded against) and is refused (409) when they changed meanwhile (a question published
again), so what is applied is what was shown. It updates each changed answer's score and
correctness, recomputes its attempt's score with `records.percent_of` (the one formula), and
writes one audit entry per changed attempt.

An answer keeps its original `question_version_id`: it records what the learner saw, so item
statistics stay split by the version seen, and a later dry run finds nothing left to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, aliased

from app.attempts.assignments import expire_assignment
from app.attempts.models import Answer, Assignment, QuizSession
from app.attempts.records import percent_of
from app.bank.grading import grade
from app.bank.schema import CodeQuestion
from app.core import events
from app.core.errors import AnswerFormatError, ConflictError
from app.gradebook import audit
from app.learners.models import Learner, User
from app.questions.catalog import Catalog
from app.questions.models import QuestionRow, QuestionVersion, TopicRow


@dataclass(frozen=True)
class AnswerChange:
    answer_id: int
    position: int
    question: str  # "topic/slug"
    old_version: int  # version numbers, as authors know them
    new_version: int
    old_score: float
    new_score: float
    new_correct: bool


@dataclass(frozen=True)
class AttemptChange:
    session_id: int
    session: str  # public id
    learner: str  # public id
    name: str
    number: int
    old_percent: float
    new_percent: float
    answers: list[AnswerChange]


@dataclass(frozen=True)
class Skipped:
    question: str
    reason: str
    answers: int


@dataclass(frozen=True)
class RegradePlan:
    versions: dict[str, int]  # answered version id -> the version it is graded against
    attempts: list[AttemptChange]
    skipped: list[Skipped]


def _candidates(db: Session, assignment: Assignment) -> list[Any]:
    """Submitted answers whose question has since been published in another version."""
    seen = aliased(QuestionVersion)
    template = func.coalesce(seen.variant_of_id, seen.id)
    return list(
        db.execute(
            select(
                Answer.id,
                Answer.session_id,
                Answer.position,
                Answer.given,
                Answer.score,
                Answer.correct,
                Answer.question_version_id,
                seen.seed,
                seen.variant_of_id,
                seen.number,
                QuestionRow.published_version_id.label("published"),
                (TopicRow.slug + "/" + QuestionRow.slug).label("question"),
            )
            .join(QuizSession, QuizSession.id == Answer.session_id)
            .join(seen, seen.id == Answer.question_version_id)
            .join(QuestionRow, QuestionRow.id == seen.question_id)
            .join(TopicRow, TopicRow.id == QuestionRow.topic_id)
            .where(
                QuizSession.assignment_id == assignment.id,
                QuizSession.finished_at.is_not(None),
                Answer.slot.is_not(None),
                QuestionRow.published_version_id.is_not(None),
                QuestionRow.published_version_id != template,
            )
            .order_by(Answer.session_id, Answer.position)
        )
    )


def _new_versions(db: Session, candidates: list[Any]) -> dict[int, int | None]:
    """Answered version id -> the version to grade it against now (None: no such variant)."""
    found: dict[int, int | None] = {}
    variants = {(c.published, c.seed) for c in candidates if c.variant_of_id is not None}
    newest: dict[tuple[int, int], int] = {}
    if variants:
        rows = db.execute(
            select(QuestionVersion.id, QuestionVersion.variant_of_id, QuestionVersion.seed)
            .where(QuestionVersion.variant_of_id.in_({p for p, _ in variants}))
            .order_by(QuestionVersion.id)
        )
        newest = {(r.variant_of_id, r.seed): r.id for r in rows}  # the last, newest, wins
    for c in candidates:
        if c.variant_of_id is None:
            found[c.question_version_id] = c.published
        else:
            found[c.question_version_id] = newest.get((c.published, c.seed))
    return found


def plan(db: Session, catalog: Catalog, assignment: Assignment) -> RegradePlan:
    """The dry run: every attempt whose score a regrade changes, and how. Writes nothing
    (but submits the attempts whose time is up, as every read of results does)."""
    expire_assignment(db, assignment)
    candidates = _candidates(db, assignment)
    targets = _new_versions(db, candidates)
    numbers = _numbers(db, {v for v in targets.values() if v is not None})
    changes: dict[int, list[AnswerChange]] = {}
    skipped: dict[tuple[str, str], int] = {}
    for c in candidates:
        target = targets[c.question_version_id]
        if target is None:
            why = f"no variant of seed {c.seed} of the published version is computed yet"
            skipped[c.question, why] = skipped.get((c.question, why), 0) + 1
            continue
        question = catalog.version(db, target)
        if isinstance(question, CodeQuestion):
            why = "a code question: its answers are graded by a run in the sandbox"
            skipped[c.question, why] = skipped.get((c.question, why), 0) + 1
            continue
        try:
            new = grade(question, c.given)
        except AnswerFormatError as error:
            why = f"the stored answer does not fit the new version: {error.message}"
            skipped[c.question, why] = skipped.get((c.question, why), 0) + 1
            continue
        if new.score == c.score and new.correct == c.correct:
            continue
        change = AnswerChange(
            c.id, c.position, c.question, c.number, numbers[target], c.score, new.score, new.correct
        )
        changes.setdefault(c.session_id, []).append(change)
    versions = {str(k): v for k, v in sorted(targets.items()) if v is not None}
    return RegradePlan(
        versions=versions,
        attempts=_attempts(db, changes),
        skipped=[Skipped(q, why, n) for (q, why), n in sorted(skipped.items())],
    )


def _numbers(db: Session, version_ids: set[int]) -> dict[int, int]:
    if not version_ids:
        return {}
    rows = db.execute(
        select(QuestionVersion.id, QuestionVersion.number).where(
            QuestionVersion.id.in_(version_ids)
        )
    )
    return {r.id: r.number for r in rows}


def _attempts(db: Session, changes: dict[int, list[AnswerChange]]) -> list[AttemptChange]:
    """Each changed attempt with its score before and after, from one query of its points."""
    if not changes:
        return []
    points = (
        select(Answer.session_id, func.sum(Answer.score).label("points"))
        .where(Answer.session_id.in_(changes), Answer.slot.is_not(None))
        .group_by(Answer.session_id)
        .subquery()
    )
    rows = db.execute(
        select(
            QuizSession.id,
            QuizSession.public_id,
            QuizSession.attempt,
            QuizSession.score,
            QuizSession.version_ids,
            Learner.public_id.label("learner"),
            func.coalesce(User.display_name, User.email, Learner.public_id).label("name"),
            points.c.points,
        )
        .join(Learner, Learner.id == QuizSession.learner_id)
        .outerjoin(User, User.id == Learner.user_id)
        .join(points, points.c.session_id == QuizSession.id)
        .order_by(func.lower(func.coalesce(User.display_name, User.email, "")), QuizSession.id)
    )
    found = []
    for row in rows:
        mine = changes[row.id]
        new_points = row.points + sum(a.new_score - a.old_score for a in mine)
        found.append(
            AttemptChange(
                session_id=row.id,
                session=row.public_id,
                learner=row.learner,
                name=row.name,
                number=row.attempt or 1,
                old_percent=row.score or 0.0,
                new_percent=percent_of(new_points, len(row.version_ids)),
                answers=mine,
            )
        )
    return found


def apply(
    db: Session,
    catalog: Catalog,
    assignment: Assignment,
    expected: dict[str, int],
    *,
    actor_id: int | None,
) -> RegradePlan:
    """Apply the regrade the dry run showed; 409 if its versions are no longer the ones a
    dry run would use now (a question was published again in between)."""
    regrade = plan(db, catalog, assignment)
    if regrade.versions != expected:
        raise ConflictError(
            "a question of this assignment was published again since the dry run: "
            "run the dry run again and check its changes",
            field="expected",
        )
    for attempt in regrade.attempts:
        for change in attempt.answers:
            db.execute(
                update(Answer)
                .where(Answer.id == change.answer_id)
                .values(score=change.new_score, correct=change.new_correct)
            )
        learner_id = _rescore(db, attempt)
        events.grade_changed(db, assignment.id, learner_id)  # an LMS's gradebook follows
        audit.record(
            db,
            course_id=assignment.course_id,
            actor_id=actor_id,
            action="regrade.apply",
            target={
                "assignment": assignment.public_id,
                "learner": attempt.learner,
                "attempt": attempt.session,
            },
            before=attempt.old_percent,
            after=attempt.new_percent,
            reason="regraded against "
            + ", ".join(f"{a.question} v{a.new_version}" for a in attempt.answers),
        )
    return regrade


def _rescore(db: Session, attempt: AttemptChange) -> int:
    """The attempt's score from its answers as they now stand, as submitting computes it;
    the attempt's learner (row id)."""
    session = db.get(QuizSession, attempt.session_id)
    assert session is not None
    points = db.scalar(
        select(func.coalesce(func.sum(Answer.score), 0.0)).where(
            Answer.session_id == attempt.session_id, Answer.slot.is_not(None)
        )
    )
    session.score = percent_of(points or 0.0, len(session.version_ids))
    db.flush()
    return session.learner_id
