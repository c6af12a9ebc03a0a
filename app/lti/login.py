"""OIDC login initiation (LTI 1.3 core, 5.1.1): the platform sends the browser here first; we
remember a state and a nonce, bind the state to the browser (a cookie, and the platform's
client-side storage when it offers one) and send the browser to the platform's authorisation
endpoint, which posts the id_token to our launch URL."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.learners.identity import partitioned_cookie_header
from app.lti.models import STORAGE_TARGET_LENGTH, URL_LENGTH, LtiLogin, LtiPlatform
from app.lti.platforms import platform_for_login, url_origin

LOGIN_LIFETIME = timedelta(minutes=10)
STATE_COOKIE_PREFIX = "lti_state_"
COOKIE_PATH = "/lti"
HINT_LENGTH = 4000  # Canvas's lti_message_hint is a JWT of a kilobyte or so


class LoginParams(BaseModel):
    """The login initiation request's parameters (query string or form), LTI 1.3 core 5.1.1."""

    model_config = ConfigDict(extra="ignore")

    iss: str = Field(min_length=1, max_length=255)
    login_hint: str = Field(min_length=1, max_length=HINT_LENGTH)
    target_link_uri: str = Field(min_length=1, max_length=URL_LENGTH)
    lti_message_hint: str | None = Field(default=None, max_length=HINT_LENGTH)
    client_id: str | None = Field(default=None, max_length=255)
    lti_deployment_id: str | None = Field(default=None, max_length=255)
    lti_storage_target: str | None = Field(default=None, max_length=STORAGE_TARGET_LENGTH)

    def again(self) -> dict[str, str]:
        """The parameters to start this login again in a new window (no storage there)."""
        given = self.model_dump(exclude_none=True, exclude={"lti_storage_target"})
        return {k: str(v) for k, v in given.items()}


@dataclass(frozen=True)
class LoginStart:
    redirect_url: str  # the platform's authorisation endpoint, with our request
    state: str
    nonce: str
    cookie: str  # the Set-Cookie value binding the state to this browser
    storage_target: str | None  # the platform's storage frame, when it offered one
    platform_origin: str  # where postMessage goes (the authorisation endpoint's origin)


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def state_cookie_name(state: str) -> str:
    """One cookie per login (two launches in two frames must not overwrite each other's), named
    from the state's hash so the launch finds it."""
    return STATE_COOKIE_PREFIX + state_hash(state)[:16]


def start_login(db: Session, params: LoginParams, launch_url: str) -> LoginStart:
    """Remember a new login of the platform the parameters name; where to send the browser."""
    platform = platform_for_login(db, params.iss, params.client_id)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    db.add(
        LtiLogin(
            state_hash=state_hash(state),
            nonce=nonce,
            platform_id=platform.id,
            target_link_uri=params.target_link_uri,
            storage_target=params.lti_storage_target,
            login_params=params.again(),
            created_at=now,
            expires_at=now + LOGIN_LIFETIME,
        )
    )
    db.flush()
    seconds = int(LOGIN_LIFETIME.total_seconds())
    return LoginStart(
        redirect_url=_authorisation_url(platform, params, launch_url, state, nonce),
        state=state,
        nonce=nonce,
        cookie=partitioned_cookie_header(
            state_cookie_name(state), state, seconds, path=COOKIE_PATH
        ),
        storage_target=params.lti_storage_target,
        platform_origin=url_origin(platform.auth_login_url) or "",
    )


def _authorisation_url(
    platform: LtiPlatform, params: LoginParams, launch_url: str, state: str, nonce: str
) -> str:
    request = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": launch_url,
        "login_hint": params.login_hint,
        "state": state,
        "nonce": nonce,
    }
    if params.lti_message_hint is not None:
        request["lti_message_hint"] = params.lti_message_hint
    parts = urlsplit(platform.auth_login_url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *request.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))
