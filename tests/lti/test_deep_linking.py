"""Deep Linking 2.0: the picker an instructor sees inside the LMS, and the signed
LtiDeepLinkingResponse it posts back, verified by the emulated LMS with our JWKS."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import jwt
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.core.db import utcnow
from app.lti import keys
from app.lti.models import LtiDeepLink
from app.questions.models import TopicRow
from tests.assignments.support import make_assignment, make_class
from tests.courses.support import Visitor, signed_in
from tests.lti.conftest import TOOL, register
from tests.lti.emulator import INSTRUCTOR, Platform, parse_hidden_fields
from tests.lti.services_support import (
    link_course,
    lms_fixture,  # noqa: F401 - the `lms` fixture
)
from tests.lti.test_launch_refusals import login

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"


def _request(db: Session, lms: Platform, course: Any, user: Any, **settings: Any) -> str:
    """A validated deep-linking request as the launch stores it; its public id."""
    platform = link_course(db, lms, course, None).platform
    row = LtiDeepLink(
        platform_id=platform.id,
        user_id=user.id,
        course_id=course.id,
        deployment_id=lms.deployment_ids[0],
        settings={
            "deep_link_return_url": lms.deep_link_return_url,
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
            "accept_multiple": True,
            "data": "opaque-platform-data",
            **settings,
        },
        expires_at=utcnow() + timedelta(hours=1),
    )
    db.add(row)
    db.flush()
    return row.public_id


def _world(app: FastAPI, db: Session, lms: Platform, **settings: Any) -> dict[str, Any]:
    group = make_class(db, learners=1, prefix="dl")
    assignment = make_assignment(db, app.state.catalog, group.course, title="Graded quiz")
    launch = _request(db, lms, group.course, group.owner, **settings)
    return {
        "group": group,
        "assignment": assignment,
        "url": f"/lti/deep-link/{launch}",
        "owner": signed_in(app, db, group.owner),
    }


def _shipped(db: Session) -> TopicRow:
    topic = db.scalar(select(TopicRow).where(TopicRow.course_id.is_(None)).order_by(TopicRow.slug))
    assert topic is not None
    return topic


def _pick(owner: Visitor, url: str, *targets: str) -> Any:
    return owner.client.post(url, data={"item": list(targets), "csrf_token": owner.csrf})


def test_the_picker_offers_the_course_s_assignments_and_the_shipped_practice(
    app: FastAPI, db: Session, lms: Platform
) -> None:
    world = _world(app, db, lms)
    topic = _shipped(db)

    page = world["owner"].client.get(world["url"])

    assert page.status_code == 200, page.text
    assert "Graded quiz" in page.text and topic.title in page.text
    boxes = re.findall(r'<input id="([^"]+)" name="item" type="(\w+)" value="([^"]+)"', page.text)
    assert {kind for _, kind, _ in boxes} == {"checkbox"}
    assert f"assignment:{world['assignment'].public_id}" in {v for *_, v in boxes}
    assert f"practice:{topic.slug}" in {v for *_, v in boxes}
    for box_id, _, _ in boxes:  # every control labelled
        assert f'<label for="{box_id}">' in page.text
    assert "<legend>" in page.text and 'name="csrf_token"' in page.text


def test_one_item_only_is_a_radio_choice_and_two_are_refused_with_422(
    app: FastAPI, db: Session, lms: Platform
) -> None:
    world = _world(app, db, lms, accept_multiple=False)
    topic = _shipped(db)
    page = world["owner"].client.get(world["url"])
    assert 'type="radio"' in page.text and 'type="checkbox"' not in page.text

    both = (f"assignment:{world['assignment'].public_id}", f"practice:{topic.slug}")
    answer = _pick(world["owner"], world["url"], *both)

    assert answer.status_code == 422
    assert "pick one" in answer.text and 'aria-invalid="true"' in answer.text
    assert world["owner"].client.get(world["url"]).status_code == 200  # not used up


def test_the_response_is_signed_with_our_key_and_the_lms_accepts_its_content_items(
    app: FastAPI, db: Session, lms: Platform
) -> None:
    world = _world(app, db, lms)
    topic, assignment = _shipped(db), world["assignment"]

    answer = _pick(
        world["owner"], world["url"], f"assignment:{assignment.public_id}", f"practice:{topic.slug}"
    )

    assert answer.status_code == 200, answer.text
    assert re.search(rf'<form[^>]*action="{re.escape(lms.deep_link_return_url)}"', answer.text)
    assert "js/lti-deep-link.js" in answer.text and "<script>" not in answer.text
    # The browser may post this page's form to the LMS, and the LMS may frame it.
    policy = answer.headers["content-security-policy"]
    assert f"form-action 'self' {lms.url}" in policy
    assert re.search(rf"frame-ancestors [^;]*{re.escape(lms.url)}", policy)
    assert "script-src 'self';" in policy
    token = parse_hidden_fields(answer.text)["JWT"]
    kid = jwt.get_unverified_header(token)["kid"]
    [jwk] = [k for k in keys.jwks(db)["keys"] if k["kid"] == kid]
    claims = jwt.decode(
        token, jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=lms.issuer, leeway=5
    )
    assert claims["iss"] == lms.client_id and claims["nonce"]
    assert claims["exp"] > claims["iat"]
    assert claims[LTI + "message_type"] == "LtiDeepLinkingResponse"
    assert (claims[LTI + "version"], claims[LTI + "deployment_id"]) == ("1.3.0", "deployment-1")
    assert claims[DL + "data"] == "opaque-platform-data"
    graded, practice = claims[DL + "content_items"]
    assert graded == {
        "type": "ltiResourceLink",
        "title": "Graded quiz",
        "url": "http://testserver/lti/launch",
        "custom": {"target": f"assignment:{assignment.public_id}"},
        "lineItem": {
            "scoreMaximum": 100,
            "label": "Graded quiz",
            "resourceId": assignment.public_id,
            "tag": "torchquiz",
        },
    }
    assert practice["custom"] == {"target": f"practice:{topic.slug}"}
    assert "lineItem" not in practice

    # The LMS verifies it with the JWKS we publish, and takes the items.
    back = httpx.post(lms.deep_link_return_url, data={"JWT": token}, timeout=10)
    assert back.status_code == 200, (back.text, lms.errors)
    assert [i["title"] for i in lms.content_items] == ["Graded quiz", topic.title]
    # Used once: the platform's data is echoed once.
    assert world["owner"].client.get(world["url"]).status_code == 404


def test_a_learner_cannot_open_the_picker_nor_post_to_it(
    app: FastAPI, db: Session, lms: Platform
) -> None:
    world = _world(app, db, lms)
    learner = signed_in(app, db, world["group"].learners[0])

    assert learner.client.get(world["url"]).status_code == 403
    posted = _pick(learner, world["url"], f"assignment:{world['assignment'].public_id}")
    assert posted.status_code == 403
    assert world["owner"].client.get(world["url"]).status_code == 200  # still the owner's


def test_an_unknown_or_expired_request_is_a_404(app: FastAPI, db: Session, lms: Platform) -> None:
    world = _world(app, db, lms)
    row = db.scalar(select(LtiDeepLink))
    assert row is not None
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.flush()

    assert world["owner"].client.get(world["url"]).status_code == 404
    unknown = "/lti/deep-link/00000000-0000-4000-8000-000000000000"
    assert world["owner"].client.get(unknown).status_code == 404


def test_a_target_the_page_did_not_offer_is_refused(
    app: FastAPI, db: Session, lms: Platform
) -> None:
    world = _world(app, db, lms)

    answer = _pick(world["owner"], world["url"], "assignment:someone-elses")

    assert answer.status_code == 422 and "not something this page offers" in answer.text


def test_a_deep_linking_round_trip_from_the_lms_s_launch_to_its_return_url(
    app: FastAPI, db: Session, lms: Platform
) -> None:
    lms.use_tool(TOOL)
    register(db, lms)
    db.commit()
    topic = _shipped(db)
    browser = TestClient(app, base_url=TOOL, follow_redirects=False)  # no `with`: no start-up
    try:
        started = login(browser, lms, user=INSTRUCTOR, message_type="LtiDeepLinkingRequest")
        form = lms.authorize(started.location)
        launched = browser.post(form.action, data={"id_token": form.id_token, "state": form.state})
        assert launched.status_code == 303, launched.text[:500]
        picker_url = launched.headers["location"]
        assert "/lti/deep-link/" in picker_url

        page = browser.get(picker_url)
        assert page.status_code == 200, page.text[:500]
        csrf = parse_hidden_fields(page.text)["csrf_token"]
        answer = browser.post(
            picker_url, data={"item": [f"practice:{topic.slug}"], "csrf_token": csrf}
        )
    finally:
        browser.close()

    assert answer.status_code == 200, answer.text[:500]
    back = httpx.post(
        lms.deep_link_return_url, data={"JWT": parse_hidden_fields(answer.text)["JWT"]}, timeout=10
    )
    assert back.status_code == 200, (back.text, lms.errors)
    [item] = lms.content_items
    assert item["custom"] == {"target": f"practice:{topic.slug}"}
    assert item["url"] == f"{TOOL}/lti/launch"
