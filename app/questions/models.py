"""Topics and questions: the shipped bank's, synced from its files, and each course's own bank,
edited in the browser. Every content change is a new, immutable version; answers point at one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.bounds import SLUG_LENGTH
from app.core.db import Base, utcnow


class TopicRow(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(SLUG_LENGTH), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(60))
    estimated_minutes: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]
    # A course's own bank is a topic of its own; None for the shipped bank's topics.
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), unique=True
    )


SHIPPED = "course_id IS NULL"
IN_COURSE = "course_id IS NOT NULL"


class QuestionRow(Base):
    __tablename__ = "questions"
    __table_args__ = (
        # An id is unique in the shipped bank, and within each course's bank.
        Index(
            "uq_questions_shipped_slug",
            "slug",
            unique=True,
            sqlite_where=text(SHIPPED),
            postgresql_where=text(SHIPPED),
        ),
        Index(
            "uq_questions_course_slug",
            "course_id",
            "slug",
            unique=True,
            sqlite_where=text(IN_COURSE),
            postgresql_where=text(IN_COURSE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(SLUG_LENGTH))
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    # The version learners get: the shipped bank's current one; a course question's published
    # one (None while it is a draft). `current_version_id` is the newest saved.
    published_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("question_versions.id", use_alter=True)
    )
    position: Mapped[int] = mapped_column(Integer)
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("question_versions.id", use_alter=True)
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A question removed from the files is retired, never deleted: answers point at it.
    retired_at: Mapped[datetime | None]


class QuestionVersion(Base):
    __tablename__ = "question_versions"
    __table_args__ = (UniqueConstraint("question_id", "content_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(30))
    difficulty: Mapped[str] = mapped_column(String(10))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    source_path: Mapped[str] = mapped_column(Text)
    # A variant of a parameterised question: its template's version, its seed, and the torch
    # version that computed its answer (a new torch computes the answers again).
    variant_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("question_versions.id"), index=True
    )
    seed: Mapped[int | None]
    torch_version: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Who saved it and why (course banks; the shipped bank's come from its files).
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    message: Mapped[str | None] = mapped_column(Text)


class Verification(Base):
    """A verify run of one version against real torch: every claim, what it says and what torch
    did (app.bank.verification). Publishing needs the version's latest to have passed."""

    __tablename__ = "verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("question_versions.id", ondelete="CASCADE"), index=True
    )
    passed: Mapped[bool] = mapped_column(Boolean)
    claims: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    seeds: Mapped[int] = mapped_column(Integer)
    torch_version: Mapped[str] = mapped_column(String(40))
    run_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
