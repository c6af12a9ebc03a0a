"""The API tokens page: reached from the account page; creating shows the secret once; the
list never shows it again; revoking works; both forms need their CSRF token."""

from __future__ import annotations

import re

from fastapi import FastAPI
from sqlalchemy.orm import Session

from app.courses import service as courses
from tests.courses.support import make_user, new_client, signed_in
from tests.tokens.support import bearer


def test_the_account_page_links_to_the_tokens_page(app: FastAPI, db: Session) -> None:
    visitor = signed_in(app, db, make_user(db, "p1@example.org"))
    assert 'href="/account/tokens"' in visitor.client.get("/account").text
    page = visitor.client.get("/account/tokens")
    assert page.status_code == 200 and "You have no API tokens." in page.text
    assert new_client(app).get("/account/tokens").status_code == 303  # to sign in


def test_creating_a_token_shows_its_secret_once_and_revoking_ends_it(
    app: FastAPI, db: Session
) -> None:
    visitor = signed_in(app, db, make_user(db, "p2@example.org"))
    made = visitor.client.post(
        "/account/tokens",
        data={
            "csrf_token": visitor.csrf,
            "name": "Moodle sync",
            "scopes": ["practice", "results:read"],
            "expires_in_days": "30",
            "allowed_origins": "https://moodle.example.edu",
        },
    )
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    found = re.search(r'value="(tqp_[\w-]+)"', made.text)
    assert found, made.text
    secret = found.group(1)
    assert bearer(app, secret).get("/api/v1/me").status_code == 200
    listed = visitor.client.get("/account/tokens")
    assert "Moodle sync" in listed.text and secret[:12] in listed.text
    assert secret not in listed.text
    public_id = re.search(r"/account/tokens/([\w-]+)/revoke", listed.text)
    assert public_id
    revoked = visitor.form(f"/account/tokens/{public_id.group(1)}/revoke")
    assert revoked.status_code == 303 and revoked.headers["location"].endswith("done=revoked")
    assert "revoked" in visitor.client.get("/account/tokens?done=revoked").text
    assert bearer(app, secret).get("/api/v1/me").status_code == 401


def test_the_forms_refuse_without_their_csrf_token(app: FastAPI, db: Session) -> None:
    visitor = signed_in(app, db, make_user(db, "p3@example.org"))
    refused = visitor.client.post("/account/tokens", data={"name": "x", "scopes": "practice"})
    assert refused.status_code == 422 or refused.status_code == 403
    forged = visitor.client.post(
        "/account/tokens", data={"csrf_token": "0" * 64, "name": "x", "scopes": "practice"}
    )
    assert forged.status_code == 403
    assert "You have no API tokens." in visitor.client.get("/account/tokens").text


def test_a_bad_form_is_shown_again_naming_the_field(app: FastAPI, db: Session) -> None:
    visitor = signed_in(app, db, make_user(db, "p4@example.org"))
    answer = visitor.form("/account/tokens", {"name": "x", "expires_in_days": "0"})
    assert answer.status_code == 422
    assert 'id="scopes-problem"' in answer.text and 'aria-invalid="true"' in answer.text


def test_an_owner_may_make_a_service_token_for_their_course_on_the_page(
    app: FastAPI, db: Session
) -> None:
    user = make_user(db, "p5@example.org")
    course = courses.create_course(db, user.id, "Service course")
    visitor = signed_in(app, db, user)
    assert f'value="{course.slug}"' in visitor.client.get("/account/tokens").text
    made = visitor.client.post(
        "/account/tokens",
        data={
            "csrf_token": visitor.csrf,
            "name": "Canvas",
            "scopes": "results:read",
            "course": course.slug,
        },
    )
    assert made.status_code == 201 and re.search(r'value="tqs_[\w-]+"', made.text)
