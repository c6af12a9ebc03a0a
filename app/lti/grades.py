"""Grade passback's memory (LTI Assignment and Grade Services): the line item each resource
link posts to, and per (line item, learner) the last score sent and how the platform answered.

The last timestamp is kept because a platform orders scores by it: Moodle answers 409 to a
score whose timestamp is not later than the last it took for that learner, at one-second
resolution. The last accepted score is kept so that only a changed grade is sent again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, utcnow
from app.learners.models import SUBJECT_LENGTH
from app.lti.models import URL_LENGTH

URL_HASH_LENGTH = 64  # sha256 hex of a line item URL: URLs are too long to index everywhere


class LtiLineItem(Base):
    """A platform's gradebook column that a resource link's scores go to: the link's own
    `lineitem` claim (Open edX declares just that one) or one found or created by us."""

    __tablename__ = "lti_line_items"
    __table_args__ = (UniqueConstraint("platform_id", "url_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(
        ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True
    )
    resource_link_id: Mapped[int | None] = mapped_column(
        ForeignKey("lti_resource_links.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    url_hash: Mapped[str] = mapped_column(String(URL_HASH_LENGTH))
    created_by_us: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LtiScore(Base):
    """The last score sent for one learner (the platform's `sub` for them) to one line item.
    `score` is the last one the platform accepted; `timestamp` the last one sent, accepted
    or not (the next must be later)."""

    __tablename__ = "lti_scores"
    __table_args__ = (UniqueConstraint("line_item_id", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    line_item_id: Mapped[int] = mapped_column(ForeignKey("lti_line_items.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(SUBJECT_LENGTH))
    score: Mapped[float | None] = mapped_column(Float)
    timestamp: Mapped[datetime | None]
    last_status: Mapped[int | None]  # the platform's HTTP status at the last post
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
