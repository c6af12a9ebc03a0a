"""Signed-in sessions as the rest of the app sees them: which account a session token signs
in. Tokens are 256 random bits, sent once, stored as their SHA-256 (app.accounts makes them).

Every request of a signed-in browser needs its session checked, and a database round trip
for it cost a signed-in request four times an anonymous one's throughput (bench/http_load.py).
So a process keeps the sessions it found live for a few seconds (`LiveSessions`), and forgets
them at once when it ends them itself (sign-out, reset). Another process of the same site may
go on accepting an ended session for at most that long.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.errors import UnauthorizedError
from app.learners.models import AccountSession, User

SESSION_CACHE_SECONDS = 5.0
T = TypeVar("T")


class SignedOutError(UnauthorizedError):
    """The browser's account session has ended (signed out elsewhere, a password reset)."""

    code = "signed_out"


def new_token() -> tuple[str, str]:
    """A random token and the hash that is stored for it."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Account:
    """The signed-in account behind a request."""

    user_id: int
    email: str | None  # None for an account an LMS made (LTI): it signs in by its launch
    display_name: str | None
    site_role: str
    # An API token's (app.tokens): what it may do, and the course a service token is bound
    # to. A browser's session has scopes None: everything its roles allow.
    scopes: frozenset[str] | None = None
    token_id: int | None = None
    token_course_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.site_role == "admin"

    @property
    def name(self) -> str:
        return self.display_name or self.email or f"user {self.user_id}"


def live_account(db: Session, token: str) -> Account | None:
    """The account of a live session, in one query."""
    row = db.execute(
        select(User.id, User.email, User.display_name, User.site_role)
        .join(AccountSession, AccountSession.user_id == User.id)
        .where(AccountSession.token_hash == token_hash(token), AccountSession.expires_at > utcnow())
    ).first()
    if row is None:
        return None
    return Account(row.id, row.email, row.display_name, row.site_role)


class Kept(Generic[T]):
    """What a secret token (a session's, an API token's) was found to stand for, each kept
    `seconds` under the token's hash; bounded, cleared when full."""

    def __init__(self, seconds: float = SESSION_CACHE_SECONDS, most: int = 50_000) -> None:
        self._seconds, self._most = seconds, most
        self._kept: dict[str, tuple[T, float]] = {}

    def get(self, token: str) -> T | None:
        found = self._kept.get(token_hash(token))
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    def keep(self, token: str, value: T) -> None:
        if len(self._kept) >= self._most:
            self._kept.clear()
        self._kept[token_hash(token)] = (value, time.monotonic() + self._seconds)

    def forget(self, token: str) -> None:
        self._kept.pop(token_hash(token), None)

    def forget_where(self, ended: Callable[[T], bool]) -> None:
        """Every value `ended` says is over (all of an account's sessions, a revoked token)."""
        for key in [k for k, (value, _) in self._kept.items() if ended(value)]:
            self._kept.pop(key, None)


class LiveSessions(Kept[Account]):
    """Sessions this process found live, each kept `seconds`."""

    def forget_user(self, user_id: int) -> None:
        """Every session of one account (a password reset ends them all)."""
        self.forget_where(lambda account: account.user_id == user_id)
