"""The content read model: every current topic and question in memory, keyed the way requests ask.

The shipped bank changes only when it is synced at start, so pages and the API read it from
here instead of the database; answers still point at exact version rows. Course banks' topics
change while the site runs (publish, retire): they are read from the database when asked and
kept only while known current (`CourseTopics`).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.bank.schema import AnyQuestion, Difficulty, QuestionAdapter, Topic
from app.core.errors import NotFoundError
from app.core.invalidations import SETTLING_SECONDS, Invalidations
from app.questions.models import QuestionRow, QuestionVersion, TopicRow

V = TypeVar("V")


@dataclass(frozen=True)
class CatalogQuestion:
    id: int
    slug: str
    version_id: int
    position: int
    model: AnyQuestion
    # A parameterised question's variants (version ids); `version_id` is the first of them.
    variant_ids: tuple[int, ...] = ()
    template: AnyQuestion | None = None  # as written in the file, with {{placeholders}}

    def pick_version(self, rng: random.Random) -> int:
        """The version a new session shows: one variant, drawn once and kept by the session."""
        return rng.choice(self.variant_ids) if self.variant_ids else self.version_id

    @property
    def source(self) -> AnyQuestion:
        """The question as its file states it: what verification checks."""
        return self.template or self.model

    @property
    def difficulty(self) -> Difficulty:
        return self.model.difficulty


@dataclass(frozen=True)
class CatalogTopic:
    id: int
    slug: str
    topic: Topic
    questions: tuple[CatalogQuestion, ...]

    def difficulty_counts(self) -> dict[str, int]:
        counts = Counter(q.difficulty.value for q in self.questions)
        return {d.value: counts.get(d.value, 0) for d in Difficulty}

    def tags(self) -> list[str]:
        return sorted({tag for q in self.questions for tag in q.model.tags})


def served_questions(db: Session, topic: TopicRow) -> tuple[CatalogQuestion, ...]:
    """A course topic's published, unretired questions at their published versions. A
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


def course_catalog_topic(db: Session, topic: TopicRow) -> CatalogTopic:
    return CatalogTopic(
        topic.id, topic.slug, Topic.model_validate(topic.data), served_questions(db, topic)
    )


COURSE_TOPIC = "course_topic"  # the announcement that a course serves other questions


class CourseTopics:
    """Course banks' topics (app.authoring.practice) as their published questions are now:
    read in the asking request's session on a miss, and kept in this process only while known
    current, as app.learners.sessions.Kept keeps tokens. A change announces the topic's slug
    (`changed`, through app.core.invalidations: to every process of the site), and every
    process forgets it; a read begun before the change settled (SETTLING_SECONDS) is served
    but not kept. With Redis, nothing is served from here while this process does not hear."""

    def __init__(self, shared: Invalidations | None = None) -> None:
        self._kept: dict[str, CatalogTopic] = {}
        self._slugs: dict[int, str] = {}  # topic id -> slug: neither ever changes
        self._settled: dict[str, float] = {}  # slug -> when its last change surely committed
        self._all_settled = 0.0  # likewise after a (re)subscription: anything may have changed
        self._shared = shared or Invalidations()
        self._shared.on(COURSE_TOPIC, self._heard)
        self._shared.on_reset(self._reset)

    def get(self, db: Session, slug: str) -> CatalogTopic | None:
        """The course topic `slug` as served now; None when no course has it."""
        found = self._kept.get(slug)
        if found is not None and self._shared.trusted:
            return found
        began = time.monotonic()
        row = db.scalar(
            select(TopicRow).where(TopicRow.slug == slug, TopicRow.course_id.is_not(None))
        )
        if row is None:
            return None
        topic = course_catalog_topic(db, row)
        self._keep(topic, began)
        return topic

    def by_id(self, db: Session, topic_id: int) -> CatalogTopic | None:
        slug = self._slugs.get(topic_id) or db.scalar(
            select(TopicRow.slug).where(TopicRow.id == topic_id, TopicRow.course_id.is_not(None))
        )
        return self.get(db, slug) if slug else None

    def changed(self, slug: str) -> None:
        """The course serves other questions: read again here and in every other process."""
        self._shared.announce(COURSE_TOPIC, slug)

    def clear(self) -> None:
        """Forget everything kept, here only (tests whose rows were rolled back)."""
        self._kept.clear()
        self._slugs.clear()

    def _keep(self, topic: CatalogTopic, began: float) -> None:
        self._slugs[topic.id] = topic.slug
        settled = max(self._settled.get(topic.slug, 0.0), self._all_settled)
        if self._shared.trusted and began >= settled:
            self._kept[topic.slug] = topic

    def _heard(self, slug: str) -> None:
        now = time.monotonic()
        self._settled = {s: t for s, t in self._settled.items() if t > now}
        self._settled[slug] = now + SETTLING_SECONDS
        self._kept.pop(slug, None)

    def _reset(self) -> None:
        self._all_settled = time.monotonic() + SETTLING_SECONDS
        self._kept.clear()


