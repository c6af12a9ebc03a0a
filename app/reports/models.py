"""Problem reports on questions, and their threads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.bounds import PUBLIC_ID_LENGTH
from app.core.db import Base, utcnow


class ProblemReport(Base):
    """A learner's report on one question version as they saw it (seed, answer, rendered
    text), or one opened by the app when grading or rendering raised: those are kept once
    per question version and exception type, counting `occurrences`."""

    __tablename__ = "problem_reports"
    __table_args__ = (
        Index(
            "uq_problem_reports_exception",
            "version_id",
            "exception_type",
            unique=True,
            sqlite_where=text("exception_type IS NOT NULL"),
            postgresql_where=text("exception_type IS NOT NULL"),
        ),
        Index("ix_problem_reports_question_status", "question_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(PUBLIC_ID_LENGTH), unique=True, default=lambda: str(uuid.uuid4())
    )
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("question_versions.id"))
    # The question's course (its staff answer), or empty for the shipped bank (site admins).
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    learner_id: Mapped[int | None] = mapped_column(ForeignKey("learners.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("quiz_sessions.id"))
    position: Mapped[int | None] = mapped_column(Integer)
    # answer_wrong, unclear, typo, code_broken, other; "exception" for the app's own.
    kind: Mapped[str] = mapped_column(String(20))
    seed: Mapped[int | None] = mapped_column(Integer)
    given: Mapped[Any] = mapped_column(JSON, nullable=True)
    rendered: Mapped[str] = mapped_column(Text)  # the question as the learner saw it
    # open, acknowledged, fixed, wont_fix; `fixed_in` names the version number that fixed it.
    status: Mapped[str] = mapped_column(String(20), default="open")
    fixed_in: Mapped[int | None] = mapped_column(Integer)
    exception_type: Mapped[str | None] = mapped_column(String(200))
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReportMessage(Base):
    """One message in a report's thread: the learner's text first, then staff and learner."""

    __tablename__ = "report_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("problem_reports.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_staff: Mapped[bool] = mapped_column(Boolean)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
