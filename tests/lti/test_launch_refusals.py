"""Launch validation: each forged, stale or misaddressed launch is refused with a 4xx page, and
creates nothing (no account, session, enrolment, course or link). The tool is driven through
TestClient at https://testserver; the platform's keys are fetched over real HTTP from the
emulator (tests/lti/emulator.py)."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.courses.models import Course, CourseStaff, Enrolment
from app.learners.models import AccountSession, ExternalIdentity, User
from app.lti.login import state_cookie_name
from app.lti.models import LtiContext, LtiDeepLink, LtiLogin, LtiPlatform, LtiResourceLink
from tests.lti.conftest import TOOL as TOOL_URL
from tests.lti.emulator import (
    INSTRUCTOR,
    LEARNER,
    OMIT,
    Platform,
    new_rsa_key,
    parse_hidden_fields,
    query_of,
)

# What a refused launch must not have made.
COUNTED = (
    User,
    AccountSession,
    ExternalIdentity,
    Enrolment,
    CourseStaff,
    Course,
    LtiContext,
    LtiResourceLink,
    LtiDeepLink,
)


def counts(db: Session) -> dict[str, int]:
    db.expire_all()
    return {
        model.__tablename__: db.scalar(select(func.count()).select_from(model)) or 0
        for model in COUNTED
    }


@dataclass
class Login:
    """The tool's answer to the OIDC login initiation: where it sent the browser."""

    location: str
    state: str
    nonce: str


def login(tool: TestClient, platform: Platform, **launch: Any) -> Login:
    """The platform starts a launch at the tool's /lti/login (GET); the tool sets its state
    cookie and redirects to the platform's /auth with state and nonce."""
    answer = tool.get("/lti/login", params=platform.login_params(platform.launch(**launch)))
    assert answer.status_code in (302, 303), answer.text
    location = answer.headers["location"]
    assert location.startswith(platform.url + "/auth?"), location
    params = query_of(location)
    return Login(location, params["state"], params["nonce"])


def launch(tool: TestClient, token: str, state: str) -> Any:
    return tool.post("/lti/launch", data={"id_token": token, "state": state})


def assert_refused(answer: Any, db: Session, before: dict[str, int], reason: str = "") -> None:
    """A 4xx page saying why (its alert names `reason`, a regex), no account cookie, and not
    a row more in COUNTED."""
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:500])
    assert answer.headers["content-type"].startswith("text/html"), answer.headers
    assert "tq_account" not in answer.headers.get("set-cookie", "")
    said = re.search(r'role="(?:alert|status)"[^>]*>(.*?)</', answer.text, re.S)
    assert said and said[1].strip(), f"the page says nothing of why: {answer.text[:800]}"
    assert re.search(reason, html.unescape(said[1]), re.I), said[1]
    assert counts(db) == before


# --- each forged or misaddressed token: (what it is, how it is made) ---


def now() -> int:
    return int(time.time())


Forge = Callable[[Platform, str], str]

# Each case: how the token is made, and a word its refusal page must name (what was wrong).
FORGED: dict[str, tuple[Forge, str]] = {
    "signed with a key the platform does not publish": (
        lambda p, nonce: p.id_token(nonce=nonce, key=new_rsa_key()),
        "signature",
    ),
    "naming a kid the platform does not publish": (
        lambda p, nonce: p.id_token(nonce=nonce, header={"kid": "no-such-key"}),
        "no-such-key",
    ),
    "with alg none and no signature": (
        lambda p, nonce: p.id_token(nonce=nonce, alg="none"),
        "RS256",
    ),
    "HS256 signed with the platform's public key as secret": (
        lambda p, nonce: p.id_token(nonce=nonce, alg="HS256"),
        "RS256",
    ),
    "from another issuer": (
        lambda p, nonce: p.id_token(nonce=nonce, iss="https://evil.example"),
        "issuer",
    ),
    "addressed to another client": (
        lambda p, nonce: p.id_token(nonce=nonce, aud="someone-else"),
        "aud",
    ),
    "with several audiences and no azp": (
        lambda p, nonce: p.id_token(nonce=nonce, aud=[p.client_id, "someone-else"]),
        "azp",
    ),
    "with several audiences and azp another client": (
        lambda p, nonce: p.id_token(
            nonce=nonce, aud=[p.client_id, "someone-else"], azp="someone-else"
        ),
        "azp",
    ),
    "expired two minutes ago": (
        lambda p, nonce: p.id_token(nonce=nonce, iat=now() - 420, exp=now() - 120),
        "expired",
    ),
    "issued ten minutes in the future": (
        lambda p, nonce: p.id_token(nonce=nonce, iat=now() + 600, exp=now() + 900),
        "future|iat",
    ),
    "without exp": (lambda p, nonce: p.id_token(nonce=nonce, exp=OMIT), "exp"),
    "with a nonce the tool never issued": (
        lambda p, nonce: p.id_token(nonce="not-ours"),
        "nonce",
    ),
    "from an unknown deployment": (
        lambda p, nonce: p.id_token(nonce=nonce, deployment_id="deployment-unknown"),
        "deployment",
    ),
    "without a deployment id": (
        lambda p, nonce: p.id_token(nonce=nonce, deployment_id=OMIT),
        "deployment",
    ),
    "of an unknown message type": (
        lambda p, nonce: p.id_token(nonce=nonce, message_type="LtiStartProctoring"),
        "message type|message_type",
    ),
    "of LTI version 1.1": (
        lambda p, nonce: p.id_token(nonce=nonce, version="1.1.0"),
        "version",
    ),
    "asking a Learner to deep-link": (
        lambda p, nonce: p.id_token(LEARNER, nonce=nonce, message_type="LtiDeepLinkingRequest"),
        "instructor",
    ),
    "without a sub": (lambda p, nonce: p.id_token(nonce=nonce, sub=OMIT), "sub"),
}


