"""CORS: off until an origin is listed (a preflight gets 405 as before), then a preflight from
a listed origin gets 204 with the allow headers, others none, and an actual request's answer
names its origin only when its token or its course lists it. Never credentials."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.courses import service as courses
from tests.courses.support import make_user, new_client, signed_in
from tests.tokens.support import bearer, make_token

PREFLIGHT = {
    "Access-Control-Request-Method": "GET",
    "Access-Control-Request-Headers": "authorization",
}


def unique_origin() -> str:
    """An origin no other test lists (the lists are kept in the process for seconds)."""
    return f"https://lms-{uuid.uuid4().hex[:8]}.example.edu"


def preflight(client: TestClient, origin: str, path: str = "/api/v1/me") -> object:
    return client.options(path, headers={"Origin": origin, **PREFLIGHT})


def test_with_no_origin_listed_a_preflight_gets_405_and_no_cors_headers(app: FastAPI) -> None:
    app.state.origins.changed()
    answer = new_client(app).options("/api/v1/me", headers={"Origin": unique_origin(), **PREFLIGHT})
    assert answer.status_code == 405
    assert not any(h.startswith("access-control-") for h in answer.headers)


def test_a_tokens_origin_gets_its_preflight_answered_and_its_requests_allowed(
    app: FastAPI, db: Session
) -> None:
    origin = unique_origin()
    owner = signed_in(app, db, make_user(db, "cors@example.org"))
    made = make_token(owner, scopes=["practice"], allowed_origins=[origin.upper()])
    assert made["allowed_origins"] == [origin]
    client = new_client(app)
    answer = client.options("/api/v1/me", headers={"Origin": origin, **PREFLIGHT})
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == origin
    assert "Authorization" in answer.headers["access-control-allow-headers"]
    assert "Idempotency-Key" in answer.headers["access-control-allow-headers"]
    assert "GET" in answer.headers["access-control-allow-methods"]
    assert int(answer.headers["access-control-max-age"]) > 0
    assert "Origin" in answer.headers["vary"]
    assert "access-control-allow-credentials" not in answer.headers
    actual = bearer(app, made["token"]).get("/api/v1/me", headers={"Origin": origin})
    assert actual.status_code == 200
    assert actual.headers["access-control-allow-origin"] == origin
    assert "Retry-After" in actual.headers["access-control-expose-headers"]
    assert "access-control-allow-credentials" not in actual.headers


def test_an_unknown_origin_gets_no_allow_headers(app: FastAPI, db: Session) -> None:
    owner = signed_in(app, db, make_user(db, "cors2@example.org"))
    made = make_token(owner, scopes=["practice"], allowed_origins=[unique_origin()])
    stranger = unique_origin()
    refused = new_client(app).options("/api/v1/me", headers={"Origin": stranger, **PREFLIGHT})
    assert refused.status_code == 403 and "may not call this API" in refused.json()["message"]
    assert not any(h.startswith("access-control-") for h in refused.headers)
    actual = bearer(app, made["token"]).get("/api/v1/me", headers={"Origin": stranger})
    assert actual.status_code == 200
    assert "access-control-allow-origin" not in actual.headers


def test_another_tokens_origin_is_not_echoed_for_this_token(app: FastAPI, db: Session) -> None:
    owner = signed_in(app, db, make_user(db, "cors3@example.org"))
    listed = unique_origin()
    make_token(owner, scopes=["practice"], allowed_origins=[listed])
    plain = make_token(owner, scopes=["practice"])
    actual = bearer(app, plain["token"]).get("/api/v1/me", headers={"Origin": listed})
    assert actual.status_code == 200 and "access-control-allow-origin" not in actual.headers


def test_a_wildcard_is_answered_as_a_star_and_never_with_credentials(
    app: FastAPI, db: Session
) -> None:
    owner = signed_in(app, db, make_user(db, "cors4@example.org"))
    made = make_token(owner, scopes=["practice"], allowed_origins=["*"])
    origin = unique_origin()
    answer = new_client(app).options("/api/v1/me", headers={"Origin": origin, **PREFLIGHT})
    assert answer.status_code == 204 and answer.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in answer.headers
    actual = bearer(app, made["token"]).get("/api/v1/me", headers={"Origin": origin})
    assert actual.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in actual.headers
    # a revoked token's list no longer counts
    owner.client.delete(f"/api/v1/account/tokens/{made['public_id']}")
    after = new_client(app).options("/api/v1/me", headers={"Origin": origin, **PREFLIGHT})
    assert "access-control-allow-origin" not in after.headers


def test_a_courses_origins_set_by_its_owner_allow_its_paths(app: FastAPI, db: Session) -> None:
    user = make_user(db, "cors5@example.org")
    course = courses.create_course(db, user.id, "Cors course")
    other = courses.create_course(db, user.id, "Not listed")
    owner = signed_in(app, db, user)
    origin = unique_origin()
    saved = owner.client.patch(
        f"/api/v1/courses/{course.slug}", json={"allowed_origins": [origin, origin]}
    )
    assert saved.status_code == 200 and saved.json()["allowed_origins"] == [origin]
    token = make_token(owner, scopes=["content:read"])["token"]
    client = bearer(app, token)
    allowed = client.get(f"/api/v1/courses/{course.slug}", headers={"Origin": origin})
    assert allowed.headers["access-control-allow-origin"] == origin
    elsewhere = client.get(f"/api/v1/courses/{other.slug}", headers={"Origin": origin})
    assert "access-control-allow-origin" not in elsewhere.headers
    bad = owner.client.patch(
        f"/api/v1/courses/{course.slug}", json={"allowed_origins": ["ftp://x"]}
    )
    assert bad.status_code == 422 and "allowed_origins" in bad.text
    cleared = owner.client.patch(f"/api/v1/courses/{course.slug}", json={"allowed_origins": []})
    assert cleared.json()["allowed_origins"] == []
    gone = client.get(f"/api/v1/courses/{course.slug}", headers={"Origin": origin})
    assert "access-control-allow-origin" not in gone.headers


def test_the_course_settings_page_sets_the_origins(app: FastAPI, db: Session) -> None:
    user = make_user(db, "cors6@example.org")
    course = courses.create_course(db, user.id, "Page course")
    owner = signed_in(app, db, user)
    origin = unique_origin()
    page = owner.client.get(f"/courses/{course.slug}")
    assert 'name="allowed_origins"' in page.text
    saved = owner.form(f"/courses/{course.slug}/origins", {"allowed_origins": f"{origin}\n*"})
    assert saved.status_code == 303
    db.expire_all()
    assert db.get(type(course), course.id).allowed_origins == [origin, "*"]  # type: ignore[union-attr]
    assert origin in owner.client.get(f"/courses/{course.slug}").text
    bad = owner.form(f"/courses/{course.slug}/origins", {"allowed_origins": "not an origin"})
    assert bad.status_code == 422
    # The course page again, the box keeping what was typed and the problem beside it.
    assert 'id="origins-problem"' in bad.text and "not an origin" in bad.text
    assert 'aria-invalid="true"' in bad.text
    db.expire_all()
    assert db.get(type(course), course.id).allowed_origins == [origin, "*"]  # type: ignore[union-attr]
