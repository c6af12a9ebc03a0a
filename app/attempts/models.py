"""Practice and test sessions, every answer given in them, and the assignments a test is an
attempt at."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.bounds import NAME_LENGTH, PUBLIC_ID_LENGTH
from app.core.db import Base, utcnow


class Assignment(Base):
    """A course's assignment, or a shipped topic's default one (its Test mode): `course_id`
    is then empty and `is_default` set. An attempt is a `quiz_sessions` row in mode "test"
    pointing here; the rules (app.attempts.rules) are kept as JSON, validated on the way in
    and out, since they grow with the product and no query filters on them."""

    __tablename__ = "assignments"
    __table_args__ = (
        # One default assignment per shipped topic, however many processes start at once.
        Index(
            "uq_assignments_default_topic",
            "topic_id",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(PUBLIC_ID_LENGTH), unique=True, default=lambda: str(uuid.uuid4())
    )
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    # The topic its attempts are filed under: the course's bank, or the shipped topic.
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"))
    title: Mapped[str] = mapped_column(String(NAME_LENGTH))
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    archived_at: Mapped[datetime | None]


class QuizSession(Base):
    """One sitting: a practice run over a filtered list, or a test (an assignment's attempt)."""

    __tablename__ = "quiz_sessions"
    __table_args__ = (
        # Two tabs starting an attempt at once make one (app.attempts.assignments).
        UniqueConstraint("assignment_id", "learner_id", "attempt", name="uq_quiz_sessions_attempt"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(PUBLIC_ID_LENGTH), unique=True, default=lambda: str(uuid.uuid4())
    )
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id"), index=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"))
    mode: Mapped[str] = mapped_column(String(10))  # "practice" or "test"
    # The exact question versions of this session, in order; fixed when it starts.
    version_ids: Mapped[list[int]] = mapped_column(JSON)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    score: Mapped[float | None] = mapped_column(Float)
    # A test is an attempt at an assignment (a shipped topic's Test mode is its default one).
    assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int | None] = mapped_column(Integer)  # 1, 2... per learner and assignment
    # When the server ends it: the time limit, or the close date, whichever comes first.
    deadline_at: Mapped[datetime | None]


class Answer(Base):
    __tablename__ = "answers"
    __table_args__ = (
        # A test holds one answer per slot: a reload or second tab overwrites, never adds.
        UniqueConstraint("session_id", "slot", name="uq_answers_session_slot"),
        Index("ix_answers_learner_created", "learner_id", "created_at"),
        # Which positions of a session are answered, read from the index alone.
        Index("ix_answers_session_position", "session_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("quiz_sessions.id"), index=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id"))
    question_version_id: Mapped[int] = mapped_column(ForeignKey("question_versions.id"))
    position: Mapped[int] = mapped_column(Integer)
    # Test answers use their position as the slot; practice answers leave it empty (many tries).
    slot: Mapped[int | None] = mapped_column(Integer)
    given: Mapped[Any] = mapped_column(JSON)
    correct: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float] = mapped_column(Float)
    time_taken_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Reveal(Base):
    """Help a learner asked for in practice: a hint (`number` 1, 2...) or the solution
    (`number` 0). An answer given after its question's solution, or after its last hint, in the
    same session is correct without being mastered (app.attempts.history)."""

    __tablename__ = "reveals"
    __table_args__ = (
        # Asking twice (a second tab, a double click) records one reveal.
        UniqueConstraint("session_id", "position", "number", name="uq_reveals_session_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("quiz_sessions.id"), index=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    # The solution, or the question's last hint: what makes a later answer "with help".
    gives_away: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Flag(Base):
    """A test question its learner marked to revisit before finishing."""

    __tablename__ = "flags"

    session_id: Mapped[int] = mapped_column(ForeignKey("quiz_sessions.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
