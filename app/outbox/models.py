"""The outbox: messages to other systems (an LMS's grade, a course's webhook), written in the
same transaction as the change they report, and delivered afterwards with retries. A crash or
an outage of the other side delays a message; it never loses one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, utcnow

KIND_LENGTH = 40
KEY_LENGTH = 200


class OutboxMessage(Base):
    """One message to deliver. `status`: pending (waiting, or leased by a deliverer until
    `leased_until`), delivered, refused (the other side said no for good: recorded with its
    reason, never retried) or dead (retries used up)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH))  # which deliverer: "ags_score", ...
    # What the message is about, for the delivery log and to replace a stale pending message
    # (a newer score for the same learner and line item): unique among pending ones per kind.
    key: Mapped[str | None] = mapped_column(String(KEY_LENGTH))
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    leased_until: Mapped[datetime | None]
    last_status: Mapped[int | None]  # the other side's HTTP status at the last try
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class OutboxTry(Base):
    """One try at delivering a message, for the delivery log: when, what the other side
    answered (`status`, its HTTP status if any), what we made of it (`outcome`: delivered,
    retry, refused, dead) and how long it took."""

    __tablename__ = "outbox_tries"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(12))
    status: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(default=0)
