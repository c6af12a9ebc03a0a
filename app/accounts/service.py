"""Accounts: sign up, sign in, sign out and password resets, and the learner each account owns.

An account owns one learner row. Signing up attaches the browser's anonymous learner to the
new account; signing in moves the browser's anonymous history into the account's learner: no
answer is left behind. Hashing a password takes ~0.1 s of CPU, so the async functions here
hash in a worker thread between two short transactions, never on the event loop or inside a
transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import anyio.to_thread
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.accounts.passwords import hash_password, verify_password
from app.attempts.models import Answer, QuizSession, Reveal
from app.core.db import Database, add_once, as_utc, utcnow
from app.core.errors import AppError, ConflictError, UnauthorizedError
from app.core.limiting import Limits, Rule, retry_after
from app.lab.models import ACTIVE, LabRun
from app.learners.models import AccountSession, Learner, PasswordReset, User
from app.learners.service import find_learner
from app.learners.sessions import new_token, token_hash
from app.runner.ratelimit import address_key

SITE_ROLES = ("learner", "admin")
RESET_LIFETIME = timedelta(hours=1)


class TooManySignInsError(AppError):
    status = 429
    code = "rate_limited"


@dataclass(frozen=True)
class SignedIn:
    user_id: int
    email: str
    display_name: str | None
    site_role: str
    learner_public_id: str
    session_token: str  # for the cookie; only its hash is stored


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(User.email == normalise_email(email)))


def create_user(
    db: Session,
    email: str,
    password: str | None = None,
    *,
    hashed: str | None = None,
    display_name: str | None = None,
    role: str = "learner",
) -> User:
    """A new account (give the password, or its hash made off the event loop); ConflictError
    when the address has one, compared without case."""
    if role not in SITE_ROLES:
        raise ValueError(f"site role must be one of {', '.join(SITE_ROLES)}")
    user = User(
        email=normalise_email(email),
        display_name=display_name,
        password_hash=hashed or hash_password(password or ""),
        site_role=role,
    )
    # Two sign-ups with one address at once: the unique key lets one through.
    if find_user(db, email) is not None or not add_once(db, user):
        raise ConflictError(
            "an account with this email exists: sign in, or reset its password", field="email"
        )
    return user


def start_session(db: Session, user: User, lifetime: timedelta) -> str:
    token, hashed = new_token()
    now = utcnow()
    db.add(AccountSession(token_hash=hashed, user_id=user.id, expires_at=now + lifetime))
    user.last_sign_in_at = now
    db.flush()
    return token


def end_session(db: Session, token: str) -> None:
    db.execute(delete(AccountSession).where(AccountSession.token_hash == token_hash(token)))


def account_learner(db: Session, user: User) -> Learner:
    """The account's learner, made when it has none (an account made on the command line)."""
    learner = db.scalar(select(Learner).where(Learner.user_id == user.id))
    if learner is None:
        learner = Learner(user_id=user.id)
        db.add(learner)
        db.flush()
    return learner


def _signed_in(db: Session, user: User, lifetime: timedelta) -> SignedIn:
    learner = account_learner(db, user)
    token = start_session(db, user, lifetime)
    email = user.email or ""
    return SignedIn(user.id, email, user.display_name, user.site_role, learner.public_id, token)


# --- sign up ---


async def sign_up(
    database: Database,
    email: str,
    password: str,
    display_name: str | None,
    browser_learner: str,
    lifetime: timedelta,
) -> SignedIn:
    hashed = await anyio.to_thread.run_sync(hash_password, password)
    return await database.run(_sign_up, email, hashed, display_name, browser_learner, lifetime)


def _sign_up(
    db: Session,
    email: str,
    hashed: str,
    display_name: str | None,
    browser_learner: str,
    lifetime: timedelta,
) -> SignedIn:
    """The new account keeps this browser's anonymous history (a learner of another account
    is left as it is). The learner gets a new public id: the old one may sit in a bearer
    token or another browser's cookie, and an account's learner answers only to its sessions
    (its id travels inside the account cookie only)."""
    user = create_user(db, email, hashed=hashed, display_name=display_name)
    anonymous = find_learner(db, browser_learner)
    if anonymous is not None and anonymous.user_id is None:
        anonymous.user_id = user.id
        anonymous.public_id = str(uuid.uuid4())
        db.flush()
    return _signed_in(db, user, lifetime)


# --- sign in ---


