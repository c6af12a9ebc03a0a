"""The tool's RSA signing keys (lti_tool_keys). The newest unretired key signs our JWTs (AGS
client assertions, deep-linking responses); every unretired key is published at
/lti/jwks.json, so a rotation keeps two live: platforms that cached the old key still verify
what it signed until an operator retires it (`torchquiz lti keys retire KID`)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.errors import ConflictError, NotFoundError
from app.lti.models import LtiToolKey

KEY_BITS = 2048
ALGORITHM = "RS256"


@dataclass(frozen=True)
class ToolKey:
    """A signing key: put `kid` in the JWT header and sign with `private_key`."""

    kid: str
    private_key: rsa.RSAPrivateKey
    public_jwk: dict[str, Any]

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact RS256 JWT of `claims`, its header naming this key."""
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid})


def current_key(db: Session) -> ToolKey:
    """The key that signs: the newest unretired one, made on first need."""
    row = db.scalars(
        select(LtiToolKey)
        .where(LtiToolKey.retired_at.is_(None))
        .order_by(LtiToolKey.id.desc())
        .limit(1)
    ).first()
    return _tool_key(row if row is not None else _new_key(db))


def jwks(db: Session) -> dict[str, Any]:
    """The JWK Set we publish: every unretired key (two during a rotation)."""
    current_key(db)  # a first visitor gets a key to see, not an empty set
    rows = db.scalars(
        select(LtiToolKey).where(LtiToolKey.retired_at.is_(None)).order_by(LtiToolKey.id)
    )
    return {"keys": [dict(row.public_jwk) for row in rows]}


def rotate(db: Session) -> str:
    """Add a new signing key; the old ones stay published until retired. Returns the new kid."""
    return _new_key(db).kid


def retire(db: Session, kid: str) -> None:
    """Stop publishing (and signing with) a key. The last live key cannot go: platforms would
    get a set with nothing in it until the next signature made a new one."""
    row = db.scalar(select(LtiToolKey).where(LtiToolKey.kid == kid))
    if row is None or row.retired_at is not None:
        raise NotFoundError(f"no live tool key with kid {kid!r}")
    live = db.scalars(select(LtiToolKey.kid).where(LtiToolKey.retired_at.is_(None))).all()
    if len(live) == 1:
        raise ConflictError("this is the only live key: rotate first, then retire the old one")
    row.retired_at = utcnow()
    db.flush()


def list_keys(db: Session) -> list[LtiToolKey]:
    """Every key, newest first, retired ones included (for the command line)."""
    return list(db.scalars(select(LtiToolKey).order_by(LtiToolKey.id.desc())))


def _new_key(db: Session) -> LtiToolKey:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    kid = secrets.token_urlsafe(16)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    jwk = json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))
    jwk.update(kid=kid, alg=ALGORITHM, use="sig")
    row = LtiToolKey(kid=kid, private_pem=pem, public_jwk=jwk, created_at=utcnow())
    db.add(row)
    db.flush()
    return row


# Parsing a PEM costs a millisecond or so; keys never change once written.
_parsed: dict[str, ToolKey] = {}


def _tool_key(row: LtiToolKey) -> ToolKey:
    if (known := _parsed.get(row.kid)) is not None:
        return known
    private_key = serialization.load_pem_private_key(row.private_pem.encode(), password=None)
    assert isinstance(private_key, rsa.RSAPrivateKey)  # we only ever store RSA keys
    key = ToolKey(kid=row.kid, private_key=private_key, public_jwk=dict(row.public_jwk))
    _parsed[row.kid] = key
    return key
