"""Learners practising a course's bank: its published questions, served to its members only.

The attempts machinery reads topics from the catalog (app.questions.catalog); a course's topic
is there in `catalog.course_topics`, out of every listing and public route, built from the
database's published versions (never drafts, never retired questions). It is read when asked,
in the asking request's session, and kept in each process only while it is known current:
whatever changes which versions a course serves (publish, retire: app.authoring.service)
announces it (`course_changed`) to every process of the site, so any request may go to any
replica. An import writes drafts and new versions only, never a published one: it changes
nothing served.
"""

from __future__ import annotations

import random

from sqlalchemy.orm import Session

from app.attempts.drawing import practice_order
from app.attempts.history import graded_answers
from app.attempts.models import QuizSession
from app.attempts.records import SessionRecord
from app.authoring.bank import TOPIC_PREFIX, course_topic
from app.core.errors import ConflictError
from app.courses.models import Course
from app.learners.models import Learner
from app.questions.catalog import Catalog, CatalogTopic, course_catalog_topic


def served_course(db: Session, catalog: Catalog, course: Course) -> CatalogTopic:
    """The course's topic as it is served now (its row made on first use)."""
    row = course_topic(db, course)
    served = catalog.course_topics.get(db, row.slug)
    return served if served is not None else course_catalog_topic(db, row)


def course_changed(db: Session, catalog: Catalog, course: Course) -> None:
    """Which versions the course serves changed (in the caller's transaction): every process
    reads its topic again."""
    catalog.course_topics.changed(course_topic(db, course).slug)


class NothingToPractiseError(ConflictError):
    """The course has no published question (yet)."""


def start_course_practice(
    db: Session, catalog: Catalog, course: Course, learner: Learner, *, rng: random.Random
) -> SessionRecord:
    """A practice session over the course's published questions, in the order practice uses
    for any topic (what the learner has not yet got right first). The caller has checked
    that the learner's account is a member of the course."""
    topic = served_course(db, catalog, course)
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
