"""Learners practising a course's bank: its published questions, served to its members only.

The attempts machinery reads topics from the in-memory catalog (app.questions.catalog); a
course's topic sits there in `catalog.course_topics`, out of every listing and public route,
built from the database's published versions (never drafts, never retired questions). It is
loaded at start-up, rebuilt when a member starts a practice (so a start always sees the
newest publish) and after publish, retire or import (`refresh_course`).

Multi-process gap (issue 15): another worker process rebuilds a course's topic only when a
practice of that course starts there; until then its pages show what it loaded last, and a
course whose first practice was started in another worker is unknown to it (its session pages
answer 404) until it restarts.
"""

from __future__ import annotations

import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attempts.drawing import practice_order
from app.attempts.history import graded_answers
from app.attempts.models import QuizSession
from app.attempts.records import SessionRecord
from app.authoring.bank import TOPIC_PREFIX, course_topic
from app.bank.schema import QuestionAdapter, Topic
from app.core.errors import ConflictError
from app.courses.models import Course
from app.learners.models import Learner
from app.questions.catalog import Catalog, CatalogQuestion, CatalogTopic
from app.questions.models import QuestionRow, QuestionVersion, TopicRow


def served_questions(db: Session, topic: TopicRow) -> tuple[CatalogQuestion, ...]:
    """The topic's published, unretired questions at their published versions. A
    parameterised question is left out: its variants' answers are computed by the runner at
    start-up for the shipped bank only (so far), and no learner sees an answer torch did not
    compute."""
    rows = db.execute(
        select(QuestionRow, QuestionVersion)
        .join(QuestionVersion, QuestionVersion.id == QuestionRow.published_version_id)
        .where(QuestionRow.topic_id == topic.id, QuestionRow.retired_at.is_(None))
        .order_by(QuestionRow.position, QuestionRow.id)
    )
    served = []
    for row, version in rows:
        model = QuestionAdapter.validate_python(version.data)
        if model.variants is None:
            served.append(CatalogQuestion(row.id, row.slug, version.id, row.position, model))
    return tuple(served)


def catalog_topic(db: Session, topic: TopicRow) -> CatalogTopic:
    return CatalogTopic(
        topic.id, topic.slug, Topic.model_validate(topic.data), served_questions(db, topic)
    )


def refresh_course(db: Session, catalog: Catalog, course: Course) -> CatalogTopic:
    """Serve the course's published questions as they are now in the database; call it after
    publish, retire or import (one dict entry replaced: requests in flight keep the old)."""
    served = catalog_topic(db, course_topic(db, course))
    catalog.course_topics[served.slug] = served
    return served


def load_course_topics(db: Session, catalog: Catalog) -> None:
    """Every course's topic, at start-up."""
    for topic in db.scalars(select(TopicRow).where(TopicRow.course_id.is_not(None))):
        catalog.course_topics[topic.slug] = catalog_topic(db, topic)


class NothingToPractiseError(ConflictError):
    """The course has no published question (yet)."""


def start_course_practice(
    db: Session, catalog: Catalog, course: Course, learner: Learner, *, rng: random.Random
) -> SessionRecord:
    """A practice session over the course's published questions, in the order practice uses
    for any topic (what the learner has not yet got right first). The caller has checked
    that the learner's account is a member of the course."""
    topic = refresh_course(db, catalog, course)
    if not topic.questions:
        raise NothingToPractiseError("this course has no published questions to practise yet")
    chosen = practice_order(topic.questions, graded_answers(db, learner.id, topic), rng)
    session = QuizSession(
        learner_id=learner.id,
        topic_id=topic.id,
        mode="practice",
        version_ids=[q.pick_version(rng) for q in chosen],
        filters={},
    )
    db.add(session)
    db.flush()
    return SessionRecord.of(session)


def topic_links(topic_slug: str) -> dict[str, str | None]:
    """Where a practice page's links lead: a shipped topic's pages, or for a course's bank the
    course and its practice start (a course bank has no topic page nor mistakes review)."""
    if topic_slug.startswith(TOPIC_PREFIX):
        course = f"/courses/{topic_slug.removeprefix(TOPIC_PREFIX)}"
        return {"topic": course, "practice": f"{course}/practice", "mistakes": None}
    topic = f"/topics/{topic_slug}"
    return {"topic": topic, "practice": f"{topic}/practice", "mistakes": f"{topic}/mistakes"}
