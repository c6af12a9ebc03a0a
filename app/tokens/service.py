"""API tokens: made (the secret shown once), listed (never the secret), revoked, and checked.

A token is `tqp_` (personal: acts as its user) or `tqs_` (service: acts as its creator within
one course) and 256 random bits; only its SHA-256 is stored. Services flush, never commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.accounts.service import account_learner
from app.core.cors import parse_origin
from app.core.db import as_utc, utcnow
from app.core.errors import AppError, ForbiddenError, NotFoundError, UnauthorizedError
from app.courses.models import Course
from app.courses.permissions import allows
from app.courses.service import find_course, roles_in
from app.learners.models import Learner, User
from app.learners.sessions import Account, token_hash
from app.tokens.models import PREFIX_LENGTH, ApiToken
from app.tokens.scopes import PRACTICE, unknown_scopes

PERSONAL, SERVICE = "tqp_", "tqs_"
SECRET_LENGTH = 4 + 43  # the prefix and 32 bytes in URL-safe base64
RATE_DEFAULT, RATE_MIN, RATE_MAX = 600, 1, 6000  # requests a minute (and the burst)
MOST_ORIGINS = 20
LAST_USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often


class TokenRequestError(AppError):
    """A token asked for with something wrong in it: names the field."""

    status = 422
    code = "invalid_token_request"


@dataclass(frozen=True)
class NewToken:
    row: ApiToken
    secret: str  # shown once, in the answer that made it


@dataclass(frozen=True)
class TokenRequest:
    name: str
    scopes: list[str]
    course_slug: str | None = None  # a service token for this course; None: personal
    expires_at: datetime | None = None
    allowed_origins: tuple[str, ...] = ()
    rate_per_minute: int = RATE_DEFAULT


@dataclass(frozen=True)
class Resolved:
    """A live token as a request uses it."""

    account: Account
    learner_public_id: str
    public_id: str
    rate_per_minute: int
    expires_at: datetime | None


def is_api_token(value: str) -> bool:
    return value.startswith((PERSONAL, SERVICE))


def well_formed(secret: str) -> bool:
    """Shaped as we make them: no lookup is spent on anything else."""
    body = secret[4:]
    return (
        len(secret) == SECRET_LENGTH
        and is_api_token(secret)
        and body.isascii()
        and all(c.isalnum() or c in "-_" for c in body)
    )


def create(db: Session, user: User, request: TokenRequest) -> NewToken:
    """A new token for `user`; TokenRequestError (422) naming the field at fault, or 403 for
    a service token of a course the user does not manage."""
    scopes = _checked_scopes(request)
    course = _service_course(db, user, request.course_slug)
    if request.expires_at is not None and as_utc(request.expires_at) <= utcnow():
        raise TokenRequestError("the expiry must be in the future", field="expires_at")
    if not RATE_MIN <= request.rate_per_minute <= RATE_MAX:
        raise TokenRequestError(
            f"the rate limit must be from {RATE_MIN} to {RATE_MAX} requests a minute",
            field="rate_per_minute",
        )
    prefix = SERVICE if course else PERSONAL
    secret = prefix + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        course_id=course.id if course else None,
        kind="service" if course else "personal",
        name=request.name,
        prefix=secret[:PREFIX_LENGTH],
        token_hash=token_hash(secret),
        scopes=scopes,
        allowed_origins=checked_origins(list(request.allowed_origins)),
        rate_per_minute=request.rate_per_minute,
        expires_at=request.expires_at,
    )
    db.add(row)
    db.flush()
    return NewToken(row, secret)


def _checked_scopes(request: TokenRequest) -> list[str]:
    if unknown := unknown_scopes(request.scopes):
        raise TokenRequestError(f"unknown scope(s): {', '.join(unknown)}", field="scopes")
    if not request.scopes:
        raise TokenRequestError("choose at least one scope", field="scopes")
    if request.course_slug and PRACTICE in request.scopes:
        raise TokenRequestError(
            "a service token acts within one course: `practice` is for personal tokens",
            field="scopes",
        )
    return sorted(set(request.scopes))


def _service_course(db: Session, user: User, slug: str | None) -> Course | None:
    if not slug:
        return None
    try:
        course = find_course(db, slug)
    except NotFoundError as exc:
        raise TokenRequestError(exc.message, field="course") from None
    roles = roles_in(db, course.id, user.id, admin=user.site_role == "admin")
    if not allows(roles, _account(user), "course:manage"):
        raise ForbiddenError(
            "a service token is made by an owner of its course (course:manage)", field="course"
        )
    return course


def checked_origins(origins: list[str]) -> list[str]:
    """Each origin parsed (lower case, no path), duplicates dropped; 422 naming the bad one."""
    if len(origins) > MOST_ORIGINS:
        raise TokenRequestError(f"at most {MOST_ORIGINS} origins", field="allowed_origins")
    parsed: list[str] = []
    for value in origins:
        try:
            origin = parse_origin(value)
        except ValueError as exc:
            raise TokenRequestError(str(exc), field="allowed_origins") from None
        if origin not in parsed:
            parsed.append(origin)
    return parsed


def _account(user: User, token: ApiToken | None = None) -> Account:
    if token is None:
        return Account(user.id, user.email, user.display_name, user.site_role)
    return Account(
        user.id,
        user.email,
        user.display_name,
        user.site_role,
        scopes=frozenset(token.scopes),
        token_id=token.id,
        token_course_id=token.course_id,
    )


def tokens_of(db: Session, user_id: int) -> list[tuple[ApiToken, str | None]]:
    """The user's tokens, newest first, with a service token's course slug."""
    rows = db.execute(
        select(ApiToken, Course.slug)
        .outerjoin(Course, Course.id == ApiToken.course_id)
        .where(ApiToken.user_id == user_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ).all()
    return [(token, slug) for token, slug in rows]


def owner_of(db: Session, public_id: str) -> int | None:
    """The user id of the token with this id (for the command line, which acts for anyone)."""
    return db.scalar(select(ApiToken.user_id).where(ApiToken.public_id == public_id))


def revoke(db: Session, user_id: int, public_id: str) -> ApiToken:
    """Revoke one of the user's tokens (again: harmless); 404 for another's or none."""
    token = db.scalar(
        select(ApiToken).where(ApiToken.public_id == public_id, ApiToken.user_id == user_id)
    )
    if token is None:
        raise NotFoundError("you have no API token with this id", field="public_id")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.flush()
    return token


def authenticate(db: Session, secret: str) -> Resolved:
    """The live token's account (with its scopes) and its user's learner, in one query; 401
    saying why for an unknown, revoked or expired token."""
    if not well_formed(secret):
        raise UnauthorizedError("the bearer token is not a valid token")
    found = db.execute(
        select(ApiToken, User, Learner.public_id)
        .join(User, User.id == ApiToken.user_id)
        .outerjoin(Learner, Learner.user_id == User.id)
        .where(ApiToken.token_hash == token_hash(secret))
    ).first()
    if found is None:
        raise UnauthorizedError("the bearer token is not a valid token")
    token, user, learner_id = found
    refuse_if_ended(token.revoked_at, token.expires_at)
    now = utcnow()
    if token.last_used_at is None or now - as_utc(token.last_used_at) >= LAST_USED_EVERY:
        db.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
    if learner_id is None:  # an account made on the command line: its learner made now
        learner_id = account_learner(db, user).public_id
    expires = as_utc(token.expires_at) if token.expires_at else None
    return Resolved(
        _account(user, token), learner_id, token.public_id, token.rate_per_minute, expires
    )


def refuse_if_ended(revoked_at: datetime | None, expires_at: datetime | None) -> None:
    if revoked_at is not None:
        raise UnauthorizedError("this API token was revoked: make a new one")
    if expires_at is not None and as_utc(expires_at) <= utcnow():
        when = as_utc(expires_at).strftime("%Y-%m-%d %H:%M UTC")
        raise UnauthorizedError(f"this API token expired on {when}: make a new one")
