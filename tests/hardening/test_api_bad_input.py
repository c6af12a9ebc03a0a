"""Bad input to the JSON API is a 422 in the error shape, never a 500; it writes nothing, and
the learner's views keep working after it. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from app.attempts.models import Answer, QuizSession
from app.core import handlers
from app.core.db import Database
from app.core.deps import SessionDep
from app.core.routing import UnitOfWorkRoute
from app.lab.models import LabRun
from app.learners.models import Learner
from tests.hardening.support import (
    HUGE,
    PAST_INT32,
    TOO_LONG,
    assert_refused,
    post_json_text,
    session_with,
    start,
)


def answers(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Answer)) or 0


def views_still_work(client: TestClient, session_id: str) -> None:
    """What used to answer 500 for good once a bad answer was stored."""
    assert client.get(f"/api/v1/sessions/{session_id}").status_code == 200
    assert client.get("/api/v1/topics/birnn/mistakes").status_code == 200
    assert client.get("/topics/birnn/mistakes").status_code == 200
    assert client.get("/api/v1/progress").status_code == 200


@pytest.mark.parametrize("answer_id", [HUGE, PAST_INT32])
def test_an_answer_id_past_the_database_integers_is_refused_with_422(
    client: TestClient, answer_id: int
) -> None:
    session = start(client, mode="practice")
    response = client.get(f"/api/v1/sessions/{session['id']}/answers/{answer_id}")
    assert_refused(response, "answer_id")
    views_still_work(client, session["id"])


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/lab/runs",
        "/api/v1/progress",
        "/api/v1/topics",
        "/api/v1/topics/birnn/questions",
        "/api/v1/topics/birnn/mistakes",
    ],
)
@pytest.mark.parametrize("offset", [HUGE, PAST_INT32])
def test_a_list_offset_past_the_database_integers_is_refused_with_422(
    client: TestClient, path: str, offset: int
) -> None:
    start(client, mode="practice")  # a learner with a row: their lists reach the database
    assert_refused(client.get(path, params={"offset": offset}), "offset")
    if "/lab/" not in path:  # the lab reads in sessions of its own: see test_lab_bad_input
        assert client.get(path).status_code == 200


SESSION_ROUTES = ["", "/questions/1", "/answers", "/answers/1", "/finish", "/result"]
LAB_RUN_ROUTES = ["", "/events", "/cancel"]
POSTS = ("/answers", "/finish", "/cancel")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        *((f"/api/v1/sessions/abc%00def{route}", "session_id") for route in SESSION_ROUTES),
        *((f"/api/v1/lab/runs/%00{route}", "run_id") for route in LAB_RUN_ROUTES),
        ("/api/v1/topics/%00", "slug"),
        ("/api/v1/topics/bir%00nn/questions", "slug"),
        ("/api/v1/topics/%00/mistakes", "slug"),
        ("/api/v1/questions/%00", "question_id"),
    ],
)
def test_a_nul_byte_in_an_id_is_refused_with_422(client: TestClient, path: str, field: str) -> None:
    # PostgreSQL cannot hold NUL in text: the lookup itself failed there.
    start(client, mode="practice")
    if path.endswith(POSTS):
        response = client.post(path, json={"position": 1, "answer": "A"})
    else:
        response = client.get(path)
    assert_refused(response, field)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ('{"topic": "\\ud800", "mode": "practice"}', "topic"),
        ('{"topic": "birnn", "mode": "practice", "tag": "\\ud800"}', "tag"),
        ('{"topic": "bir\\u0000nn", "mode": "test"}', "topic"),
        (f'{{"topic": "birnn", "mode": "practice", "tag": "{TOO_LONG}"}}', "tag"),
    ],
)
def test_a_topic_or_tag_that_no_column_holds_is_refused_with_422(
    client: TestClient, db: Session, payload: str, field: str
) -> None:
    before = db.scalar(select(func.count()).select_from(QuizSession))
    assert_refused(post_json_text(client, "/api/v1/sessions", payload), field)
    assert db.scalar(select(func.count()).select_from(QuizSession)) == before


@pytest.mark.parametrize("mode", ["practice", "test"])
def test_a_lone_surrogate_in_a_text_answer_is_refused_and_not_stored(
    client: TestClient, db: Session, mode: str
) -> None:
    session, position = session_with(client, mode, "short_text")
    before = answers(db)
    url = f"/api/v1/sessions/{session['id']}/answers"
    body = f'{{"position": {position}, "answer": "h_n[-1] \\ud800"}}'
    assert_refused(post_json_text(client, url, body), "answer")
    assert answers(db) == before
    views_still_work(client, session["id"])
    if mode == "test":  # the finished test's result used to answer 500 for good
        assert client.post(f"/api/v1/sessions/{session['id']}/finish").status_code == 200
        assert client.get(f"/api/v1/sessions/{session['id']}/result").status_code == 200


def test_a_lone_surrogate_in_a_code_answer_is_refused_and_not_stored(
    client: TestClient, db: Session
) -> None:
    session, position = session_with(client, "practice", "code")
    before = answers(db)
    url = f"/api/v1/sessions/{session['id']}/answers"
    body = f'{{"position": {position}, "answer": "x = 1  # \\ud800"}}'
    assert_refused(post_json_text(client, url, body), "answer")
    assert answers(db) == before
    views_still_work(client, session["id"])


@pytest.mark.parametrize("code", ["print(1)  # \\ud800", "print(1)  # \\u0000"])
def test_code_to_run_that_is_no_text_is_refused_with_422(client: TestClient, code: str) -> None:
    response = post_json_text(client, "/api/v1/runs", f'{{"code": "{code}"}}')
    assert_refused(response, "code")


@pytest.mark.parametrize("code", ["class Model: pass  # \\ud800", "class Model: pass  # \\u0000"])
def test_lab_code_that_no_text_column_holds_is_refused_and_not_stored(
    client: TestClient, db: Session, code: str
) -> None:
    before = db.scalar(select(func.count()).select_from(LabRun))
    response = post_json_text(client, "/api/v1/lab/runs", f'{{"code": "{code}"}}')
    assert_refused(response, "code")
    assert db.scalar(select(func.count()).select_from(LabRun)) == before


def test_a_value_the_database_refuses_is_a_422_naming_it_and_nothing_is_written(
    connection: Connection, db: Session
) -> None:
    """The safety net under the bounds: a value one of them missed is a 4xx in the error shape,
    and the request's transaction is rolled back."""
    app = FastAPI()
    handlers.register(app)
    app.state.database = Database(
        sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
    )
    router = APIRouter(route_class=UnitOfWorkRoute)

    @router.post("/api/v1/probe")
    def probe(db: SessionDep) -> dict[str, str]:
        db.add(Learner(public_id="written-then-refused"))
        db.flush()
        db.get(Answer, HUGE)  # past every database's integers
        return {}

    app.include_router(router)
    response = TestClient(app).post("/api/v1/probe")
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == 422 and body["code"] == "invalid_value"
    assert "cannot be stored" in body["message"] and body["field"] is None
    assert db.scalar(select(Learner).where(Learner.public_id == "written-then-refused")) is None
