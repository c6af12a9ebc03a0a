"""A roster member as NRPS lists it, and the account it is: matched by (issuer, user id), or
made. The LMS's email is kept on a new account only when no account has it: an LMS saying an
address is not proof that its user owns our account of that address, so it never merges."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.core.bounds import EMAIL_LENGTH, NAME_LENGTH
from app.core.db import add_once
from app.learners.models import SUBJECT_LENGTH, ExternalIdentity, User


@dataclass(frozen=True)
class Member:
    user_id: str
    name: str | None
    email: str | None
    roles: tuple[str, ...]
    status: str

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Member:
        name = raw.get("name") or " ".join(
            p for p in (raw.get("given_name"), raw.get("family_name")) if isinstance(p, str)
        )
        roles = raw.get("roles")
        return cls(
            user_id=str(raw["user_id"])[:SUBJECT_LENGTH],
            name=str(name)[:NAME_LENGTH] if name else None,
            email=_email(raw.get("email")),
            roles=tuple(str(r) for r in roles) if isinstance(roles, list) else (),
            status=str(raw.get("status") or "Active"),
        )


def _email(value: Any) -> str | None:
    if not isinstance(value, str) or "@" not in value or len(value) > EMAIL_LENGTH:
        return None
    return value.strip()


def _known(issuer: str, subject: str) -> Select[User]:
    return (
        select(User)
        .join(ExternalIdentity, ExternalIdentity.user_id == User.id)
        .where(ExternalIdentity.issuer == issuer, ExternalIdentity.subject == subject)
    )


def find_account(db: Session, issuer: str, subject: str) -> User | None:
    return db.scalar(_known(issuer, subject))


def account_for(db: Session, issuer: str, member: Member) -> tuple[User, bool]:
    """The member's account, and whether it was made now."""
    known = _known(issuer, member.user_id)
    if (user := db.scalar(known)) is not None:
        return user, False
    # No email, as at a launch (app.lti.provision): an LMS's address is not one we checked,
    # and stored here it would let a password reset to it take the account over.
    user = User(email=None, display_name=member.name, password_hash=None)
    db.add(user)
    db.flush()
    if not add_once(db, ExternalIdentity(issuer=issuer, subject=member.user_id, user_id=user.id)):
        db.delete(user)  # made at once by a launch: use that account
        db.flush()
        found = db.scalar(known)
        assert found is not None
        return found, False
    return user, True
