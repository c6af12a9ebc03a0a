"""Registering LMSs: the admin JSON API and pages (site administrators only), keyed by
(issuer, client id), deactivation refusing launches, and our URLs shown to paste into the LMS."""

from __future__ import annotations

from html import unescape
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.lti.models import LtiPlatform
from tests.courses.support import Visitor, anonymous, make_user, signed_in

API = "/api/v1/admin/lti/platforms"


def fields(**changes: Any) -> dict[str, Any]:
    base = {
        "name": "Moodle of Example U",
        "issuer": "https://moodle.example.edu",
        "client_id": "abc123",
        "deployment_ids": ["1"],
        "auth_login_url": "https://moodle.example.edu/mod/lti/auth.php",
        "token_url": "https://moodle.example.edu/mod/lti/token.php",
        "jwks_url": "https://moodle.example.edu/mod/lti/certs.php",
    }
    return base | changes


def admin(app: FastAPI, db: Session) -> Visitor:
    visitor = signed_in(app, db, make_user(db, "root@example.org", admin=True))
    db.commit()
    return visitor


def test_an_administrator_registers_lists_changes_and_deactivates_a_platform(
    app: FastAPI, db: Session
) -> None:
    client = admin(app, db).client
    made = client.post(API, json=fields())
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["issuer"] == "https://moodle.example.edu" and body["active"] is True
    assert body["deployment_ids"] == ["1"] and body["token_audience"] is None
    platform_id = body["id"]
    assert [p["id"] for p in client.get(API).json()] == [platform_id]
    changed = client.patch(f"{API}/{platform_id}", json={"deployment_ids": ["1", "2"]})
    assert changed.status_code == 200 and changed.json()["deployment_ids"] == ["1", "2"]
    assert client.delete(f"{API}/{platform_id}").status_code == 204
    assert client.get(f"{API}/{platform_id}").json()["active"] is False
    db.expire_all()
    row = db.scalar(select(LtiPlatform).where(LtiPlatform.public_id == platform_id))
    assert row is not None and row.active is False  # kept, not deleted


def test_the_same_issuer_may_register_twice_with_two_client_ids_but_not_the_same_one(
    app: FastAPI, db: Session
) -> None:
    client = admin(app, db).client
    assert client.post(API, json=fields()).status_code == 201
    assert client.post(API, json=fields(client_id="other-customer")).status_code == 201
    twice = client.post(API, json=fields())
    assert twice.status_code == 409
    assert "abc123" in twice.json()["message"]


def test_bad_fields_are_refused_with_422_naming_them(app: FastAPI, db: Session) -> None:
    client = admin(app, db).client
    answer = client.post(API, json=fields(jwks_url="ftp://nope", client_id=""))
    assert answer.status_code == 422
    named = {e["field"] for e in answer.json()["errors"]}
    assert {"jwks_url", "client_id"} <= named


def test_the_api_and_pages_are_for_site_administrators_only(app: FastAPI, db: Session) -> None:
    nobody = anonymous(app).client
    assert nobody.get(API).status_code == 401
    learner = signed_in(app, db, make_user(db, "someone@example.org"))
    db.commit()
    assert learner.client.get(API).status_code == 403
    assert learner.client.post(API, json=fields()).status_code == 403
    assert learner.client.get("/admin/lti/platforms").status_code == 403
    assert learner.form("/admin/lti/platforms/new", fields(deployment_ids="1")).status_code == 403


def test_the_admin_page_shows_our_urls_and_registers_through_its_form(
    app: FastAPI, db: Session
) -> None:
    visitor = admin(app, db)
    page = visitor.client.get("/admin/lti/platforms")
    assert page.status_code == 200
    for path in ("/lti/login", "/lti/launch", "/lti/jwks.json", "/lti/register"):
        assert f"http://testserver{path}" in page.text
    assert "No platform is registered yet" in page.text
    form = visitor.client.get("/admin/lti/platforms/new")
    assert form.status_code == 200 and 'name="deployment_ids"' in form.text
    refused = visitor.form("/admin/lti/platforms/new", fields(deployment_ids="", jwks_url="x"))
    assert refused.status_code == 422 and 'id="jwks_url-problem"' in refused.text
    made = visitor.form(
        "/admin/lti/platforms/new", fields(deployment_ids="1\n2", token_audience="")
    )
    assert made.status_code == 303, made.text
    db.expire_all()
    row = db.scalar(select(LtiPlatform))
    assert row is not None and row.deployment_ids == ["1", "2"] and row.token_audience is None
    listed = visitor.client.get("/admin/lti/platforms").text
    assert "Moodle of Example U" in listed and "https://moodle.example.edu" in listed
    edited = visitor.form(
        f"/admin/lti/platforms/{row.public_id}",
        fields(name="Renamed", deployment_ids="3"),
    )
    assert edited.status_code == 303
    assert visitor.form(f"/admin/lti/platforms/{row.public_id}/deactivate").status_code == 303
    db.expire_all()
    row = db.scalar(select(LtiPlatform))
    assert row is not None and (row.name, row.deployment_ids, row.active) == (
        "Renamed",
        ["3"],
        False,
    )


def test_a_deactivated_platform_can_no_longer_start_a_login(app: FastAPI, db: Session) -> None:
    client = admin(app, db).client
    platform_id = client.post(API, json=fields()).json()["id"]
    params = {
        "iss": "https://moodle.example.edu",
        "client_id": "abc123",
        "login_hint": "u1",
        "target_link_uri": "https://testserver/lti/launch",
    }
    assert client.get("/lti/login", params=params).status_code == 302
    client.delete(f"{API}/{platform_id}")
    assert client.get("/lti/login", params=params).status_code == 400


def test_a_platform_registered_here_may_frame_our_pages_at_once_and_not_once_deactivated(
    app: FastAPI, db: Session
) -> None:
    client = admin(app, db).client

    def ancestors() -> list[str]:
        policy = client.get("/").headers["content-security-policy"]
        return policy.split("frame-ancestors ", 1)[1].split(";")[0].split()

    auth = "https://auth.moodle.example.edu"
    made = client.post(API, json=fields(auth_login_url=f"{auth}/mod/lti/auth.php"))
    assert {"https://moodle.example.edu", auth} <= set(ancestors())
    client.delete(f"{API}/{made.json()['id']}")
    assert "https://moodle.example.edu" not in ancestors() and "'self'" in ancestors()


def test_the_lms_integration_guide_is_served_with_the_urls_to_give_moodle_and_canvas(
    tool: Any,
) -> None:
    page = tool.get("/lti/guide")
    assert page.status_code == 200
    text = unescape(page.text)
    assert "<h1>LMS integration</h1>" in text
    for part in ("Moodle", "Canvas", "/lti/login", "/lti/jwks.json", "Idempotency-Key"):
        assert part in text
