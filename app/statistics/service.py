"""An assignment's item statistics, assembled and cached: the one service the API and the pages
both call.

The heavy work (app.statistics.data's one query, then numpy) runs only when the assignment's
results changed. Every call first asks a cheap fingerprint (submitted attempts' count and
latest finish, which a submission, an expiry or a learner's deletion moves; the latest answer
update, which a regrade moves; the course's staff, whose attempts are left out; the newest
verify run) and reuses the cached figures while it is unchanged. Retiring or publishing a
question changes no figure: they are of the versions drawn.

The cache is a dict in this process, correct with any number of replicas: each computes its
own copy once and checks the fingerprint, in the database, on every call.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import Any, Literal

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.attempts.assignments import expire_assignment
from app.attempts.models import Answer, Assignment, QuizSession
from app.courses.models import CourseStaff
from app.questions.models import QuestionRow, QuestionVersion, Verification
from app.statistics import flags as flags_
from app.statistics.data import attempt_rows
from app.statistics.flags import Flag
from app.statistics.items import QuestionStatistics, TestStatistics
from app.statistics.matrix import (
    LearnerScores,
    ScoreMatrix,
    learner_scores,
    question_statistics,
    score_matrix,
    whole_test,
)
from app.statistics.options import OptionStatistics, chosen_matrix, option_statistics
from app.statistics.wrong_answers import WrongAnswer, wrong_answers

Attempts = Literal["first", "all"]
CHOICE_TYPES = frozenset({"single_choice", "multiple_select"})
CACHE_SIZE = 256


@dataclass(frozen=True)
class QuestionReport:
    label: str  # "slug v2", "slug v2 variant 7"
    slug: str
    version: int
    seed: int | None
    type: str
    difficulty: str
    verified: bool | None  # the latest verify run of this version passed; None: never run
    figures: QuestionStatistics
    learners: LearnerScores
    options: list[OptionStatistics]
    wrong_answers: list[WrongAnswer]


@dataclass(frozen=True)
class AssignmentStatistics:
    assignment: str
    title: str
    attempts: Attempts
    test: TestStatistics
    percents: list[float]  # each attempt's total, 0..100
    questions: list[QuestionReport]
    flags: list[Flag]


@dataclass(frozen=True)
class _Version:
    slug: str
    number: int
    seed: int | None
    type: str
    difficulty: str
    data: dict[str, Any]
    verified: bool | None


_cache: OrderedDict[tuple[str, str, str], tuple[tuple[Any, ...], AssignmentStatistics]] = (
    OrderedDict()
)
_lock = Lock()


def assignment_statistics(
    db: Session, assignment: Assignment, attempts: Attempts = "first"
) -> AssignmentStatistics:
    """The figures, from the cache while no attempt, answer or verify run changed. A course's
    assignment leaves its staff's attempts out; a shipped topic's test has no course staff."""
    expire_assignment(db, assignment)
    key = (str(db.get_bind().engine.url), assignment.public_id, attempts)
    mark = fingerprint(db, assignment)
    with _lock:
        cached = _cache.get(key)
    if cached is not None and cached[0] == mark:
        return cached[1]
    result = compute(db, assignment, attempts)
    with _lock:
        _cache[key] = (mark, result)
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def fingerprint(db: Session, assignment: Assignment) -> tuple[Any, ...]:
    """Two small queries: what, when it changes, changes the figures."""
    submitted = (QuizSession.assignment_id == assignment.id) & QuizSession.finished_at.is_not(None)
    answered = (
        select(func.max(Answer.updated_at))
        .join(QuizSession, QuizSession.id == Answer.session_id)
        .where(QuizSession.assignment_id == assignment.id)
        .scalar_subquery()
    )
    verified = select(func.max(Verification.id)).scalar_subquery()
    row = db.execute(
        select(
            func.count(QuizSession.id), func.max(QuizSession.finished_at), answered, verified
        ).where(submitted)
    ).one()
    # Who, not how many: one left and another joined is a change a count would miss.
    staff = db.scalars(
        select(CourseStaff.user_id)
        .where(CourseStaff.course_id == assignment.course_id)
        .order_by(CourseStaff.user_id)
    )
    return (*row, tuple(staff))


def compute(db: Session, assignment: Assignment, attempts: Attempts) -> AssignmentStatistics:
    """The figures afresh: the one query, the matrix, then per question."""
    everything = score_matrix(attempt_rows(db, assignment.id, assignment.course_id))
    matrix = everything if attempts == "all" else everything.only(everything.first)
    versions = _versions(db, matrix.items)
    meta = [versions[d] for d in matrix.items]
    guesses = [_random_guess(v) for v in meta]
    figures = question_statistics(matrix, guesses)
    totals = matrix.totals
    all_columns = {item: j for j, item in enumerate(everything.items)}
    questions = []
    for j, (item, version, figure) in enumerate(zip(matrix.items, meta, figures, strict=True)):
        rows = matrix.present[:, j]
        marks = matrix.fractions[rows, j]
        questions.append(
            QuestionReport(
                label=_label(version),
                slug=version.slug,
                version=version.number,
                seed=version.seed,
                type=version.type,
                difficulty=version.difficulty,
                verified=version.verified,
                figures=figure,
                learners=learner_scores(everything, all_columns[item]),
                options=_options(matrix, j, version, marks, totals[rows]),
                wrong_answers=wrong_answers(
                    version.type, matrix.given[rows, j], marks >= 1, matrix.given_values
                ),
            )
        )
    lengths = np.maximum(matrix.lengths, 1)
    return AssignmentStatistics(
        assignment=assignment.public_id,
        title=assignment.title,
        attempts=attempts,
        test=whole_test(matrix),
        percents=[float(p) for p in 100 * totals / lengths],
        questions=questions,
        flags=[flag for q in questions for flag in question_flags(q)],
    )


def question_flags(question: QuestionReport) -> list[Flag]:
    """Every flag of one question (app.statistics.flags has the thresholds)."""
    figures, label = question.figures, question.label
    found = [
        *flags_.facility_flags(label, figures.facility),
        *flags_.discrimination_flags(label, figures.discrimination_index),
        *flags_.claim_flags(label, question.verified, figures.n),
        *flags_.difficulty_flags(label, question.difficulty, figures.facility),
    ]
    for option in question.options:
        if not option.correct:
            found += flags_.distractor_flags(
                label, option.letter, option.share, option.top_share, option.bottom_share
            )
    return found


def _options(
    matrix: ScoreMatrix, j: int, version: _Version, marks: Any, totals: Any
) -> list[OptionStatistics]:
    options = version.data.get("options") or []
    if version.type not in CHOICE_TYPES or not options:
        return []
    rows = matrix.present[:, j]
    chosen = chosen_matrix(matrix.given[rows, j], matrix.given_values, len(options))
    return option_statistics(chosen, marks, totals, options)


def _random_guess(version: _Version) -> float | None:
    """Moodle's random guess score: 1/options for single choice, 0 for typed answers; n/a
    for multiple select (its partial credit makes a guess's expected score a choice of model)."""
    if version.type == "single_choice":
        return 1 / max(len(version.data.get("options") or []), 1)
    if version.type == "multiple_select":
        return None
    return 0.0


def _label(version: _Version) -> str:
    label = f"{version.slug} v{version.number}"
    return label if version.seed is None else f"{label} variant {version.seed}"


def _versions(db: Session, drawn: list[int]) -> dict[int, _Version]:
    """The drawn versions' slug, number (a variant's template's), type, difficulty, options,
    and whether their latest verify run passed (a variant's, else its template's)."""
    if not drawn:
        return {}
    rows = db.execute(
        select(QuestionVersion, QuestionRow.slug)
        .join(QuestionRow, QuestionRow.id == QuestionVersion.question_id)
        .where(QuestionVersion.id.in_(drawn))
    ).all()
    templates = {v.variant_of_id for v, _ in rows if v.variant_of_id is not None}
    numbers = dict(
        db.execute(
            select(QuestionVersion.id, QuestionVersion.number).where(
                QuestionVersion.id.in_(templates)
            )
        ).all()
    )
    checked = {v.id for v, _ in rows} | templates
    passed: dict[int, bool] = {}
    for version_id, ok in db.execute(
        select(Verification.version_id, Verification.passed)
        .where(Verification.version_id.in_(checked))
        .order_by(Verification.id)
    ).all():
        passed[version_id] = bool(ok)  # the latest wins
    found = {}
    for version, slug in rows:
        template = version.variant_of_id
        found[version.id] = _Version(
            slug=slug,
            number=numbers.get(template, version.number) if template else version.number,
            seed=version.seed if template else None,
            type=version.type,
            difficulty=version.difficulty,
            data=version.data,
            verified=passed.get(version.id, passed.get(template) if template else None),
        )
    return found


def course_statistics(db: Session, course_id: int) -> list[AssignmentStatistics]:
    """The course dashboard: each of its current assignments' statistics (each cached)."""
    assignments = db.scalars(
        select(Assignment)
        .where(Assignment.course_id == course_id, Assignment.archived_at.is_(None))
        .order_by(Assignment.created_at, Assignment.id)
    )
    return [assignment_statistics(db, a) for a in assignments]
