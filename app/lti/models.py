"""LTI 1.3 (the tool side): the platforms (LMSs) we trust, our own signing keys, the logins in
flight, and what a launch tells us about courses (contexts) and links to our content."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.bounds import NAME_LENGTH, PUBLIC_ID_LENGTH
from app.core.db import Base, utcnow
from app.learners.models import ISSUER_LENGTH, TOKEN_HASH_LENGTH

URL_LENGTH = 2000
CLIENT_ID_LENGTH = 255
KID_LENGTH = 64
NONCE_LENGTH = 64
LTI_ID_LENGTH = 255  # a context's or resource link's id (LTI 1.3 core: at most 255 characters)
STORAGE_TARGET_LENGTH = 100  # a frame name, "_parent" for the parent itself
TARGET_LENGTH = 200  # "assignment:<public id>" or "practice:<slug>"


class LtiPlatform(Base):
    """An LMS registered with us. Keyed by (issuer, client_id): Canvas cloud uses one issuer
    for every customer, each with a client id of its own."""

    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(PUBLIC_ID_LENGTH), unique=True, default=lambda: str(uuid.uuid4())
    )
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    issuer: Mapped[str] = mapped_column(String(ISSUER_LENGTH))
    client_id: Mapped[str] = mapped_column(String(CLIENT_ID_LENGTH))
    deployment_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_login_url: Mapped[str] = mapped_column(String(URL_LENGTH))
    token_url: Mapped[str] = mapped_column(String(URL_LENGTH))
    jwks_url: Mapped[str] = mapped_column(String(URL_LENGTH))
    # The `aud` of our client assertion when the platform wants other than its token URL.
    token_audience: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LtiToolKey(Base):
    """One of our RSA signing keys. The newest unretired key signs; every unretired key is
    published at /lti/jwks.json, so during a rotation platforms still verify the old one."""

    __tablename__ = "lti_tool_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(KID_LENGTH), unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]


class LtiLogin(Base):
    """An OIDC login in flight: its state (stored hashed; the browser holds it in a cookie)
    and nonce, each usable once, for ten minutes."""

    __tablename__ = "lti_logins"

    id: Mapped[int] = mapped_column(primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH), unique=True)
    nonce: Mapped[str] = mapped_column(String(NONCE_LENGTH), unique=True)
    platform_id: Mapped[int] = mapped_column(
        ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True
    )
    target_link_uri: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    # The platform's frame for client-side storage (lti_storage_target), when it offered one:
    # the launch may then prove the state from there instead of by a cookie.
    storage_target: Mapped[str | None] = mapped_column(String(STORAGE_TARGET_LENGTH))
    # The login's own parameters, to start it again in a new window when the browser keeps
    # no cookie for us inside the LMS's frame.
    login_params: Mapped[dict[str, str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class LtiContext(Base):
    """An LMS course (an LTI context) and the course of ours it launches into."""

    __tablename__ = "lti_contexts"
    __table_args__ = (UniqueConstraint("platform_id", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(
        ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True
    )
    context_id: Mapped[str] = mapped_column(String(LTI_ID_LENGTH))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    title: Mapped[str | None] = mapped_column(String(NAME_LENGTH))


class LtiResourceLink(Base):
    """A link placed in the LMS to our content, with the grade and roster services the
    platform offers for it (the AGS and NRPS claims of its last launch)."""

    __tablename__ = "lti_resource_links"
    __table_args__ = (UniqueConstraint("platform_id", "resource_link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(
        ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True
    )
    deployment_id: Mapped[str] = mapped_column(String(LTI_ID_LENGTH))
    resource_link_id: Mapped[str] = mapped_column(String(LTI_ID_LENGTH))
    context_id: Mapped[int | None] = mapped_column(
        ForeignKey("lti_contexts.id", ondelete="CASCADE"), index=True
    )
    target: Mapped[str | None] = mapped_column(String(TARGET_LENGTH))
    title: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    ags_lineitem: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    ags_lineitems: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    ags_scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    nrps_url: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LtiDeepLink(Base):
    """A validated deep-linking request, waiting for its instructor to pick content (the
    picker at /lti/deep-link/{public_id}); usable for an hour."""

    __tablename__ = "lti_deep_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(PUBLIC_ID_LENGTH), unique=True, default=lambda: str(uuid.uuid4())
    )
    platform_id: Mapped[int] = mapped_column(
        ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    deployment_id: Mapped[str] = mapped_column(String(LTI_ID_LENGTH))
    # The deep_linking_settings claim as sent (return URL, accept types, data, ...).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
