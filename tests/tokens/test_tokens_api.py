"""API tokens over the API: made by a browser, shown once, stored hashed, and then honoured
as bearers with their scopes, their course, their expiry, revocation and rate limit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attempts.models import QuizSession
from app.core.db import utcnow
from app.courses import service as courses
from app.learners.models import Learner
from app.learners.sessions import token_hash
from app.tokens.models import ApiToken
from tests.courses.support import make_user, new_client, signed_in
from tests.tokens.support import bearer, make_token


def test_a_new_token_works_as_a_bearer_and_acts_as_its_user(app: FastAPI, db: Session) -> None:
    user = make_user(db, "owner@example.org")
    course = courses.create_course(db, user.id, "Deep learning")
    made = make_token(signed_in(app, db, user), scopes=["content:read"])
    assert made["token"].startswith("tqp_") and made["kind"] == "personal"
    answer = bearer(app, made["token"]).get(f"/api/v1/courses/{course.slug}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["roles"]["content_role"] == "owner"


def test_the_secret_is_shown_once_and_stored_only_hashed(app: FastAPI, db: Session) -> None:
    owner = signed_in(app, db, make_user(db, "a@example.org"))
    made = make_token(owner, scopes=["results:read"])
    assert made["prefix"] == made["token"][:12]
    listed = owner.client.get("/api/v1/account/tokens")
    assert listed.status_code == 200
    assert made["token"] not in listed.text and "token" not in listed.json()[0]
    row = db.scalar(select(ApiToken).where(ApiToken.public_id == made["public_id"]))
    assert row is not None and row.token_hash == token_hash(made["token"])
    assert made["token"] not in repr([getattr(row, c.key) for c in ApiToken.__table__.columns])


def test_a_revoked_token_is_refused_with_401(app: FastAPI, db: Session) -> None:
    owner = signed_in(app, db, make_user(db, "b@example.org"))
    made = make_token(owner, scopes=["practice"])
    client = bearer(app, made["token"])
    assert client.get("/api/v1/me").status_code == 200
    gone = owner.client.delete(f"/api/v1/account/tokens/{made['public_id']}")
    assert gone.status_code == 204
    refused = client.get("/api/v1/me")
    assert refused.status_code == 401 and "revoked" in refused.json()["message"]
    listed = owner.client.get("/api/v1/account/tokens").json()
    assert listed[0]["revoked_at"] is not None


def test_an_expired_token_is_refused_with_401(app: FastAPI, db: Session) -> None:
    owner = signed_in(app, db, make_user(db, "c@example.org"))
    made = make_token(owner, scopes=["practice"], expires_in_days=1)
    row = db.scalar(select(ApiToken).where(ApiToken.public_id == made["public_id"]))
    assert row is not None
    row.expires_at = utcnow() - timedelta(minutes=1)
    db.flush()
    refused = bearer(app, made["token"]).get("/api/v1/me")
    assert refused.status_code == 401 and "expired" in refused.json()["message"]


def test_an_unknown_token_is_not_a_valid_token(app: FastAPI) -> None:
    refused = bearer(app, "tqp_" + "x" * 43).get("/api/v1/me")
    assert refused.status_code == 401 and "not a valid token" in refused.json()["message"]


def test_a_token_without_the_routes_scope_is_refused_with_403_naming_it(
    app: FastAPI, db: Session
) -> None:
    user = make_user(db, "d@example.org")
    course = courses.create_course(db, user.id, "Course D")
    made = make_token(signed_in(app, db, user), scopes=["content:read"])
    client = bearer(app, made["token"])
    refused = client.get(f"/api/v1/courses/{course.slug}/learners")
    assert refused.status_code == 403 and "results:read" in refused.json()["message"]
    renamed = client.patch(f"/api/v1/courses/{course.slug}", json={"title": "No"})
    assert renamed.status_code == 403 and "courses:manage" in renamed.json()["message"]
    learner = client.get("/api/v1/me")
    assert learner.status_code == 403 and "practice" in learner.json()["message"]


def test_a_token_with_practice_acts_as_its_users_own_learner(app: FastAPI, db: Session) -> None:
    user = make_user(db, "e@example.org")
    made = make_token(signed_in(app, db, user), scopes=["practice"])
    me = bearer(app, made["token"]).get("/api/v1/me")
    assert me.status_code == 200, me.text
    learner = db.scalar(select(Learner).where(Learner.user_id == user.id))
    assert learner is not None and me.json()["learner_id"] == learner.public_id
    assert me.json()["token"] is None  # no learner bearer that would outlive the API token


def test_a_service_token_acts_in_its_course_only(app: FastAPI, db: Session) -> None:
    user = make_user(db, "f@example.org")
    mine = courses.create_course(db, user.id, "Mine")
    other = courses.create_course(db, user.id, "Other")
    made = make_token(signed_in(app, db, user), scopes=["results:read"], course=mine.slug)
    assert made["token"].startswith("tqs_") and made["course"] == mine.slug
    client = bearer(app, made["token"])
    assert client.get(f"/api/v1/courses/{mine.slug}/learners").status_code == 200
    refused = client.get(f"/api/v1/courses/{other.slug}/learners")
    assert refused.status_code == 403 and "another course" in refused.json()["message"]
    assert client.get("/api/v1/courses").status_code == 403


def test_a_service_token_is_made_only_by_an_owner_of_its_course(app: FastAPI, db: Session) -> None:
    owner = make_user(db, "g@example.org")
    course = courses.create_course(db, owner.id, "Owned")
    stranger = signed_in(app, db, make_user(db, "h@example.org"))
    refused = stranger.client.post(
        "/api/v1/account/tokens",
        json={"name": "x", "scopes": ["results:read"], "course": course.slug},
    )
    assert refused.status_code == 403 and refused.json()["field"] == "course"


def test_unknown_scopes_and_bad_origins_are_refused_with_422_naming_the_field(
    app: FastAPI, db: Session
) -> None:
    owner = signed_in(app, db, make_user(db, "i@example.org"))
    cases: list[tuple[dict[str, Any], str]] = [
        ({"scopes": ["everything"]}, "scopes"),
        ({"scopes": []}, "scopes"),
        ({"scopes": ["practice"], "expires_in_days": 0}, "expires_in_days"),
        ({"scopes": ["practice"], "allowed_origins": ["https://x.org/path"]}, "allowed_origins"),
        ({"scopes": ["practice"], "rate_per_minute": 0}, "rate_per_minute"),
    ]
    for body, field in cases:
        answer = owner.client.post("/api/v1/account/tokens", json={"name": "x", **body})
        assert answer.status_code == 422, (body, answer.text)
        assert field in answer.text, (body, answer.text)
    assert db.scalar(select(ApiToken.id)) is None


def test_last_used_at_is_set_when_the_token_is_used(app: FastAPI, db: Session) -> None:
    owner = signed_in(app, db, make_user(db, "j@example.org"))
    made = make_token(owner, scopes=["practice"])
    assert made["last_used_at"] is None
    assert bearer(app, made["token"]).get("/api/v1/me").status_code == 200
    listed = owner.client.get("/api/v1/account/tokens").json()
    assert listed[0]["last_used_at"] is not None


def test_past_its_rate_limit_a_token_gets_429_with_retry_after(app: FastAPI, db: Session) -> None:
    owner = signed_in(app, db, make_user(db, "k@example.org"))
    made = make_token(owner, scopes=["practice"], rate_per_minute=2)
    client = bearer(app, made["token"])
    assert [client.get("/api/v1/me").status_code for _ in range(2)] == [200, 200]
    limited = client.get("/api/v1/me")
    assert limited.status_code == 429, limited.text
    assert int(limited.headers["retry-after"]) >= 1
    assert "2 requests a minute" in limited.json()["message"]


def test_a_token_cannot_reach_the_account_or_its_tokens(app: FastAPI, db: Session) -> None:
    owner = signed_in(app, db, make_user(db, "l@example.org"))
    made = make_token(owner, scopes=list(["practice", "courses:manage", "content:write"]))
    client = bearer(app, made["token"])
    for method, path in [
        ("GET", "/api/v1/account"),
        ("GET", "/api/v1/account/tokens"),
        ("POST", "/api/v1/account/tokens"),
        ("DELETE", f"/api/v1/account/tokens/{made['public_id']}"),
        ("GET", "/account/tokens"),
    ]:
        answer = client.request(method, path, json={"name": "more", "scopes": ["practice"]})
        assert answer.status_code == 403, (method, path, answer.text)
        assert "browser session" in answer.text
    assert len(owner.client.get("/api/v1/account/tokens").json()) == 1


def test_odd_authorization_headers_are_refused_with_4xx_never_500(app: FastAPI) -> None:
    client = new_client(app)
    for value in [
        "Bearer",
        "Bearer ",
        "Bearer tqp_",
        "Bearer tqp_" + "a" * 10_000,
        "Bearer tqs_" + "é" * 43,
        "Bearer tqp_" + "\u00ff" * 5,
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-token-at-all",
    ]:
        answer = client.get("/api/v1/me", headers={"Authorization": value.encode("latin-1")})
        assert 400 <= answer.status_code < 500 or answer.status_code == 200, (value, answer.text)
        assert answer.status_code != 500
    refused = client.get("/api/v1/me", headers={"Authorization": "Bearer tqp_" + "a" * 10_000})
    assert refused.status_code == 401 and "not a valid token" in refused.json()["message"]


def test_an_admins_token_cannot_do_site_administration(app: FastAPI, db: Session) -> None:
    admin = signed_in(app, db, make_user(db, "root@example.org", admin=True))
    made = make_token(admin, scopes=["content:read", "results:read", "practice"])
    client = bearer(app, made["token"])
    assert admin.client.get("/api/v1/admin/lti/platforms").status_code == 200
    refused = client.get("/api/v1/admin/lti/platforms")
    assert refused.status_code == 403 and "browser session" in refused.json()["message"]


def test_a_practice_token_practises_as_its_users_learner(app: FastAPI, db: Session) -> None:
    user = make_user(db, "m@example.org")
    made = make_token(signed_in(app, db, user), scopes=["practice"])
    client = bearer(app, made["token"])
    started = client.post("/api/v1/sessions", json={"topic": "birnn", "mode": "practice"})
    assert started.status_code == 201, started.text
    assert "set-cookie" not in started.headers
    learner = db.scalar(select(Learner).where(Learner.user_id == user.id))
    assert learner is not None
    mine = db.scalar(select(QuizSession.learner_id).where(QuizSession.learner_id == learner.id))
    assert mine == learner.id
