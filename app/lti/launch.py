"""Launch validation (LTI 1.3 core 5.1.2, 5.1.3; IMS Security Framework 5.1.3): the id_token a
platform posts to /lti/launch, checked in full before anything is written.

Every refusal is a `LaunchError` naming what was wrong (the route logs it and answers a 4xx
page); none creates a session. In order: RS256 only (checked before any key is looked at, so
`none` and HS256 signed with our public key never reach a verifier); the platform by `iss` and
our client id in `aud`; its key by `kid` (the set fetched again once when the kid is new);
the signature; `aud`/`azp`; `exp`/`iat` with a minute's leeway; the LTI claims (version,
message type, deployment, roles for deep linking); then the login: the state known, unused,
unexpired, of the same platform and bound to this browser (its cookie, or the platform's
client-side storage), and the nonce the one issued with it. The login is then spent: neither
the state nor the id_token's nonce works twice.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.core.db import Database, as_utc, utcnow
from app.core.errors import AppError, NotFoundError
from app.lti.jwks import KeyFetchError, PlatformKeys
from app.lti.login import state_cookie_name, state_hash
from app.lti.models import LtiDeepLink, LtiLogin, LtiPlatform
from app.lti.platforms import url_origin
from app.lti.roles import may_deep_link

log = logging.getLogger("torchquiz.lti")

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = LTI + "message_type"
VERSION = LTI + "version"
DEPLOYMENT_ID = LTI + "deployment_id"
ROLES = LTI + "roles"
CONTEXT = LTI + "context"
RESOURCE_LINK = LTI + "resource_link"
CUSTOM = LTI + "custom"
TARGET_LINK_URI = LTI + "target_link_uri"
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
MESSAGE_TYPES = (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST)
LEEWAY_SECONDS = 60
MAX_TOKEN_LENGTH = 64 * 1024


class LaunchError(AppError):
    """A launch refused: the message says exactly why (shown, and logged)."""

    code = "lti_launch_refused"

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class BrowserCheck(Exception):  # noqa: N818 - not an error: the browser has a step to take
    """The state cookie did not come back (a browser that keeps no third-party cookies). With
    the platform's client-side storage, the launch page asks it for the state (`storage`);
    else it offers to start the login again in a new window (`login_params`)."""

    def __init__(
        self,
        *,
        storage_target: str | None,
        login_params: dict[str, str] | None,
        platform_origin: str,
    ) -> None:
        super().__init__("the state cookie did not come back")
        self.storage_target = storage_target
        self.login_params = login_params or {}
        self.platform_origin = platform_origin  # where the storage frame's messages go


@dataclass(frozen=True)
class PlatformRef:
    """The platform of a launch, as read in its transaction."""

    id: int
    name: str
    issuer: str
    client_id: str
    deployment_ids: tuple[str, ...]
    jwks_url: str
    auth_login_url: str

    @classmethod
    def of(cls, row: LtiPlatform) -> PlatformRef:
        return cls(
            row.id,
            row.name,
            row.issuer,
            row.client_id,
            tuple(row.deployment_ids),
            row.jwks_url,
            row.auth_login_url,
        )


@dataclass(frozen=True)
class Launch:
    """A validated launch: its platform and the id_token's claims."""

    platform: PlatformRef
    claims: dict[str, Any]

    @property
    def message_type(self) -> str:
        return str(self.claims[MESSAGE_TYPE])

    @property
    def deployment_id(self) -> str:
        return str(self.claims[DEPLOYMENT_ID])

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])

    @property
    def roles(self) -> list[str]:
        roles = self.claims.get(ROLES)
        return [r for r in roles if isinstance(r, str)] if isinstance(roles, list) else []

    def claim(self, name: str) -> dict[str, Any]:
        """A claim that is an object ({} when absent or not one)."""
        value = self.claims.get(name)
        return value if isinstance(value, dict) else {}


