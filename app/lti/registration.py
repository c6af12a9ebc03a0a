"""LTI Dynamic Registration 1.0 (Moodle 3.10+, Canvas, D2L): the LMS opens our registration
URL with its OpenID configuration's URL and a one-time token; we read the configuration,
send it our tool configuration, and keep the platform it answers with (our client id there,
and the deployment it made).

The configuration's issuer must be of the same host as the URL it came from (DR 1.0, 3.5.1):
a configuration served from one host cannot speak for another's launches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.errors import AppError
from app.lti.models import LtiPlatform
from app.lti.platforms import create_platform, update_platform
from app.lti.schemas import PlatformIn, PlatformPatch, ToolUrls

log = logging.getLogger("torchquiz.lti")
TIMEOUT_SECONDS = 10.0
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)
TOOL_NAME = "torchquiz"


class RegistrationError(AppError):
    """Dynamic registration failed: the message says at which step and why."""

    code = "lti_registration_failed"


@dataclass(frozen=True)
class PlatformConfiguration:
    """What we need of the platform's OpenID configuration."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    authorization_server: str | None
    product: str | None


@dataclass(frozen=True)
class Registered:
    platform_id: str
    name: str
    client_id: str
    deployment_id: str | None
    updated: bool  # the platform was registered already: its fields were brought up to date


def tool_configuration(urls: ToolUrls) -> dict[str, Any]:
    """Our registration request (DR 1.0, 3.6): an OpenID client with the LTI tool extension."""
    host = urlsplit(urls.launch).netloc
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls.login,
        "redirect_uris": [urls.launch],
        "client_name": TOOL_NAME,
        "jwks_uri": urls.jwks,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(SCOPES),
        TOOL_CONFIGURATION: {
            "domain": host,
            "target_link_uri": urls.launch,
            "claims": ["iss", "sub", "name", "given_name", "family_name"],
            "messages": [
                {"type": "LtiResourceLinkRequest", "target_link_uri": urls.launch},
                {
                    "type": "LtiDeepLinkingRequest",
                    "target_link_uri": urls.launch,
                    "label": TOOL_NAME,
                },
            ],
        },
    }


async def fetch_configuration(url: str, token: str | None) -> PlatformConfiguration:
    """The platform's OpenID configuration, checked; RegistrationError naming what is wrong."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise RegistrationError("openid_configuration must be an http(s) URL")
    body = await _request("GET", url, token, None, "fetching the platform's configuration")
    if not isinstance(body, dict):
        raise RegistrationError("the platform's configuration is not a JSON object")
    fields = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
    missing = [f for f in (*fields, "registration_endpoint") if not isinstance(body.get(f), str)]
    if missing:
        raise RegistrationError(f"the platform's configuration lacks {', '.join(missing)}")
    issuer = body["issuer"]
    if urlsplit(issuer).hostname != urlsplit(url).hostname or not urlsplit(issuer).hostname:
        raise RegistrationError(
            f"the configuration's issuer {issuer!r} is not of the host it was fetched from "
            f"({urlsplit(url).hostname}): refused (LTI Dynamic Registration 3.5.1)"
        )
    lti = body.get(PLATFORM_CONFIGURATION)
    product = lti.get("product_family_code") if isinstance(lti, dict) else None
    server = body.get("authorization_server")
    return PlatformConfiguration(
        issuer=issuer,
        authorization_endpoint=body["authorization_endpoint"],
        token_endpoint=body["token_endpoint"],
        jwks_uri=body["jwks_uri"],
        registration_endpoint=body["registration_endpoint"],
        authorization_server=server if isinstance(server, str) and server else None,
        product=product if isinstance(product, str) and product else None,
    )


async def register_tool(
    configuration: PlatformConfiguration, token: str | None, urls: ToolUrls
) -> tuple[str, str | None]:
    """POST our configuration to the platform; (our client id, the deployment id if given)."""
    body = await _request(
        "POST",
        configuration.registration_endpoint,
        token,
        tool_configuration(urls),
        "registering with the platform",
    )
    client_id = body.get("client_id") if isinstance(body, dict) else None
    if not isinstance(client_id, str) or not client_id:
        raise RegistrationError("the platform's registration answer has no client_id")
    tool = body.get(TOOL_CONFIGURATION)
    deployment = tool.get("deployment_id") if isinstance(tool, dict) else None
    return client_id, str(deployment) if isinstance(deployment, str | int) else None


def store(
    db: Session, configuration: PlatformConfiguration, client_id: str, deployment: str | None
) -> Registered:
    """The platform registered (or brought up to date, its deployment added)."""
    fields = {
        "issuer": configuration.issuer,
        "client_id": client_id,
        "auth_login_url": configuration.authorization_endpoint,
        "token_url": configuration.token_endpoint,
        "jwks_url": configuration.jwks_uri,
        "token_audience": configuration.authorization_server,
    }
    try:
        return _store(db, configuration, client_id, deployment, fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise RegistrationError(f"the platform's registration cannot be kept: {problems}") from exc


def _store(
    db: Session,
    configuration: PlatformConfiguration,
    client_id: str,
    deployment: str | None,
    fields: dict[str, Any],
) -> Registered:
    name = (configuration.product or urlsplit(configuration.issuer).hostname or "LMS")[:120]
    row = db.scalar(
        select(LtiPlatform).where(
            LtiPlatform.issuer == configuration.issuer, LtiPlatform.client_id == client_id
        )
    )
    if row is None:
        data = PlatformIn(name=name, deployment_ids=[deployment] if deployment else [], **fields)
        row = create_platform(db, data)
        updated = False
    else:
        deployments = [d for d in dict.fromkeys([*row.deployment_ids, deployment]) if d]
        patch = PlatformPatch(deployment_ids=deployments, active=True, **fields)
        update_platform(db, row, patch)
        updated = True
    log.info("LTI platform %s registered (client id %s)", configuration.issuer, client_id)
    return Registered(row.public_id, row.name, client_id, deployment, updated)


async def _request(
    method: str, url: str, token: str | None, payload: dict[str, Any] | None, doing: str
) -> Any:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
            answer = await client.request(method, url, headers=headers, json=payload)
    except httpx.HTTPError as exc:
        raise RegistrationError(f"{doing} failed: {url} did not answer ({exc!r})") from exc
    if not answer.is_success:
        raise RegistrationError(
            f"{doing} failed: {url} answered HTTP {answer.status_code}: {answer.text[:300]}"
        )
    try:
        return answer.json()
    except ValueError as exc:
        raise RegistrationError(f"{doing} failed: {url} did not answer JSON") from exc
