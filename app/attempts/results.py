"""A test's end: finishing it (once, whichever tab asks first) and its result, with the review
of every question in the order and letters the learner saw."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.attempts import assignments
from app.attempts import rules as rules_
from app.attempts.models import Answer
from app.attempts.order import Order, option_order, to_shown
from app.attempts.records import SessionRecord, percent_of, submit
from app.attempts.schemas import DifficultyScore, ReviewItem, TestResult
from app.attempts.service import session_view, test_answers
from app.bank.schema import AnyQuestion, Difficulty
from app.core.db import as_utc, utcnow
from app.core.errors import ConflictError
from app.questions.catalog import Catalog
from app.questions.service import (
    public_question,
    question_in_order,
    solution,
    solution_in_order,
    with_choices,
)


def finish_test(
    db: Session, catalog: Catalog, session: SessionRecord, *, at: datetime | None = None
) -> TestResult:
    """Idempotent: finishing twice (two tabs, even at once) returns the same result. `at`:
    when it counts as submitted (an attempt whose time ran out: its deadline)."""
    if session.mode != "test":
        raise ConflictError("only a test session can be finished")
    if session.finished_at is None:
        session = submit(db, session, at or utcnow())
    return test_result(db, catalog, session)


def test_result(
    db: Session, catalog: Catalog, session: SessionRecord, *, staff: bool = False
) -> TestResult:
    """The score, and the review unless the assignment withholds it now (`staff` see it
    whatever the assignment says)."""
    if session.mode != "test" or session.finished_at is None:
        raise ConflictError("the result is shown once the test is finished")
    rules = assignments.session_rules(db, session)
    submitted, now = as_utc(session.finished_at), utcnow()
    by_slot = test_answers(db, session)
    questions = catalog.versions(db, session.version_ids)
    review, levels = (
        [],
        {d.value: DifficultyScore(correct=0, total=0, points=0.0) for d in Difficulty},
    )
    for position, question in enumerate(questions, start=1):
        answer = by_slot.get(position)
        level = levels[question.difficulty.value]
        level.total += 1
        if answer is not None:
            level.points += answer.score
            level.correct += int(answer.correct)
        order = option_order(question, session.option_seed, position)
        review.append(_review_item(position, question, answer, order))
    for level in levels.values():
        level.points = round(level.points, 2)
    points = round(sum(level.points for level in levels.values()), 2)
    percent = percent_of(points, len(questions))
    shown = staff or rules is None or rules_.review_visible(rules, now)
    return TestResult(
        session=session_view(db, catalog, session),
        percent=percent,
        grade=rules_.grade_percent(rules, percent, submitted) if rules else percent,
        late=rules is not None and rules_.is_late(rules, submitted),
        review_shown=shown,
        review_note=None if shown or rules is None else rules_.review_note(rules, now),
        points=points,
        max_points=len(questions),
        correct_count=sum(level.correct for level in levels.values()),
        by_difficulty=levels,
        review=review if shown else [],
    )


def _review_item(
    position: int, question: AnyQuestion, answer: Answer | None, order: Order | None
) -> ReviewItem:
    given = to_shown(answer.given, order) if answer else None
    return ReviewItem(
        position=position,
        question=question_in_order(public_question(question), order),
        given=given,
        correct=bool(answer and answer.correct),
        score=answer.score if answer else 0.0,
        solution=with_choices(solution_in_order(solution(question), order), given),
    )
