"""Bring the database in line with the bank files (run after migrations, never inside one)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.bank.loader import Bank, LoadedQuestion, LoadedTopic
from app.core.db import utcnow
from app.questions.catalog import Catalog, CatalogQuestion, CatalogTopic
from app.questions.models import QuestionRow, TopicRow
from app.questions.versions import version_for


@dataclass
class SyncReport:
    new_versions: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)


def sync_bank(db: Session, bank: Bank) -> tuple[Catalog, SyncReport]:
    report = SyncReport()
    # The shipped bank's rows only: course banks are edited in the app, never by the files.
    topics = {
        row.slug: row for row in db.scalars(select(TopicRow).where(TopicRow.course_id.is_(None)))
    }
    questions = {
        row.slug: row
        for row in db.scalars(select(QuestionRow).where(QuestionRow.course_id.is_(None)))
    }
    catalog_topics = []
    for loaded in bank.topics.values():
        row = _upsert_topic(db, topics.get(loaded.slug), loaded)
        entries = [
            _sync_question(db, questions.get(q.question.id), q, row, position, report)
            for position, q in enumerate(loaded.questions)
        ]
        catalog_topics.append(CatalogTopic(row.id, row.slug, loaded.topic, tuple(entries)))
    _retire_missing(bank, topics, questions, report)
    db.flush()
    return Catalog(catalog_topics), report


def _upsert_topic(db: Session, row: TopicRow | None, loaded: LoadedTopic) -> TopicRow:
    if row is None:
        row = TopicRow(slug=loaded.slug)
        db.add(row)
    if row.content_hash != loaded.content_hash or row.retired_at is not None:
        t = loaded.topic
        row.title, row.category, row.estimated_minutes = t.title, t.category, t.estimated_minutes
        row.data = t.model_dump(mode="json")
        row.content_hash = loaded.content_hash
        row.updated_at = utcnow()
        row.retired_at = None
    db.flush()
    return row


def _sync_question(
    db: Session,
    row: QuestionRow | None,
    loaded: LoadedQuestion,
    topic: TopicRow,
    position: int,
    report: SyncReport,
) -> CatalogQuestion:
    question = loaded.question
    if row is None:
        row = QuestionRow(slug=question.id, topic_id=topic.id, position=position)
        db.add(row)
        db.flush()
    row.topic_id, row.position, row.retired_at = topic.id, position, None
    version, new = version_for(db, row, question, loaded.content_hash, source_path=loaded.path.name)
    if new:
        report.new_versions.append(question.id)
    row.current_version_id = row.published_version_id = version.id
    return CatalogQuestion(row.id, row.slug, version.id, position, question)


def _retire_missing(
    bank: Bank,
    topics: dict[str, TopicRow],
    questions: dict[str, QuestionRow],
    report: SyncReport,
) -> None:
    present = {q.question.id for t in bank.topics.values() for q in t.questions}
    now = utcnow()
    for slug, row in questions.items():
        if slug not in present and row.retired_at is None:
            row.retired_at = now
            report.retired.append(slug)
    for slug, topic in topics.items():
        if slug not in bank.topics and topic.retired_at is None:
            topic.retired_at = now
            report.retired.append(f"topic {slug}")
