"""API tokens: credentials an LMS's (or a script's) code sends as `Authorization: Bearer`.

Only the SHA-256 of a token is stored, as for account sessions: a copy of the database signs
nobody in. `prefix` is the start of the token, enough for a person to tell two apart in a list.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.bounds import NAME_LENGTH, PUBLIC_ID_LENGTH
from app.core.db import Base, utcnow
from app.learners.models import TOKEN_HASH_LENGTH

PREFIX_LENGTH = 12  # "tqp_" and 8 characters of the secret
KIND_LENGTH = 10


class ApiToken(Base):
    """A personal token acts as its user; a service token (`course_id` set) acts as its
    creator within that one course only. Both only within their scopes."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(PUBLIC_ID_LENGTH), unique=True, default=lambda: str(uuid.uuid4())
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH))  # "personal" or "service"
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    prefix: Mapped[str] = mapped_column(String(PREFIX_LENGTH))
    token_hash: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    # Browser origins whose pages may call the API with this token (CORS); "*" is any.
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    rate_per_minute: Mapped[int] = mapped_column(default=600)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
