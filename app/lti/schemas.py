"""What the platform registration takes and answers (the admin API and its pages alike)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.core.bounds import Name, storable_text
from app.learners.models import ISSUER_LENGTH
from app.lti.models import CLIENT_ID_LENGTH, LTI_ID_LENGTH, URL_LENGTH, LtiPlatform


def _web_url(value: str) -> str:
    if not value.startswith(("https://", "http://")) or len(value) < len("http://x"):
        raise ValueError("must be an http(s) URL")
    return value


def _no_duplicates(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _text(max_length: int) -> object:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


Url = Annotated[str, _text(URL_LENGTH), AfterValidator(_web_url)]
Issuer = Annotated[str, _text(ISSUER_LENGTH), AfterValidator(storable_text)]
ClientId = Annotated[str, _text(CLIENT_ID_LENGTH), AfterValidator(storable_text)]
DeploymentId = Annotated[str, _text(LTI_ID_LENGTH), AfterValidator(storable_text)]


class PlatformIn(BaseModel):
    """An LMS as its administrator describes it to us."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    issuer: Issuer = Field(description="The platform's `iss`, e.g. https://canvas.instructure.com")
    client_id: ClientId = Field(description="Our client id at the platform.")
    deployment_ids: Annotated[list[DeploymentId], AfterValidator(_no_duplicates)] = Field(
        default=[], max_length=100, description="The deployments launches may come from."
    )
    auth_login_url: Url = Field(description="The platform's OIDC authorisation endpoint.")
    token_url: Url = Field(description="The platform's OAuth 2 token endpoint (services).")
    jwks_url: Url = Field(description="The platform's public keys (JWK Set).")
    token_audience: Url | None = Field(
        default=None, description="The client assertion's `aud`, when not the token URL."
    )


class PlatformPatch(BaseModel):
    """Change some fields; `active: false` deactivates (launches refused)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    issuer: Issuer | None = None
    client_id: ClientId | None = None
    deployment_ids: Annotated[list[DeploymentId], AfterValidator(_no_duplicates)] | None = Field(
        default=None, max_length=100
    )
    auth_login_url: Url | None = None
    token_url: Url | None = None
    jwks_url: Url | None = None
    token_audience: Url | None = None
    active: bool | None = None


class PlatformOut(BaseModel):
    id: str = Field(description="The platform's public id.")
    name: str
    issuer: str
    client_id: str
    deployment_ids: list[str]
    auth_login_url: str
    token_url: str
    jwks_url: str
    token_audience: str | None
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, row: LtiPlatform) -> PlatformOut:
        return cls(
            id=row.public_id,
            name=row.name,
            issuer=row.issuer,
            client_id=row.client_id,
            deployment_ids=list(row.deployment_ids),
            auth_login_url=row.auth_login_url,
            token_url=row.token_url,
            jwks_url=row.jwks_url,
            token_audience=row.token_audience,
            active=row.active,
            created_at=row.created_at,
        )


class ToolUrls(BaseModel):
    """Our URLs, to paste into the LMS's tool registration."""

    login: str = Field(description="OIDC login initiation (GET or POST).")
    launch: str = Field(description="The launch / redirect URL (target link URI).")
    jwks: str = Field(description="Our public keys.")
    deep_linking: str = Field(description="Deep linking: the same launch URL.")
    registration: str = Field(description="Dynamic registration (LTI DR 1.0).")