class Catalog:
    def __init__(
        self,
        topics: list[CatalogTopic],
        variants: dict[int, AnyQuestion] | None = None,
        course_topics: CourseTopics | None = None,
    ) -> None:
        self.topics = {t.slug: t for t in topics}
        # Course banks' topics, served to their members only: kept out of `topics`, which
        # every listing and public route reads, and shared (the same object) by the catalogs
        # that replace this one as variants become known.
        self.course_topics = course_topics if course_topics is not None else CourseTopics()
        self._questions = {q.slug: q for t in topics for q in t.questions}
        self._topic_of = {q.slug: t for t in topics for q in t.questions}
        self._versions: dict[int, AnyQuestion] = {
            q.version_id: q.model for t in topics for q in t.questions
        } | (variants or {})
        self._views: dict[tuple[Callable[[AnyQuestion], Any], int], Any] = {}

    def topic(self, slug: str) -> CatalogTopic:
        try:
            return self.topics[slug]
        except KeyError:
            raise NotFoundError(f"no topic '{slug}'", field="topic") from None

    def session_topic(self, db: Session, slug: str) -> CatalogTopic:
        """A session's topic, a course's included: the session is its learner's own, and a
        course session was started only by a member (app.authoring.practice)."""
        found = self.topics.get(slug) or self.course_topics.get(db, slug)
        return found if found is not None else self.topic(slug)

    def topic_by_id(self, db: Session, topic_id: int) -> CatalogTopic:
        for topic in self.topics.values():
            if topic.id == topic_id:
                return topic
        found = self.course_topics.by_id(db, topic_id)
        if found is None:
            raise NotFoundError(f"topic {topic_id} is no longer offered", field="topic")
        return found

    def question(self, slug: str) -> CatalogQuestion:
        try:
            return self._questions[slug]
        except KeyError:
            raise NotFoundError(f"no question '{slug}'", field="question") from None

    def topic_of(self, question_slug: str) -> CatalogTopic:
        return self._topic_of[question_slug]

    def version(self, db: Session, version_id: int) -> AnyQuestion:
        """The exact content a learner saw, even after the file has changed since."""
        cached = self._versions.get(version_id)
        if cached is not None:
            return cached
        row = db.get(QuestionVersion, version_id)
        if row is None:
            raise NotFoundError(f"no question version {version_id}")
        model = QuestionAdapter.validate_python(row.data)
        self._versions[version_id] = model
        return model

    def view(self, db: Session, version_id: int, build: Callable[[AnyQuestion], V]) -> V:
        """A view of one version (public question, solution...), built once: a version's
        content never changes, and building views is a measurable part of a request."""
        key = (build, version_id)
        if key not in self._views:
            self._views[key] = build(self.version(db, version_id))
        return self._views[key]  # type: ignore[no-any-return]

    def versions(self, db: Session, version_ids: list[int]) -> list[AnyQuestion]:
        missing = [v for v in version_ids if v not in self._versions]
        if missing:
            rows = db.scalars(select(QuestionVersion).where(QuestionVersion.id.in_(missing)))
            for row in rows:
                self._versions[row.id] = QuestionAdapter.validate_python(row.data)
        return [self.version(db, v) for v in version_ids]