@pytest.mark.parametrize(("forge", "reason"), list(FORGED.values()), ids=list(FORGED))
def test_a_forged_or_misaddressed_id_token_is_refused_and_creates_nothing(
    tool: TestClient, db: Session, platform: Platform, forge: Forge, reason: str
) -> None:
    started = login(tool, platform)
    before = counts(db)
    answer = launch(tool, forge(platform, started.nonce), started.state)
    assert_refused(answer, db, before, reason)


def test_a_launch_without_the_state_cookie_is_refused(
    tool: TestClient, db: Session, platform: Platform
) -> None:
    started = login(tool, platform)
    tool.cookies.clear()  # another browser, or one that dropped the third-party cookie
    before = counts(db)
    token = platform.id_token(nonce=started.nonce)
    assert_refused(launch(tool, token, started.state), db, before, "cookie")


def test_a_launch_whose_state_is_not_the_cookies_is_refused(
    tool: TestClient, db: Session, platform: Platform
) -> None:
    started = login(tool, platform)
    other = login(tool, platform)  # a second login in the same browser: its state is valid
    before = counts(db)
    token = platform.id_token(nonce=started.nonce)
    assert_refused(launch(tool, token, other.state + "x"), db, before, "state")
    assert_refused(launch(tool, token, "made-up-state"), db, before, "state")
    # The other login's own state, with the first login's id_token: its nonce is not this one.
    assert_refused(launch(tool, token, other.state), db, before, "nonce")


def test_a_launch_whose_state_cookie_holds_another_value_is_refused(
    tool: TestClient, db: Session, platform: Platform
) -> None:
    started = login(tool, platform)
    name = state_cookie_name(started.state)
    (cookie,) = [c for c in tool.cookies.jar if c.name == name]
    assert cookie.value == started.state  # the login bound the state to the browser
    cookie.value = "tampered-" + started.state
    before = counts(db)
    token = platform.id_token(nonce=started.nonce)
    assert_refused(launch(tool, token, started.state), db, before, "state")


def test_a_replayed_id_token_is_refused(tool: TestClient, db: Session, platform: Platform) -> None:
    started = login(tool, platform)
    answer = platform.authorize(started.location)
    first = launch(tool, answer.id_token, answer.state)
    assert first.status_code in (200, 302, 303), first.text[:500]
    before = counts(db)
    assert_refused(launch(tool, answer.id_token, answer.state), db, before, "used")
    # Replayed into a fresh login of the same browser: the nonce is still spent.
    again = login(tool, platform)
    assert_refused(launch(tool, answer.id_token, again.state), db, before, "nonce")


# --- what must pass ---


def test_a_token_issued_twenty_seconds_ahead_passes_within_the_clock_leeway(
    tool: TestClient, db: Session, platform: Platform
) -> None:
    started = login(tool, platform)
    token = platform.id_token(nonce=started.nonce, iat=now() + 20, exp=now() + 320)
    answer = launch(tool, token, started.state)
    assert answer.status_code in (200, 302, 303), answer.text[:500]


def test_several_audiences_with_our_client_id_as_azp_pass(
    tool: TestClient, db: Session, platform: Platform
) -> None:
    started = login(tool, platform)
    token = platform.id_token(
        nonce=started.nonce, aud=[platform.client_id, "someone-else"], azp=platform.client_id
    )
    answer = launch(tool, token, started.state)
    assert answer.status_code in (200, 302, 303), answer.text[:500]


