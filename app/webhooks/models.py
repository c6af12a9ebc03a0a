"""A course's webhook subscriptions, and which outbox messages went to which of them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.bounds import PUBLIC_ID_LENGTH
from app.core.db import Base, utcnow

URL_LENGTH = 2000
SECRET_LENGTH = 100
DESCRIPTION_LENGTH = 200


class WebhookSubscription(Base):
    """An endpoint of the course's that hears of the events it names. `secret` signs each
    delivery (Standard Webhooks: "whsec_" + base64 of random bytes); shown to staff, since
    they must copy it into the receiver."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(PUBLIC_ID_LENGTH), unique=True, default=lambda: str(uuid.uuid4())
    )
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    secret: Mapped[str] = mapped_column(String(SECRET_LENGTH))
    events: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(default=True)
    description: Mapped[str] = mapped_column(String(DESCRIPTION_LENGTH), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookMessage(Base):
    """An outbox message (kind "webhook") sent to one subscription: its delivery log."""

    __tablename__ = "webhook_messages"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True
    )
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