async def validated_launch(
    database: Database,
    keys: PlatformKeys,
    *,
    id_token: str,
    state: str,
    cookies: Mapping[str, str],
    storage_state: str | None = None,
) -> Launch:
    """The launch, checked in full and its login spent; LaunchError (or BrowserCheck) if not.
    `storage_state`: the state as the platform's client-side storage gave it back."""
    if not id_token:
        raise LaunchError("the launch carries no id_token: start it from the LMS")
    if not state:
        raise LaunchError("the launch carries no state: start it from the LMS")
    if len(id_token) > MAX_TOKEN_LENGTH:
        raise LaunchError("the id_token is longer than any platform sends")
    kid = _checked_header(id_token)
    unverified = _unverified_claims(id_token)
    platform = await database.run(_platform_of, unverified.get("iss"), unverified.get("aud"))
    try:
        key = await keys.key(platform.jwks_url, kid)
    except KeyFetchError as exc:
        raise LaunchError(str(exc), status=400) from exc
    if key is None:
        raise LaunchError(
            f"the id_token's key (kid {kid!r}) is not among the platform's keys at "
            f"{platform.jwks_url}"
        )
    claims = _verified_claims(id_token, key, platform)
    _check_lti_claims(claims, platform)
    await database.run(_spend_login, platform, claims, state, cookies, storage_state)
    return Launch(platform, claims)


def _checked_header(id_token: str) -> str:
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.InvalidTokenError as exc:
        raise LaunchError(f"the id_token is not a signed JWT: {exc}") from exc
    alg = header.get("alg")
    if alg != "RS256":
        raise LaunchError(f"the id_token is signed with {alg!r}: only RS256 is accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise LaunchError("the id_token's header names no key (kid)")
    return kid


def _unverified_claims(id_token: str) -> dict[str, Any]:
    """Only to find the platform whose key verifies the token; nothing else is read."""
    try:
        claims = jwt.decode(id_token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise LaunchError(f"the id_token cannot be read: {exc}") from exc
    return claims if isinstance(claims, dict) else {}


def _platform_of(db: Session, issuer: object, audience: object) -> PlatformRef:
    if not isinstance(issuer, str) or not issuer:
        raise LaunchError("the id_token has no issuer (iss)")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or not audiences:
        raise LaunchError("the id_token has no audience (aud)")
    rows = db.scalars(
        select(LtiPlatform).where(LtiPlatform.issuer == issuer, LtiPlatform.active)
    ).all()
    if not rows:
        raise LaunchError(f"the issuer {issuer!r} is not a registered, active LTI platform")
    ours = [row for row in rows if row.client_id in audiences]
    if not ours:
        raise LaunchError(
            f"the id_token's audience {audience!r} does not hold our client id at {issuer!r}"
        )
    return PlatformRef.of(ours[0])


_CLAIM_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "the id_token has expired (exp)"),
    (jwt.ImmatureSignatureError, "the id_token was issued in the future (iat or nbf)"),
    (jwt.InvalidAudienceError, "the id_token's audience (aud) does not hold our client id"),
    (jwt.InvalidIssuerError, "the id_token's issuer (iss) is not the platform's"),
    (jwt.InvalidSignatureError, "the id_token's signature does not verify with the key it names"),
    (jwt.InvalidAlgorithmError, "the id_token's algorithm is not RS256"),
)


def _verified_claims(id_token: str, key: jwt.PyJWK, platform: PlatformRef) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key,
            algorithms=["RS256"],
            audience=platform.client_id,
            issuer=platform.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]},
        )
    except jwt.MissingRequiredClaimError as exc:
        raise LaunchError(f"the id_token has no {exc.claim!r} claim") from exc
    except jwt.InvalidTokenError as exc:
        message = next((m for kind, m in _CLAIM_ERRORS if isinstance(exc, kind)), None)
        raise LaunchError(message or f"the id_token is not valid: {exc}") from exc
    audience = claims["aud"]
    several = isinstance(audience, list) and len(audience) > 1
    azp = claims.get("azp")
    if several and azp is None:
        raise LaunchError("the id_token has several audiences but no authorised party (azp)")
    if azp is not None and azp != platform.client_id:
        raise LaunchError(f"the id_token's authorised party (azp) {azp!r} is not our client id")
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise LaunchError("the id_token names no user (sub): anonymous launches are not taken")
    return claims


