"""Signed-in sessions as the rest of the app sees them: which account a session token signs
in. Tokens are 256 random bits, sent once, stored as their SHA-256 (app.accounts makes them).

Every request of a signed-in browser needs its session checked, and a database round trip
for it cost a signed-in request four times an anonymous one's throughput (bench/http_load.py).
So a process keeps the sessions it found live for a few seconds (`LiveSessions`), and every
process forgets them at once when one ends them (sign-out, reset: app.core.invalidations,
through Redis when several processes serve the site).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.errors import UnauthorizedError
from app.core.invalidations import SETTLING_SECONDS, Invalidations
from app.learners.models import AccountSession, User

SESSION_CACHE_SECONDS = 5.0
HASH = "#"  # Kept.forget's field: the token's hash itself
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
    `seconds` under the token's hash; bounded, cleared when full.

    Forgetting is site-wide (app.core.invalidations): by the token (`forget`) or by a field
    of what it stands for (`forget_by`, one of `fields`), here at once and, through Redis, in
    every other process; and what was forgotten is not kept again while the change that ended
    it may still be committing. With Redis, nothing is served from here while this process
    does not hear the others."""

    def __init__(
        self,
        seconds: float = SESSION_CACHE_SECONDS,
        most: int = 50_000,
        *,
        shared: Invalidations | None = None,
        topic: str = "kept",
        fields: Mapping[str, Callable[[T], object]] | None = None,
    ) -> None:
        self._seconds, self._most = seconds, most
        self._kept: dict[str, tuple[T, float]] = {}
        self._fields: Mapping[str, Callable[[T], object]] = fields or {}
        self._ended: list[tuple[str, str, float]] = []  # (field, value, until): not kept again
        self._shared, self._topic = shared or Invalidations(), topic
        self._shared.on(topic, self._heard)
        self._shared.on_reset(self._kept.clear)

    def get(self, token: str) -> T | None:
        found = self._kept.get(token_hash(token))
        if found is None or found[1] < time.monotonic() or not self._shared.trusted:
            return None
        return found[0]

    def keep(self, token: str, value: T) -> None:
        hashed = token_hash(token)
        if not self._shared.trusted or self._ended_for(hashed, value):
            return
        if len(self._kept) >= self._most:
            self._kept.clear()
        self._kept[hashed] = (value, time.monotonic() + self._seconds)

    def forget(self, token: str) -> None:
        """One token: here, and in every other process."""
        self._forget(HASH, token_hash(token))

    def forget_by(self, field: str, value: object) -> None:
        """Every token whose value's `field` is `value` (all of an account's sessions, a
        revoked API token's): here, and in every other process."""
        self._forget(field, str(value))

    def _forget(self, field: str, value: str) -> None:
        self._shared.announce(self._topic, json.dumps([field, value]))

    def _heard(self, key: str) -> None:
        field, value = json.loads(key)
        now = time.monotonic()
        self._ended = [e for e in self._ended if e[2] > now]
        self._ended.append((field, value, now + SETTLING_SECONDS))
        ended = [h for h, (kept, _) in list(self._kept.items()) if self._is(field, value, h, kept)]
        for hashed in ended:  # list(): atomic, while routes' threads may keep meanwhile
            self._kept.pop(hashed, None)

    def _ended_for(self, hashed: str, value: T) -> bool:
        now = time.monotonic()
        return any(
            until > now and self._is(field, ended, hashed, value)
            for field, ended, until in self._ended
        )

    def _is(self, field: str, value: str, hashed: str, kept: T) -> bool:
        if field == HASH:
            return hashed == value
        read = self._fields.get(field)
        return read is not None and str(read(kept)) == value


class LiveSessions(Kept[Account]):
    """Sessions found live, each kept `seconds`."""

    def __init__(
        self,
        seconds: float = SESSION_CACHE_SECONDS,
        most: int = 50_000,
        *,
        shared: Invalidations | None = None,
    ) -> None:
        fields = {"user": lambda account: account.user_id}
        super().__init__(seconds, most, shared=shared, topic="sessions", fields=fields)

    def forget_user(self, user_id: int) -> None:
        """Every session of one account (a password reset ends them all)."""
        self.forget_by("user", user_id)
