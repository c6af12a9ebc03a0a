"""A learner's progress per topic and the questions to try again.

Answers in a test that is still running are left out, so these views never reveal
correctness before the test's end.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.attempts.history import GradedAnswer, graded_answers, latest_wrong, mastered
from app.bank.schema import Difficulty
from app.progress.schemas import LevelProgress, Mistake, TopicProgress
from app.questions.catalog import Catalog, CatalogTopic
from app.questions.service import public_question


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
        mastered=len(known := mastered(answers)),
        correct_with_help=sum(a.correct and slug not in known for slug, a in latest.items()),
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


def mistakes(
    db: Session, catalog: Catalog, learner_id: int | None, topic: CatalogTopic
) -> list[Mistake]:
    return [
        Mistake(
            question=public_question(catalog.question(a.slug).model),
            given=a.given,
            answered_at=a.at,
            mode=a.mode,
            session=a.session,
            position=a.position,
            answer_id=a.answer_id,
        )
        for a in latest_wrong(graded_answers(db, learner_id, topic), topic)
    ]
