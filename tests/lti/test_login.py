"""OIDC login initiation (/lti/login) and the browser binding of the launch: the redirect to
the platform with state and nonce, the state cookie that reaches us inside an LMS frame, the
platform's client-side storage when it offers one, and "Open in a new window" when neither
works. The tool is driven through TestClient at https://testserver (F's `tool` fixture)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.learners.models import AccountSession
from app.lti import platforms
from app.lti.login import state_cookie_name
from app.lti.models import LtiLogin
from app.lti.schemas import PlatformIn
from tests.lti.emulator import LEARNER, Platform, query_of

TOOL = "https://testserver"


def start(tool: TestClient, platform: Platform, method: str = "GET", **extra: str) -> Response:
    params = platform.login_params(platform.launch(LEARNER)) | extra
    if method == "GET":
        answer: Response = tool.get("/lti/login", params=params)
    else:
        answer = tool.post("/lti/login", data=params)
    return answer


def sessions(db: Session) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(AccountSession)) or 0


def test_the_login_redirects_to_the_platform_with_the_oidc_request_and_a_partitioned_cookie(
    tool: TestClient, platform: Platform, db: Session
) -> None:
    launch = platform.launch(LEARNER)
    answer = tool.get("/lti/login", params=platform.login_params(launch))
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(f"{platform.url}/auth?")
    sent = query_of(location)
    assert sent["scope"] == "openid"
    assert sent["response_type"] == "id_token"
    assert sent["response_mode"] == "form_post"
    assert sent["prompt"] == "none"
    assert sent["client_id"] == platform.client_id
    assert sent["redirect_uri"] == f"{TOOL}/lti/launch"
    assert sent["login_hint"] == LEARNER.sub
    assert sent["lti_message_hint"] == launch.hint
    assert len(sent["state"]) >= 32 and len(sent["nonce"]) >= 32
    name = state_cookie_name(sent["state"])
    (cookie,) = [c for c in answer.headers.get_list("set-cookie") if c.startswith(name)]
    assert cookie.startswith(f"{name}={sent['state']};")
    attributes = {part.strip() for part in cookie.split(";")[1:]}
    assert attributes == {
        "Path=/lti",
        "Max-Age=600",
        "HttpOnly",
        "Secure",
        "SameSite=None",
        "Partitioned",
    }
    stored = db.scalar(select(LtiLogin).where(LtiLogin.nonce == sent["nonce"]))
    assert stored is not None and stored.used_at is None
    assert sent["state"] not in stored.state_hash  # only its hash is kept


def test_the_login_accepts_a_post_as_well(tool: TestClient, platform: Platform) -> None:
    answer = start(tool, platform, "POST")
    assert answer.status_code == 302
    assert answer.headers["location"].startswith(f"{platform.url}/auth?")


def test_a_login_from_an_unregistered_issuer_is_refused_with_400_and_no_cookie(
    tool: TestClient, platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    answer = start(tool, platform, iss="https://unknown.example")
    assert answer.status_code == 400
    assert "https://unknown.example" in unescape(answer.text)
    (logged,) = [r for r in caplog.records if r.name == "torchquiz.lti"]
    assert "https://unknown.example" in logged.getMessage()
    assert "lti_state_" not in answer.headers.get("set-cookie", "")


def test_a_login_for_another_client_id_of_a_known_issuer_is_refused_with_400(
    tool: TestClient, platform: Platform
) -> None:
    answer = start(tool, platform, client_id="not-registered")
    assert answer.status_code == 400
    assert "not-registered" in unescape(answer.text)


def test_without_client_id_one_platform_per_issuer_is_found_and_two_need_the_client_id(
    tool: TestClient, platform: Platform, db: Session
) -> None:
    params = platform.login_params(platform.launch(LEARNER))
    del params["client_id"]
    assert tool.get("/lti/login", params=params).status_code == 302
    second = PlatformIn(**(platform.registration() | {"client_id": "another-customer"}))
    platforms.create_platform(db, second)
    db.commit()
    answer = tool.get("/lti/login", params=params)
    assert answer.status_code == 400
    assert "must send client_id" in answer.text


def test_a_login_without_login_hint_is_refused_naming_it(
    tool: TestClient, platform: Platform
) -> None:
    params = platform.login_params(platform.launch(LEARNER))
    del params["login_hint"]
    answer = tool.get("/lti/login", params=params)
    assert answer.status_code == 400
    assert "login_hint" in answer.text


def test_with_a_storage_target_the_login_page_stores_the_state_in_the_platform_first(
    tool: TestClient, platform: Platform
) -> None:
    answer = start(tool, platform, lti_storage_target="_parent")
    assert answer.status_code == 200
    page = answer.text
    assert "/static/js/lti-storage.js" in page
    assert 'data-action="put"' in page and 'data-target="_parent"' in page
    assert f'data-origin="{platform.url}"' in page
    next_url = unescape(re.search(r'data-next="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    state = query_of(next_url)["state"]
    assert f'data-state="{state}"' in page
    assert state_cookie_name(state) in answer.headers["set-cookie"]
    assert "<script>" not in page  # no inline script (CSP)


def login_and_token(tool: TestClient, platform: Platform, **extra: str) -> tuple[str, str]:
    answer = start(tool, platform, **extra)
    if answer.status_code == 200:
        location = unescape(re.search(r'data-next="([^"]+)"', answer.text).group(1))  # type: ignore[union-attr]
    else:
        location = answer.headers["location"]
    sent = query_of(location)
    return sent["state"], platform.id_token(LEARNER, nonce=sent["nonce"])


def test_a_launch_whose_cookie_did_not_come_back_offers_a_new_window_and_signs_nobody_in(
    tool: TestClient, platform: Platform, db: Session, caplog: pytest.LogCaptureFixture
) -> None:
    state, token = login_and_token(tool, platform)
    before = sessions(db)
    tool.cookies.clear()  # a browser that keeps no third-party cookies
    answer = tool.post("/lti/launch", data={"id_token": token, "state": state})
    assert answer.status_code == 400
    page = unescape(answer.text)
    assert "Open in a new window" in page
    form = re.search(
        r'<form method="get" action="/lti/login" target="_blank">(.*?)</form>', page, re.S
    )
    assert form is not None
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(1)))
    assert fields["iss"] == platform.issuer and fields["login_hint"] == LEARNER.sub
    assert fields["client_id"] == platform.client_id and "lti_message_hint" in fields
    assert sessions(db) == before
    assert "tq_account" not in answer.headers.get("set-cookie", "")
    logged = [r for r in caplog.records if r.name == "torchquiz.lti"]
    assert any("state cookie" in r.getMessage() for r in logged)


def test_with_platform_storage_a_cookieless_launch_proves_its_state_from_the_storage(
    tool: TestClient, platform: Platform, db: Session
) -> None:
    state, token = login_and_token(tool, platform, lti_storage_target="_parent")
    tool.cookies.clear()
    check = tool.post("/lti/launch", data={"id_token": token, "state": state})
    assert check.status_code == 200
    page = unescape(check.text)
    assert 'data-action="get"' in page and "/static/js/lti-storage.js" in page
    assert f'name="id_token" value="{token}"' in page
    ours = {"Sec-Fetch-Site": "same-origin"}  # our browser-check page re-posts the form
    given = {"id_token": token, "state": state, "storage_state": "other"}
    wrong = tool.post("/lti/launch", data=given, headers=ours)
    assert wrong.status_code == 400 and "platform's storage" in unescape(wrong.text)
    before = sessions(db)
    given["storage_state"] = state
    forged = tool.post("/lti/launch", data=given, headers={"Origin": "https://evil.example"})
    assert forged.status_code == 200 and "Open in a new window" in unescape(forged.text)
    assert sessions(db) == before  # another site's post cannot vouch for the storage
    done = tool.post("/lti/launch", data=given, headers={"Origin": "https://testserver"})
    assert done.status_code == 303, done.text
    assert "tq_account=" in done.headers["set-cookie"]
    assert sessions(db) == before + 1
    replay = tool.post("/lti/launch", data=given, headers=ours)
    assert replay.status_code == 400 and "used already" in unescape(replay.text)


def test_every_page_lets_the_registered_platforms_frame_it_and_none_sends_x_frame_options(
    tool: TestClient, platform: Platform
) -> None:
    tool.app.state.lti_origins.invalidate()  # type: ignore[attr-defined]
    for path in ("/", "/lti/jwks.json"):
        answer = tool.get(path)
        policy = answer.headers["content-security-policy"]
        ancestors = re.search(r"frame-ancestors ([^;]+)", policy).group(1).split()  # type: ignore[union-attr]
        assert "'self'" in ancestors and platform.url in ancestors
        assert "x-frame-options" not in answer.headers