def test_an_instructor_may_deep_link(tool: TestClient, db: Session, platform: Platform) -> None:
    started = login(tool, platform, user=INSTRUCTOR)
    token = platform.id_token(INSTRUCTOR, nonce=started.nonce, message_type="LtiDeepLinkingRequest")
    answer = launch(tool, token, started.state)
    assert answer.status_code in (200, 302, 303), answer.text[:500]


def test_the_login_binds_the_state_to_the_browser_in_a_cookie_that_works_in_a_frame(
    tool: TestClient, platform: Platform
) -> None:
    answer = tool.get("/lti/login", params=platform.login_params(platform.launch()))
    state = query_of(answer.headers["location"])["state"]
    (cookie,) = [c for c in answer.headers.get_list("set-cookie") if state in c]
    attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert {"samesite=none", "secure", "partitioned", "httponly"} <= attributes, cookie


# --- logins and platforms ---


def test_a_login_from_an_unregistered_issuer_is_refused_and_remembers_nothing(
    tool: TestClient, db: Session, platform: Platform
) -> None:
    before = db.scalar(select(func.count()).select_from(LtiLogin))
    params = platform.login_params(platform.launch()) | {"iss": "https://unknown.example"}
    answer = tool.get("/lti/login", params=params)
    assert 400 <= answer.status_code < 500, answer.text[:500]
    assert "lti_state_" not in answer.headers.get("set-cookie", "")
    assert db.scalar(select(func.count()).select_from(LtiLogin)) == before


def test_a_launch_from_a_platform_deactivated_since_its_login_is_refused(
    tool: TestClient, db: Session, platform: Platform
) -> None:
    started = login(tool, platform)
    row = db.scalar(select(LtiPlatform).where(LtiPlatform.issuer == platform.issuer))
    assert row is not None
    row.active = False
    db.commit()
    before = counts(db)
    token = platform.id_token(nonce=started.nonce)
    assert_refused(launch(tool, token, started.state), db, before, "issuer")


def test_made_up_kids_make_the_tool_fetch_the_platforms_keys_again_at_most_once(
    tool: TestClient, app: Any, db: Session, platform: Platform
) -> None:
    """A flood of launches naming unknown keys must not make the tool hammer the platform."""
    warm = login(tool, platform)
    assert launch(tool, platform.id_token(nonce=warm.nonce), warm.state).status_code == 303
    cache = app.state.lti_platform_keys
    fetches = cache.fetches
    for n in range(3):
        started = login(tool, platform)
        token = platform.id_token(nonce=started.nonce, header={"kid": f"made-up-{n}"})
        assert launch(tool, token, started.state).status_code == 400
    assert cache.fetches - fetches <= 1


# --- the deep-linking picker ---


def test_only_the_instructor_who_asked_may_use_the_deep_linking_picker_and_only_once(
    app: Any, tool: TestClient, db: Session, platform: Platform
) -> None:
    started = login(tool, platform, user=INSTRUCTOR, message_type="LtiDeepLinkingRequest")
    auth = platform.authorize(started.location)
    landed = tool.post("/lti/launch", data={"id_token": auth.id_token, "state": auth.state})
    assert landed.status_code == 303, landed.text[:500]
    picker_url = landed.headers["location"]
    assert re.fullmatch(r"/lti/deep-link/[^/]+", picker_url), picker_url
    page = tool.get(picker_url)
    assert page.status_code == 200, page.text[:500]

    learner = TestClient(app, base_url=TOOL_URL, follow_redirects=False)  # another browser
    try:
        learner_login = login(learner, platform, user=LEARNER)
        learner_auth = platform.authorize(learner_login.location)
        data = {"id_token": learner_auth.id_token, "state": learner_auth.state}
        assert learner.post("/lti/launch", data=data).status_code == 303
        assert learner.get(picker_url).status_code == 403
    finally:
        learner.close()

    csrf = parse_hidden_fields(page.text)["csrf_token"]
    form = {"csrf_token": csrf, "item": "practice:birnn"}
    first = tool.post(picker_url, data=form)
    assert first.status_code == 200, first.text[:500]
    assert parse_hidden_fields(first.text)["JWT"]
    again = tool.post(picker_url, data=form)
    assert again.status_code == 404, again.text[:500]


@pytest.mark.parametrize(
    "target", ["assignment:no-such-assignment", "practice:no-such-topic", "quiz:what"]
)
def test_a_valid_launch_to_a_target_we_do_not_have_is_refused_and_creates_nothing(
    tool: TestClient, db: Session, platform: Platform, target: str
) -> None:
    started = login(tool, platform)
    before = counts(db)
    answer = launch(tool, platform.id_token(nonce=started.nonce, target=target), started.state)
    assert_refused(answer, db, before, re.escape(target.partition(":")[2]))
