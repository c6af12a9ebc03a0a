"""Signed-in sessions as the rest of the app sees them: which account a session token signs
in. Tokens are 256 random bits, sent once, stored as their SHA-256 (app.accounts makes them)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import as_utc, utcnow
from app.core.errors import UnauthorizedError
from app.learners.models import AccountSession, User


class SignedOutError(UnauthorizedError):
    """The browser's account session has ended (signed out elsewhere, a password reset)."""

    code = "signed_out"


def new_token() -> tuple[str, str]:
    """A random token and the hash that is stored for it."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_user(db: Session, token: str) -> User | None:
    """The account a session token signs in, if the session is live."""
    row = db.scalar(select(AccountSession).where(AccountSession.token_hash == token_hash(token)))
    if row is None or as_utc(row.expires_at) <= utcnow():
        return None
    return db.get(User, row.user_id)
