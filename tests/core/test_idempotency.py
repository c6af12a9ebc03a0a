"""Idempotency-Key (app.core.idempotency): a retried POST is answered with the first answer and
does nothing twice; the key is its caller's alone, bound to one request, and only answers that
a retry would get again are kept. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.attempts.models import Assignment, QuizSession
from app.core.db import utcnow
from app.core.deps import get_database
from app.core.idempotency import (
    ABANDONED,
    Idempotency,
    IdempotencyKey,
    KeyedRequest,
    renew,
)
from tests.assignments.support import make_assignment, make_class
from tests.courses.support import Visitor
from tests.tokens.support import bearer, make_token


def attempts_of(db: Session, assignment: Assignment) -> int:
    db.expire_all()
    query = select(func.count()).select_from(QuizSession)
    return db.scalar(query.where(QuizSession.assignment_id == assignment.id)) or 0


def start(visitor: Visitor, assignment: Assignment, key: str | bytes, **kwargs: Any) -> Any:
    return visitor.client.post(
        f"/api/v1/assignments/{assignment.public_id}/attempts",
        headers={"Idempotency-Key": key},
        **kwargs,
    )


def test_a_retried_start_of_an_attempt_replays_the_first_answer_and_starts_one_attempt(
    app: FastAPI, db: Session
) -> None:
    group = make_class(db, learners=1, prefix="idem1")
    assignment = make_assignment(db, app.state.catalog, group.course)
    learner = group.visitor(app, db, group.learners[0])

    first = start(learner, assignment, "lms-retry-1")
    again = start(learner, assignment, "lms-retry-1")

    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    assert again.status_code == 201  # without the key, the open attempt comes back as 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["content-type"] == first.headers["content-type"]
    assert attempts_of(db, assignment) == 1
    row = db.scalars(select(IdempotencyKey).where(IdempotencyKey.key == "lms-retry-1")).one()
    assert row.status == 201 and row.body == first.content
    assert row.body_hash != hashlib.sha256(b"").hexdigest()  # keyed by the server's secret
    without_key = learner.client.post(f"/api/v1/assignments/{assignment.public_id}/attempts")
    assert without_key.status_code == 200 and "idempotent-replayed" not in without_key.headers


def test_the_same_key_for_another_body_or_path_is_refused_with_422(
    app: FastAPI, db: Session
) -> None:
    group = make_class(db, learners=1, prefix="idem2")
    assignment = make_assignment(db, app.state.catalog, group.course)
    other = make_assignment(db, app.state.catalog, group.course, title="Homework 2")
    learner = group.visitor(app, db, group.learners[0])
    assert start(learner, assignment, "k-1").status_code == 201

    another_body = start(learner, assignment, "k-1", content=b'{"something": "else"}')
    another_path = start(learner, other, "k-1")

    for refused in (another_body, another_path):
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == "Idempotency-Key"
        assert "used for another request" in refused.json()["message"]
    assert attempts_of(db, other) == 0


def test_two_callers_using_the_same_key_do_not_share_it(app: FastAPI, db: Session) -> None:
    group = make_class(db, learners=2, prefix="idem3")
    assignment = make_assignment(db, app.state.catalog, group.course)
    one, two = (group.visitor(app, db, user) for user in group.learners)

    first = start(one, assignment, "the-same-key")
    second = start(two, assignment, "the-same-key")

    assert (first.status_code, second.status_code) == (201, 201)
    assert "idempotent-replayed" not in second.headers
    assert first.json()["id"] != second.json()["id"]
    assert attempts_of(db, assignment) == 2


def test_a_key_that_is_not_1_to_255_printable_ascii_characters_is_refused_naming_the_header(
    app: FastAPI, db: Session
) -> None:
    group = make_class(db, learners=1, prefix="idem4")
    assignment = make_assignment(db, app.state.catalog, group.course)
    learner = group.visitor(app, db, group.learners[0])

    for key in ("", "x" * 256, "caf\u00e9".encode(), b"tab\there"):
        refused = start(learner, assignment, key)
        assert refused.status_code == 422, key
        body = refused.json()
        assert body["field"] == "Idempotency-Key" and "printable ASCII" in body["message"]
    assert attempts_of(db, assignment) == 0
    assert start(learner, assignment, "x" * 255).status_code == 201


def test_only_posts_under_the_api_are_keyed(client: TestClient) -> None:
    headers = {"Idempotency-Key": ""}  # refused on a POST; ignored elsewhere
    assert client.get("/api/v1/topics", headers=headers).status_code == 200
    assert client.get("/healthz", headers=headers).status_code == 200


def tiny_app(
    app: FastAPI, status_codes: list[int], headers: dict[str, str] | None = None
) -> tuple[FastAPI, list[int]]:
    """An API route answering each status in turn, behind the middleware, on the test's
    database: what a route of ours does on a 5xx or a 409 is not for it to choose."""
    calls: list[int] = []
    tiny = FastAPI()
    tiny.state.database = app.dependency_overrides[get_database]()

    @tiny.post("/api/v1/things")
    def make_thing() -> JSONResponse:
        calls.append(1)
        code = status_codes[min(len(calls), len(status_codes)) - 1]
        sent = {"Location": "/x", **(headers or {})}
        return JSONResponse({"call": len(calls)}, status_code=code, headers=sent)

    tiny.add_middleware(Idempotency)
    return tiny, calls


BEARER = {"Authorization": "Bearer an-lms-token"}


def test_a_5xx_or_409_or_429_is_not_kept_so_the_retry_runs_for_real(
    app: FastAPI, db: Session
) -> None:
    tiny, calls = tiny_app(app, [503, 409, 429, 201])
    client = TestClient(tiny)
    headers = {**BEARER, "Idempotency-Key": "retry-me"}

    answers = [client.post("/api/v1/things", headers=headers) for _ in range(5)]

    assert [a.status_code for a in answers] == [503, 409, 429, 201, 201]
    assert len(calls) == 4
    assert answers[4].json() == {"call": 4} and answers[4].headers["location"] == "/x"
    assert answers[4].headers["idempotent-replayed"] == "true"


def test_a_4xx_is_kept_and_replayed(app: FastAPI, db: Session) -> None:
    tiny, calls = tiny_app(app, [400, 201])
    client = TestClient(tiny)
    headers = {**BEARER, "Idempotency-Key": "bad-once"}

    answers = [client.post("/api/v1/things", headers=headers) for _ in range(2)]

    assert [a.status_code for a in answers] == [400, 400] and len(calls) == 1
    assert answers[1].headers["idempotent-replayed"] == "true"


def test_an_answer_holding_a_credential_or_setting_a_cookie_is_not_kept(
    app: FastAPI, db: Session
) -> None:
    for n, header in enumerate([{"Cache-Control": "no-store"}, {"Set-Cookie": "a=b; Path=/"}]):
        tiny, calls = tiny_app(app, [201], header)
        client = TestClient(tiny)
        key = {**BEARER, "Idempotency-Key": f"secret-{n}"}

        answers = [client.post("/api/v1/things", headers=key) for _ in range(2)]

        assert [a.status_code for a in answers] == [201, 201] and len(calls) == 2
        assert "idempotent-replayed" not in answers[1].headers
        db.expire_all()
        assert (
            db.scalar(select(IdempotencyKey).where(IdempotencyKey.key == key["Idempotency-Key"]))
            is None
        )


def claim_row(db: Session, *, age: timedelta, key: str = "running") -> None:
    """A request of BEARER's under `key` that has not finished, started `age` ago."""
    started = utcnow() - age
    db.add(
        IdempotencyKey(
            caller=hashlib.sha256(b"authorization:" + BEARER["Authorization"].encode()).hexdigest(),
            key=key,
            method="POST",
            path="/api/v1/things",
            body_hash=hmac.new(b"", b"", hashlib.sha256).hexdigest(),  # no settings: no key
            created_at=started,
            expires_at=started + timedelta(hours=24),
        )
    )
    db.flush()