def _check_lti_claims(claims: dict[str, Any], platform: PlatformRef) -> None:
    version = claims.get(VERSION)
    if version != "1.3.0":
        raise LaunchError(f"the LTI version is {version!r}: only 1.3.0 is supported")
    message_type = claims.get(MESSAGE_TYPE)
    if message_type not in MESSAGE_TYPES:
        raise LaunchError(
            f"the message type {message_type!r} is not one we take ({', '.join(MESSAGE_TYPES)})"
        )
    deployment = claims.get(DEPLOYMENT_ID)
    if not isinstance(deployment, str) or deployment not in platform.deployment_ids:
        raise LaunchError(
            f"the deployment {deployment!r} is not registered for the platform {platform.name!r}"
        )
    roles = claims.get(ROLES)
    if not isinstance(roles, list):
        raise LaunchError("the id_token has no roles claim (a list, empty if need be)")
    if message_type == RESOURCE_LINK_REQUEST:
        link = claims.get(RESOURCE_LINK)
        if not isinstance(link, dict) or not isinstance(link.get("id"), str) or not link["id"]:
            raise LaunchError("the resource link launch has no resource_link id")
    else:
        if not may_deep_link(roles):
            raise LaunchError(
                "only an instructor or administrator may add content from the LMS "
                "(deep linking); this launch's roles do not include one",
                status=403,
            )
        settings = claims.get(DEEP_LINKING_SETTINGS)
        return_url = settings.get("deep_link_return_url") if isinstance(settings, dict) else None
        if not isinstance(return_url, str) or not return_url.startswith(("https://", "http://")):
            raise LaunchError("the deep linking request has no deep_link_return_url")


def _spend_login(
    db: Session,
    platform: PlatformRef,
    claims: dict[str, Any],
    state: str,
    cookies: Mapping[str, str],
    storage_state: str | None,
) -> None:
    login = db.scalar(select(LtiLogin).where(LtiLogin.state_hash == state_hash(state)))
    if login is None:
        raise LaunchError(
            "the state is not one we issued: the launch did not start at our login page"
        )
    if login.platform_id != platform.id:
        raise LaunchError("the state belongs to a login of another platform")
    if login.used_at is not None:
        raise LaunchError("this login has been used already: a launch is taken once")
    if as_utc(login.expires_at) <= utcnow():
        raise LaunchError("the login has expired (after 10 minutes): launch again from the LMS")
    _check_browser(login, platform, state, cookies, storage_state)
    if not hmac.compare_digest(str(claims["nonce"]), login.nonce):
        raise LaunchError(
            "the id_token's nonce is not the one issued for this login (a replayed id_token?)"
        )
    spent = db.execute(
        update(LtiLogin)
        .where(LtiLogin.id == login.id, LtiLogin.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise LaunchError("this login has been used already: a launch is taken once")


def _check_browser(
    login: LtiLogin,
    platform: PlatformRef,
    state: str,
    cookies: Mapping[str, str],
    storage_state: str | None,
) -> None:
    """The state came back from the browser that started the login."""
    cookie = cookies.get(state_cookie_name(state))
    if cookie is not None:
        if not hmac.compare_digest(cookie.encode(), state.encode()):
            raise LaunchError("the state does not match this browser's state cookie")
        return
    if storage_state is not None and login.storage_target:
        if not hmac.compare_digest(storage_state.encode(), state.encode()):
            raise LaunchError("the state does not match the one kept in the platform's storage")
        return
    raise BrowserCheck(
        storage_target=login.storage_target,
        login_params=login.login_params,
        platform_origin=url_origin(platform.auth_login_url) or "",
    )


# --- the deep-linking request, for the picker (app.lti.deep_linking) ---


@dataclass(frozen=True)
class DeepLinkRequest:
    """A validated deep-linking request waiting for its instructor's choice."""

    id: str  # its public id: /lti/deep-link/{id}
    platform_id: int
    user_id: int
    course_id: int | None
    deployment_id: str
    return_url: str
    data: str | None
    accept_types: tuple[str, ...]
    accept_multiple: bool
    accept_lineitem: bool
    settings: dict[str, Any]
    expires_at: datetime


def load_deep_link(db: Session, launch_id: str) -> DeepLinkRequest:
    """The waiting request `launch_id`; NotFoundError when unknown or expired."""
    row = db.scalar(select(LtiDeepLink).where(LtiDeepLink.public_id == launch_id))
    if row is None or as_utc(row.expires_at) <= utcnow():
        raise NotFoundError("no deep-linking request here (it expired): start again from the LMS")
    settings = dict(row.settings)
    data = settings.get("data")
    types = settings.get("accept_types")
    return DeepLinkRequest(
        id=row.public_id,
        platform_id=row.platform_id,
        user_id=row.user_id,
        course_id=row.course_id,
        deployment_id=row.deployment_id,
        return_url=str(settings.get("deep_link_return_url") or ""),
        data=data if isinstance(data, str) else None,
        accept_types=tuple(t for t in types if isinstance(t, str))
        if isinstance(types, list)
        else (),
        accept_multiple=bool(settings.get("accept_multiple", True)),
        accept_lineitem=bool(settings.get("accept_lineitem", True)),
        settings=settings,
        expires_at=as_utc(row.expires_at),
    )
