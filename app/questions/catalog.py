"""The content read model: every current topic and question in memory, keyed the way requests ask.

Content changes only when the bank is synced at start, so pages and the API read it from here
instead of the database; answers still point at exact version rows.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.bank.schema import AnyQuestion, Difficulty, QuestionAdapter, Topic
from app.core.errors import NotFoundError
from app.questions.models import QuestionVersion

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


class Catalog:
    def __init__(
        self,
        topics: list[CatalogTopic],
        variants: dict[int, AnyQuestion] | None = None,
        course_topics: dict[str, CatalogTopic] | None = None,
    ) -> None:
        self.topics = {t.slug: t for t in topics}
        # Course banks' topics (app.authoring.practice), served to their members only: kept out
        # of `topics`, which every listing and public route reads, and shared (the same dict)
        # by the catalogs that replace this one as variants become known.
        self.course_topics = course_topics if course_topics is not None else {}
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

    def session_topic(self, slug: str) -> CatalogTopic:
        """A session's topic, a course's included: the session is its learner's own, and a
        course session was started only by a member (app.authoring.practice)."""
        found = self.course_topics.get(slug)
        return found if found is not None else self.topic(slug)

    def topic_by_id(self, topic_id: int) -> CatalogTopic:
        for topic in (*self.topics.values(), *self.course_topics.values()):
            if topic.id == topic_id:
                return topic
        raise NotFoundError(f"topic {topic_id} is no longer offered", field="topic")

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