def test_a_repeat_while_the_first_runs_gets_409_with_retry_after_and_runs_nothing(
    app: FastAPI, db: Session
) -> None:
    tiny, calls = tiny_app(app, [201])
    claim_row(db, age=timedelta(seconds=2))

    answer = TestClient(tiny).post(
        "/api/v1/things", headers={**BEARER, "Idempotency-Key": "running"}
    )

    assert answer.status_code == 409 and answer.headers["retry-after"] == "1"
    assert answer.json()["code"] == "idempotency_key_in_use" and calls == []


def test_a_claim_left_by_a_request_that_never_finished_lapses(app: FastAPI, db: Session) -> None:
    tiny, calls = tiny_app(app, [201])
    claim_row(db, age=timedelta(minutes=10))

    answer = TestClient(tiny).post(
        "/api/v1/things", headers={**BEARER, "Idempotency-Key": "running"}
    )

    assert answer.status_code == 201 and len(calls) == 1


def test_a_claim_whose_holder_stopped_renewing_it_lapses_within_a_minute(
    app: FastAPI, db: Session
) -> None:
    tiny, calls = tiny_app(app, [201])
    claim_row(db, age=ABANDONED + timedelta(seconds=1))

    answer = TestClient(tiny).post(
        "/api/v1/things", headers={**BEARER, "Idempotency-Key": "running"}
    )

    assert answer.status_code == 201 and len(calls) == 1


