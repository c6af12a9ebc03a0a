"""Who answers: learners (anonymous, or attached to an account) and the accounts themselves."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.bounds import EMAIL_LENGTH, NAME_LENGTH, PUBLIC_ID_LENGTH
from app.core.db import Base, utcnow

TOKEN_HASH_LENGTH = 64  # a sha256 hex digest: tokens are stored hashed, never as sent
# An LTI issuer is a URL; its `sub` at most 255 characters (LTI 1.3 core, OIDC Core 2).
ISSUER_LENGTH = 255
SUBJECT_LENGTH = 255


class User(Base):
    """An account: an email, an Argon2id password hash and a site role ("learner" or
    "admin"). Course roles live with the course (app.courses)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored as the person typed it but compared lower-cased (accounts.normalise_email).
    email: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    site_role: Mapped[str] = mapped_column(String(10), default="learner")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]


class Learner(Base):
    __tablename__ = "learners"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The id carried in the signed cookie; never the row id, which would be guessable.
    public_id: Mapped[str] = mapped_column(
        String(PUBLIC_ID_LENGTH), unique=True, default=lambda: str(uuid.uuid4())
    )
    # An account has one learner: its history, whichever browser it signs in from.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccountSession(Base):
    """A signed-in browser. The cookie carries the token; the row its hash, so that signing
    out (or a password reset) ends it everywhere and a copy of the database signs nobody in."""

    __tablename__ = "account_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class PasswordReset(Base):
    """A one-time password reset token (hashed), valid for an hour."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ExternalIdentity(Base):
    """An account as another system knows it: the LMS's user id (`sub`) under its issuer. An
    LTI launch signs in by it, and the API addresses learners by it. One account may have
    several (two LMSs); one (issuer, subject) is one account."""

    __tablename__ = "external_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(ISSUER_LENGTH))
    subject: Mapped[str] = mapped_column(String(SUBJECT_LENGTH))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
