"""Submitted attempts written as rows, for the statistics tests: each answer's score and given
answer chosen by the test, so the figures can be worked out by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.attempts.models import Answer, Assignment, QuizSession
from app.bank.grading import letter
from app.bank.schema import ChoiceQuestion
from app.learners.models import Learner
from app.questions.catalog import Catalog, CatalogQuestion
from tests.assignments.support import SHIPPED

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TYPES = {
    "single_choice": "SingleChoice",
    "multiple_select": "MultipleSelect",
    "numeric": "Numeric",
    "tensor_shape": "TensorShape",
    "short_text": "ShortText",
}


def shipped(catalog: Catalog, kind: str, count: int = 1) -> list[CatalogQuestion]:
    """`count` unparameterised questions of a type from the shipped topic."""
    found = [
        q
        for q in catalog.topic(SHIPPED).questions
        if type(q.model).__name__ == TYPES[kind] and not q.variant_ids
    ]
    return found[:count]


def parameterised(catalog: Catalog) -> CatalogQuestion:
    return next(q for q in catalog.topic(SHIPPED).questions if len(q.variant_ids) > 1)


@dataclass(frozen=True)
class Given:
    """One drawn question of an attempt: its version, its score (None: left unanswered) and
    the answer as stored."""

    version_id: int
    score: float | None = None
    given: Any = None


def submitted(
    db: Session,
    assignment: Assignment,
    learner: Learner,
    answers: list[Given],
    *,
    attempt: int = 1,
    finished: bool = True,
    mode: str = "test",
    minutes: int = 0,
) -> QuizSession:
    """A session with these answers, submitted `minutes` after START unless not finished."""
    at = START + timedelta(minutes=minutes)
    session = QuizSession(
        learner_id=learner.id,
        topic_id=assignment.topic_id,
        mode=mode,
        version_ids=[a.version_id for a in answers],
        assignment_id=assignment.id if mode == "test" else None,
        attempt=attempt if mode == "test" else None,
        started_at=at - timedelta(minutes=5),
        finished_at=at if finished else None,
    )
    db.add(session)
    db.flush()
    for position, answer in enumerate(answers, start=1):
        if answer.score is None:
            continue
        db.add(
            Answer(
                session_id=session.id,
                learner_id=learner.id,
                question_version_id=answer.version_id,
                position=position,
                slot=position if mode == "test" else None,
                given=answer.given,
                correct=answer.score == 1,
                score=answer.score,
                created_at=at,
                updated_at=at,
            )
        )
    db.flush()
    return session


def right_letter(question: CatalogQuestion) -> str:
    model = question.model
    assert isinstance(model, ChoiceQuestion)
    return letter(min(model.correct_indexes()))


def wrong_letters(question: CatalogQuestion) -> list[str]:
    model = question.model
    assert isinstance(model, ChoiceQuestion)
    return [letter(i) for i in range(len(model.options)) if i not in model.correct_indexes()]


def choice(question: CatalogQuestion, score: float | None, wrong: int = 0) -> Given:
    """A single-choice answer: the right letter for 1, the `wrong`-th wrong letter for 0."""
    if score is None:
        return Given(question.version_id)
    given = right_letter(question) if score == 1 else wrong_letters(question)[wrong]
    return Given(question.version_id, score, given)
