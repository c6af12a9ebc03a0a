"""A learner's progress per topic and the questions to try again.

Answers in a test that is still running are left out, so these views never reveal
correctness before the test's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.attempts.models import Answer, QuizSession
from app.bank.schema import Difficulty
from app.core.db import as_utc
from app.progress.schemas import LevelProgress, Mistake, TopicProgress
from app.questions.catalog import Catalog, CatalogTopic
from app.questions.models import QuestionRow, QuestionVersion
from app.questions.service import public_question


@dataclass(frozen=True)
class GradedAnswer:
    slug: str
    difficulty: str
    correct: bool
    given: Any
    at: datetime


def graded_answers(db: Session, learner_id: int | None, topic: CatalogTopic) -> list[GradedAnswer]:
    """Oldest first."""
    if learner_id is None:
        return []
    rows = db.execute(
        select(Answer, QuestionRow.slug, QuestionVersion.difficulty)
        .join(QuizSession, Answer.session_id == QuizSession.id)
        .join(QuestionVersion, Answer.question_version_id == QuestionVersion.id)
        .join(QuestionRow, QuestionVersion.question_id == QuestionRow.id)
        .where(
            Answer.learner_id == learner_id,
            QuizSession.topic_id == topic.id,
            or_(QuizSession.mode == "practice", QuizSession.finished_at.is_not(None)),
        )
        .order_by(Answer.updated_at, Answer.id)
    )
    return [
        GradedAnswer(slug, difficulty, answer.correct, answer.given, as_utc(answer.updated_at))
        for answer, slug, difficulty in rows
    ]


def _level(
    answers: list[GradedAnswer], total: int, latest: dict[str, GradedAnswer]
) -> LevelProgress:
    correct = sum(a.correct for a in answers)
    return LevelProgress(
        total_questions=total,
        seen=len({a.slug for a in answers}),
        answers=len(answers),
        correct_answers=correct,
        correct_rate=round(correct / len(answers), 3) if answers else None,
    )


def topic_progress(
    db: Session, catalog: Catalog, learner_id: int | None, topic: CatalogTopic
) -> TopicProgress:
    current = {q.slug for q in topic.questions}
    answers = [a for a in graded_answers(db, learner_id, topic) if a.slug in current]
    latest = {a.slug: a for a in answers}
    counts = topic.difficulty_counts()
    overall = _level(answers, len(current), latest)
    return TopicProgress(
        topic=topic.slug,
        title=topic.topic.title,
        mastered=sum(a.correct for a in latest.values()),
        by_difficulty={
            d.value: _level(
                [a for a in answers if a.difficulty == d.value], counts[d.value], latest
            )
            for d in Difficulty
        },
        **overall.model_dump(),
    )


def all_progress(db: Session, catalog: Catalog, learner_id: int | None) -> list[TopicProgress]:
    return [topic_progress(db, catalog, learner_id, t) for t in catalog.topics.values()]


def _latest_wrong(
    db: Session, catalog: Catalog, learner_id: int | None, topic: CatalogTopic
) -> list[GradedAnswer]:
    current = {q.slug for q in topic.questions}
    latest: dict[str, GradedAnswer] = {}
    for answer in graded_answers(db, learner_id, topic):
        latest[answer.slug] = answer
    wrong = [a for slug, a in latest.items() if not a.correct and slug in current]
    return sorted(wrong, key=lambda a: a.at, reverse=True)


def mistaken_question_slugs(
    db: Session, catalog: Catalog, learner_id: int | None, topic: CatalogTopic
) -> list[str]:
    """Questions whose latest answer was wrong, most recent first."""
    return [a.slug for a in _latest_wrong(db, catalog, learner_id, topic)]


def mistakes(
    db: Session, catalog: Catalog, learner_id: int | None, topic: CatalogTopic
) -> list[Mistake]:
    return [
        Mistake(
            question=public_question(catalog.question(a.slug).model),
            given=a.given,
            answered_at=a.at,
        )
        for a in _latest_wrong(db, catalog, learner_id, topic)
    ]
