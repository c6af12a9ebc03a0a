"""An assignment: a set of rules over a pool of questions; its attempts are test sessions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.bounds import NAME_LENGTH, PUBLIC_ID_LENGTH
from app.core.db import Base, utcnow


class Assignment(Base):
    """A course's assignment, or a shipped topic's default one (its Test mode): `course_id`
    is then empty and `is_default` set. An attempt is a `quiz_sessions` row in mode "test"
    pointing here; the rules (app.assignments.rules) are kept as JSON, validated on the way in
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
