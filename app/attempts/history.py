"""A learner's graded answers per topic, read by progress and by "practise your mistakes".

Answers in a test that is still running are left out, so nothing built on these reveals
correctness before the test's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.attempts.models import Answer, QuizSession, Reveal
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
    # Given after the question's solution or its last hint in the same session (app.attempts.help):
    # correct, but not mastered.
    helped: bool = False
    # Where it was given, for links back to it (app.attempts.summary, the mistakes page).
    session: str = ""  # the session's public id
    position: int = 0
    answer_id: int = 0


def graded_answers(db: Session, learner_id: int | None, topic: CatalogTopic) -> list[GradedAnswer]:
    """Oldest first."""
    if learner_id is None:
        return []
    rows = db.execute(
        select(
            Answer,
            QuestionRow.slug,
            QuestionVersion.difficulty,
            QuestionVersion.type,
            QuizSession.mode,
            QuizSession.public_id,
        )
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
    given_away = _given_away(db, learner_id)
    graded: list[GradedAnswer] = []
    for answer, slug, difficulty, kind, mode, session in rows:
        at = as_utc(answer.updated_at)
        key = (answer.session_id, answer.position)
        helped = key in given_away and given_away[key] <= at
        if mode == "practice" and (kind != "code" or answer.correct):
            # This answer's feedback shows the solution: a later answer here is helped by it.
            given_away.setdefault(key, at)
        graded.append(
            GradedAnswer(
                slug,
                difficulty,
                answer.correct,
                answer.given,
                at,
                mode,
                helped,
                session,
                answer.position,
                answer.id,
            )
        )
    return graded


def _given_away(db: Session, learner_id: int) -> dict[tuple[int, int], datetime]:
    """(session, position) -> when the learner first saw the solution or the last hint there."""
    rows = db.execute(
        select(Reveal.session_id, Reveal.position, func.min(Reveal.created_at))
        .where(Reveal.learner_id == learner_id, Reveal.gives_away.is_(True))
        .group_by(Reveal.session_id, Reveal.position)
    )
    return {(session, position): as_utc(at) for session, position, at in rows}


def mastered(history: list[GradedAnswer]) -> set[str]:
    """Questions whose latest answer is correct and whose latest answer found without help is
    correct too: a right answer copied from the solution, or after every hint, is no mastery."""
    latest = {a.slug: a for a in history}
    unhelped = {a.slug: a for a in history if not a.helped}
    return {
        slug
        for slug, answer in latest.items()
        if answer.correct and slug in unhelped and unhelped[slug].correct
    }


def latest_wrong(history: list[GradedAnswer], topic: CatalogTopic) -> list[GradedAnswer]:
    """The current questions whose latest answer in `history` (graded_answers) was wrong,
    most recent first."""
    current = {q.slug for q in topic.questions}
    latest = {a.slug: a for a in history}
    wrong = [a for slug, a in latest.items() if not a.correct and slug in current]
    return sorted(wrong, key=lambda a: a.at, reverse=True)
