"""A learner's graded answers per topic, read by progress and by "practise your mistakes".

Answers in a test that is still running are left out, so nothing built on these reveals
correctness before the test's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.attempts.models import Answer, QuizSession
from app.core.db import as_utc
from app.questions.catalog import CatalogTopic
from app.questions.models import QuestionRow, QuestionVersion


@dataclass(frozen=True)
class GradedAnswer:
    slug: str
    difficulty: str
    correct: bool
    given: Any
    at: datetime
    mode: str  # "practice" or "test"


def graded_answers(db: Session, learner_id: int | None, topic: CatalogTopic) -> list[GradedAnswer]:
    """Oldest first."""
    if learner_id is None:
        return []
    rows = db.execute(
        select(Answer, QuestionRow.slug, QuestionVersion.difficulty, QuizSession.mode)
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
        GradedAnswer(
            slug, difficulty, answer.correct, answer.given, as_utc(answer.updated_at), mode
        )
        for answer, slug, difficulty, mode in rows
    ]


def latest_wrong(history: list[GradedAnswer], topic: CatalogTopic) -> list[GradedAnswer]:
    """The current questions whose latest answer in `history` (graded_answers) was wrong,
    most recent first."""
    current = {q.slug for q in topic.questions}
    latest = {a.slug: a for a in history}
    wrong = [a for slug, a in latest.items() if not a.correct and slug in current]
    return sorted(wrong, key=lambda a: a.at, reverse=True)