class SignInLimits:
    """Failed sign-ins allowed per account and per client address (app.core.limiting: shared
    by every app process when Redis is configured): a guesser is slowed to the per-account
    rate once the burst is spent, and one address to a few a minute over all accounts. Only a
    failed sign-in spends; a refused one spends nothing."""

    def __init__(
        self,
        *,
        burst: int,
        per_minute: int,
        address_burst: int,
        address_per_minute: int,
        limits: Limits | None = None,
    ) -> None:
        self._limits = limits or Limits()
        self._account = Rule(burst, per_minute)
        self._address = Rule(address_burst, address_per_minute)

    def _keys(self, email: str, address: str) -> list[tuple[Rule, tuple[str, ...], str]]:
        return [
            (self._account, ("sign-in", "account", normalise_email(email)), "this account"),
            (self._address, ("sign-in", "address", address_key(address)), "your network address"),
        ]

    async def check(self, email: str, address: str) -> None:
        for rule, key, whose in self._keys(email, address):
            if wait := await self._limits.wait(rule, *key):
                error = TooManySignInsError(
                    f"too many failed sign-ins for {whose}: try again in {retry_after(wait)} s, "
                    "or reset the password",
                    field="password",
                )
                error.headers = {"Retry-After": retry_after(wait)}
                raise error

    async def failed(self, email: str, address: str) -> None:
        for rule, key, _ in self._keys(email, address):
            await self._limits.hit(rule, *key)


async def sign_in(
    database: Database,
    email: str,
    password: str,
    browser_learner: str,
    *,
    limits: SignInLimits,
    address: str,
    lifetime: timedelta,
) -> SignedIn:
    await limits.check(email, address)
    stored = await database.run(_password_hash, email)
    ok, rehashed = await anyio.to_thread.run_sync(verify_password, password, stored)
    if not ok:
        await limits.failed(email, address)
        raise UnauthorizedError("the email or the password is not right", field="password")
    return await database.run(_sign_in, email, rehashed, browser_learner, lifetime)


def _password_hash(db: Session, email: str) -> str | None:
    user = find_user(db, email)
    return user.password_hash if user else None


def _sign_in(
    db: Session, email: str, rehashed: str | None, browser_learner: str, lifetime: timedelta
) -> SignedIn:
    user = find_user(db, email)
    if user is None:  # deleted between the two transactions
        raise UnauthorizedError("the email or the password is not right", field="password")
    if rehashed:  # the stored hash used older parameters than today's
        user.password_hash = rehashed
    learner = account_learner(db, user)
    anonymous = find_learner(db, browser_learner)
    if anonymous is not None and anonymous.user_id is None and anonymous.id != learner.id:
        adopt_history(db, anonymous, learner)
    return _signed_in(db, user, lifetime)


def adopt_history(db: Session, anonymous: Learner, account: Learner) -> None:
    """Move an anonymous learner's sessions, answers, help and lab runs to an account's
    learner. A lab run still active stays behind if the account has one active already (one
    active run per learner); it finishes as the anonymous learner's."""
    for table in (QuizSession, Answer, Reveal):
        db.execute(
            update(table).where(table.learner_id == anonymous.id).values(learner_id=account.id)
        )
    account_busy = db.scalar(
        select(func.count()).where(LabRun.learner_id == account.id, LabRun.status.in_(ACTIVE))
    )
    moving = LabRun.learner_id == anonymous.id
    if account_busy:
        moving = moving & LabRun.status.not_in(ACTIVE)
    db.execute(update(LabRun).where(moving).values(learner_id=account.id))


# --- password reset ---


def request_reset(db: Session, email: str) -> tuple[str, str] | None:
    """(address, one-time token) for the address's account, or None when it has none: the
    caller says the same words either way, so the form tells nobody who has an account."""
    user = find_user(db, email)
    if user is None or user.email is None:
        return None
    token, hashed = new_token()
    db.add(PasswordReset(token_hash=hashed, user_id=user.id, expires_at=utcnow() + RESET_LIFETIME))
    db.flush()
    return user.email, token


def reset_usable(db: Session, token: str) -> PasswordReset:
    row = db.scalar(select(PasswordReset).where(PasswordReset.token_hash == token_hash(token)))
    if row is None or row.used_at is not None or as_utc(row.expires_at) <= utcnow():
        raise ConflictError(
            "this reset link is used, expired or wrong: ask for a new one", field="token"
        )
    return row


async def reset_password(
    database: Database, token: str, password: str, lifetime: timedelta
) -> SignedIn:
    await database.run(reset_usable, token)  # a bad link is said before any hashing
    hashed = await anyio.to_thread.run_sync(hash_password, password)
    return await database.run(_reset_password, token, hashed, lifetime)


def _reset_password(db: Session, token: str, hashed: str, lifetime: timedelta) -> SignedIn:
    """Once; every session of the account ends (a thief's included), and this browser is
    signed in afresh."""
    row = reset_usable(db, token)
    user = db.get(User, row.user_id)
    assert user is not None  # the reset row is deleted with its user
    row.used_at = utcnow()
    user.password_hash = hashed
    db.execute(delete(AccountSession).where(AccountSession.user_id == user.id))
    return _signed_in(db, user, lifetime)
