"""LTI Dynamic Registration against a tiny platform served in the test: the administrator
confirms, we fetch the platform's configuration and post ours to it with the registration
token, keep the platform it answers with, and the page tells the LMS to close it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.lti.models import LtiPlatform
from app.lti.registration import TOOL_CONFIGURATION
from tests.courses.support import Visitor, anonymous, make_user, signed_in
from tests.lti.emulator import served

TOKEN = "one-time-registration-token"


@dataclass
class FakeLms:
    """A platform's registration side: its OpenID configuration and registration endpoint."""

    url: str = ""
    issuer: str | None = None  # None: its own URL
    received: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)

    @property
    def configuration_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        async def configuration(request: Request) -> JSONResponse:
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return JSONResponse({"error": "token"}, status_code=401)
            return JSONResponse(
                {
                    "issuer": self.issuer or self.url,
                    "authorization_endpoint": f"{self.url}/auth",
                    "token_endpoint": f"{self.url}/token",
                    "jwks_uri": f"{self.url}/jwks",
                    "registration_endpoint": f"{self.url}/register",
                    "authorization_server": f"{self.url}/token-audience",
                    "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                        "product_family_code": "moodle",
                        "version": "4.3",
                    },
                }
            )

        @app.post("/register")
        async def register(request: Request) -> JSONResponse:
            self.authorizations.append(request.headers.get("authorization", ""))
            body = await request.json()
            self.received.append(body)
            return JSONResponse(
                {
                    "client_id": "registered-client",
                    **body,
                    TOOL_CONFIGURATION: {**body[TOOL_CONFIGURATION], "deployment_id": "dep-9"},
                }
            )

        @app.get("/ready")
        async def ready() -> dict[str, str]:
            return {"ok": "yes"}

        return app


@pytest.fixture
def lms() -> Iterator[FakeLms]:
    fake = FakeLms()
    with served(fake.app(), ready_path="/ready") as url:
        fake.url = url
        yield fake


def admin(app: FastAPI, db: Session) -> Visitor:
    visitor = signed_in(app, db, make_user(db, "root@example.org", admin=True))
    db.commit()
    return visitor


def register(visitor: Visitor, lms: FakeLms) -> Any:
    return visitor.form(
        "/lti/register",
        {"openid_configuration": lms.configuration_url, "registration_token": TOKEN},
    )


def test_an_administrator_registers_the_tool_with_the_lms_and_the_page_closes_it(
    app: FastAPI, db: Session, lms: FakeLms
) -> None:
    visitor = admin(app, db)
    params = {"openid_configuration": lms.configuration_url, "registration_token": TOKEN}
    page = visitor.client.get("/lti/register", params=params)
    assert page.status_code == 200
    assert "Register torchquiz with this LMS" in page.text and lms.configuration_url in page.text
    done = register(visitor, lms)
    assert done.status_code == 200, done.text
    assert "registered-client" in done.text and "dep-9" in done.text
    assert "/static/js/lti-register-close.js" in done.text
    (sent,) = lms.received
    assert lms.authorizations == [f"Bearer {TOKEN}"]
    assert sent["initiate_login_uri"] == "http://testserver/lti/login"
    assert sent["redirect_uris"] == ["http://testserver/lti/launch"]
    assert sent["jwks_uri"] == "http://testserver/lti/jwks.json"
    assert sent["token_endpoint_auth_method"] == "private_key_jwt"
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in sent["scope"].split()
    tool = sent[TOOL_CONFIGURATION]
    assert tool["domain"] == "testserver"
    assert {m["type"] for m in tool["messages"]} == {
        "LtiResourceLinkRequest",
        "LtiDeepLinkingRequest",
    }
    db.expire_all()
    row = db.scalar(select(LtiPlatform).where(LtiPlatform.issuer == lms.url))
    assert row is not None
    assert (row.client_id, row.deployment_ids, row.name) == (
        "registered-client",
        ["dep-9"],
        "moodle",
    )
    assert row.auth_login_url == f"{lms.url}/auth" and row.jwks_url == f"{lms.url}/jwks"
    assert row.token_url == f"{lms.url}/token"
    assert row.token_audience == f"{lms.url}/token-audience"


def test_registering_again_brings_the_platform_up_to_date_instead_of_a_second_one(
    app: FastAPI, db: Session, lms: FakeLms
) -> None:
    visitor = admin(app, db)
    assert register(visitor, lms).status_code == 200
    again = register(visitor, lms)
    assert again.status_code == 200 and "brought up to date" in again.text
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(LtiPlatform)) == 1


def test_a_configuration_whose_issuer_is_another_host_is_refused_and_nothing_is_kept(
    app: FastAPI, db: Session, lms: FakeLms
) -> None:
    lms.issuer = "https://elsewhere.example"
    answer = register(admin(app, db), lms)
    assert answer.status_code == 400
    assert "3.5.1" in answer.text and "elsewhere.example" in answer.text
    assert lms.received == []
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(LtiPlatform)) == 0


def test_a_wrong_registration_token_is_reported_with_the_platform_answer(
    app: FastAPI, db: Session, lms: FakeLms
) -> None:
    visitor = admin(app, db)
    answer = visitor.form(
        "/lti/register",
        {"openid_configuration": lms.configuration_url, "registration_token": "wrong"},
    )
    assert answer.status_code == 400
    assert "HTTP 401" in answer.text


def test_registration_is_for_site_administrators_only(
    app: FastAPI, db: Session, lms: FakeLms
) -> None:
    params = {"openid_configuration": lms.configuration_url, "registration_token": TOKEN}
    learner = signed_in(app, db, make_user(db, "someone@example.org"))
    db.commit()
    assert learner.client.get("/lti/register", params=params).status_code == 403
    assert register(learner, lms).status_code == 403
    visitor = anonymous(app)
    page = visitor.client.get("/lti/register", params=params)
    assert page.status_code == 200 and 'target="_blank"' in page.text
    assert "Register torchquiz with this LMS" not in page.text
    assert register(visitor, lms).status_code == 401
    assert lms.received == []
