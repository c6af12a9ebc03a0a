"""The platforms (LMSs) we accept launches from: registered by a site administrator (or by
dynamic registration), keyed by (issuer, client id), deactivated rather than deleted (their
contexts and resource links stay, and launches are refused)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import add_once
from app.core.errors import AppError, ConflictError, NotFoundError
from app.lti.models import LtiPlatform
from app.lti.schemas import PlatformIn, PlatformPatch


class ClientIdNeededError(AppError):
    """Several platforms share the issuer (Canvas cloud): the login must name its client id."""

    status = 400
    code = "client_id_needed"


class UnknownPlatformError(AppError):
    """A login from no registered, active platform: a bad request, not a missing page."""

    status = 400
    code = "unknown_platform"


def list_platforms(db: Session) -> list[LtiPlatform]:
    return list(db.scalars(select(LtiPlatform).order_by(LtiPlatform.name, LtiPlatform.id)))


def get_platform(db: Session, public_id: str) -> LtiPlatform:
    row = db.scalar(select(LtiPlatform).where(LtiPlatform.public_id == public_id))
    if row is None:
        raise NotFoundError(f"no LTI platform with id {public_id!r}")
    return row


def create_platform(db: Session, data: PlatformIn) -> LtiPlatform:
    """Register a platform; ConflictError when (issuer, client id) is registered already."""
    row = LtiPlatform(**data.model_dump())
    if _registered(db, data.issuer, data.client_id) or not add_once(db, row):
        raise _duplicate(data.issuer, data.client_id)
    return row


def update_platform(db: Session, row: LtiPlatform, patch: PlatformPatch) -> LtiPlatform:
    changes: dict[str, Any] = patch.model_dump(exclude_unset=True)
    for field in ("name", "issuer", "client_id", "auth_login_url", "token_url", "jwks_url"):
        if field in changes and changes[field] is None:
            changes.pop(field)  # required fields: null means "leave it"
    issuer = changes.get("issuer", row.issuer)
    client_id = changes.get("client_id", row.client_id)
    other = _registered(db, issuer, client_id)
    if other is not None and other.id != row.id:
        raise _duplicate(issuer, client_id)
    for field, value in changes.items():
        setattr(row, field, value)
    db.flush()
    return row


def deactivate(db: Session, row: LtiPlatform) -> None:
    row.active = False
    db.flush()


def platform_for_login(db: Session, issuer: str, client_id: str | None) -> LtiPlatform:
    """The active platform a login names. Without a client id, the issuer must be unique."""
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer, LtiPlatform.active)
    if client_id:
        found = db.scalar(query.where(LtiPlatform.client_id == client_id))
        if found is None:
            raise UnknownPlatformError(
                f"no active LTI platform is registered for issuer {issuer!r} "
                f"with client id {client_id!r}"
            )
        return found
    candidates = list(db.scalars(query.limit(2)))
    if not candidates:
        raise UnknownPlatformError(f"no active LTI platform is registered for issuer {issuer!r}")
    if len(candidates) > 1:
        raise ClientIdNeededError(
            f"several platforms share the issuer {issuer!r}: the login must send client_id"
        )
    return candidates[0]


def active_origins(db: Session) -> tuple[str, ...]:
    """The origins (scheme://host[:port]) of every active platform's issuer and login URL,
    sorted: the CSP's frame-ancestors lets them show our pages in their frames."""
    rows = db.execute(
        select(LtiPlatform.issuer, LtiPlatform.auth_login_url).where(LtiPlatform.active)
    )
    found = {origin for row in rows for url in row for origin in [url_origin(url)] if origin}
    return tuple(sorted(found))


def url_origin(url: str) -> str | None:
    """`https://lms.example.org:8443` of a URL; None for anything not http(s)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    # No characters a CSP source list could not hold (spaces, semicolons, quotes).
    if any(c in parts.netloc for c in " ;,'\"") or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _registered(db: Session, issuer: str, client_id: str) -> LtiPlatform | None:
    return db.scalar(
        select(LtiPlatform).where(LtiPlatform.issuer == issuer, LtiPlatform.client_id == client_id)
    )


def _duplicate(issuer: str, client_id: str) -> ConflictError:
    return ConflictError(
        f"a platform with issuer {issuer!r} and client id {client_id!r} is registered already",
        field="client_id",
    )