def test_renewing_a_claim_keeps_a_long_request_its_key(app: FastAPI, db: Session) -> None:
    claim_row(db, age=ABANDONED + timedelta(seconds=1))
    request = KeyedRequest(
        hashlib.sha256(b"authorization:" + BEARER["Authorization"].encode()).hexdigest(),
        "running",
        "POST",
        "/api/v1/things",
        "",
    )

    renew(db, request, utcnow())
    tiny, calls = tiny_app(app, [201])
    answer = TestClient(tiny).post(
        "/api/v1/things", headers={**BEARER, "Idempotency-Key": "running"}
    )

    assert answer.status_code == 409 and calls == []


def test_a_key_is_forgotten_after_24_hours(app: FastAPI, db: Session) -> None:
    tiny, calls = tiny_app(app, [201])
    client = TestClient(tiny)
    headers = {**BEARER, "Idempotency-Key": "old"}
    assert client.post("/api/v1/things", headers=headers).status_code == 201
    db.expire_all()
    row = db.scalars(select(IdempotencyKey).where(IdempotencyKey.key == "old")).one()
    assert row.status == 201
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.flush()

    again = client.post("/api/v1/things", headers=headers)

    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert len(calls) == 2


def test_the_openapi_document_offers_the_header_on_every_post(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    posts = [
        (path, methods["post"])
        for path, methods in spec["paths"].items()
        if path.startswith("/api/v1/") and "post" in methods
    ]
    assert len(posts) > 10
    for path, operation in posts:
        names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        assert names.count("Idempotency-Key") == 1, path
        assert "422" in operation["responses"], path


def test_a_keyed_body_over_the_size_limit_is_a_413_in_the_error_shape(
    client: TestClient, app: FastAPI
) -> None:
    too_big = b"x" * (app.state.settings.max_body_bytes + 1)

    refused = client.post(
        "/api/v1/sessions",
        content=too_big,
        headers={"Idempotency-Key": "big", "Content-Type": "application/json"},
    )

    assert refused.status_code == 413
    assert refused.json()["code"] == "content_too_large"


def test_a_stored_answer_is_not_replayed_to_a_token_revoked_since(
    app: FastAPI, db: Session
) -> None:
    group = make_class(db, learners=1, prefix="idem-revoked")
    assignment = make_assignment(db, app.state.catalog, group.course)
    learner = group.visitor(app, db, group.learners[0])
    made = make_token(learner, scopes=["practice"])
    lms = bearer(app, made["token"])
    url = f"/api/v1/assignments/{assignment.public_id}/attempts"
    assert lms.post(url, headers={"Idempotency-Key": "k-1"}).status_code == 201

    revoked = learner.client.delete(f"/api/v1/account/tokens/{made['public_id']}")
    assert revoked.status_code in (200, 204), revoked.text
    again = lms.post(url, headers={"Idempotency-Key": "k-1"})

    assert again.status_code == 401 and "revoked" in again.text
    assert "idempotent-replayed" not in again.headers
