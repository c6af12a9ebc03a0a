"""Bad input to the HTML pages and their forms is a 4xx error page, never a 500; it writes
nothing, and the learner's pages keep working after it. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.attempts.models import Answer, QuizSession
from tests.hardening.support import (
    HUGE,
    LONE_SURROGATE,
    PAST_INT32,
    TOO_LONG,
    assert_refused,
    csrf,
    hostile_form,
    position_of,
    session_with,
    start,
)


def count(db: Session, model: type[Answer] | type[QuizSession]) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def token(client: TestClient) -> str:
    return csrf(client.get("/topics/birnn/practice").text)


def pages_still_work(client: TestClient) -> None:
    for page in ("/", "/topics/birnn", "/topics/birnn/practice", "/topics/birnn/mistakes"):
        assert client.get(page).status_code == 200, page
    assert client.get("/progress").status_code == 200


@pytest.mark.parametrize("answer_id", [HUGE, PAST_INT32])
def test_an_answer_id_past_the_database_integers_on_the_practice_page_is_refused_with_422(
    client: TestClient, answer_id: int
) -> None:
    session = start(client, mode="practice")
    assert_refused(client.get(f"/practice/{session['id']}/1?answer={answer_id}"))
    assert client.get(f"/practice/{session['id']}/1").status_code == 200
    pages_still_work(client)


def test_a_practice_tag_past_its_column_is_refused_with_422(
    client: TestClient, db: Session
) -> None:
    before = count(db, QuizSession)
    form = {"csrf_token": token(client), "tag": TOO_LONG}
    assert_refused(client.post("/topics/birnn/practice", data=form, follow_redirects=False))
    assert count(db, QuizSession) == before
    pages_still_work(client)


@pytest.mark.parametrize("mode", ["test", "practice", "mistakes"])
def test_a_topic_slug_past_its_column_is_refused_with_422(
    client: TestClient, db: Session, mode: str
) -> None:
    before = count(db, QuizSession)
    form = {"csrf_token": token(client)}
    url = f"/topics/{TOO_LONG}/{mode}"
    assert_refused(client.post(url, data=form, follow_redirects=False))
    assert_refused(client.get(url))
    assert count(db, QuizSession) == before
    pages_still_work(client)


GETS = ["/practice/%00/1", "/tests/%00/1", "/tests/%00/result", "/lab/runs/%00"]
GETS += ["/lab/runs/%00/live", "/topics/%00", "/topics/%00/learn", "/topics/%00/mistakes"]
POSTS = ["/practice/%00/1", "/practice/%00/1/run", "/tests/%00/1", "/lab/runs/%00/cancel"]
POSTS += ["/topics/%00/test", "/topics/%00/practice", "/topics/%00/mistakes", "/topics/%00/lab"]


@pytest.mark.parametrize("url", GETS)
def test_a_nul_byte_in_an_id_of_a_page_is_refused_with_422(client: TestClient, url: str) -> None:
    # PostgreSQL cannot hold NUL in text: the lookup itself failed there.
    start(client, mode="practice")
    assert_refused(client.get(url))


@pytest.mark.parametrize("url", POSTS)
def test_a_nul_byte_in_an_id_of_a_form_is_refused_with_422(client: TestClient, url: str) -> None:
    form = {"csrf_token": token(client), "answer": "1", "code": "print(1)"}  # all else valid
    assert_refused(client.post(url, data=form, follow_redirects=False))


@pytest.mark.parametrize("field", ["answer", "code"])
def test_a_lone_surrogate_in_a_form_answer_is_refused_and_not_stored(
    client: TestClient, db: Session, field: str
) -> None:
    session = start(client, mode="practice")
    kind = "short_text" if field == "answer" else "code"
    url = f"/practice/{session['id']}/{position_of(client, session, kind)}"
    before = count(db, Answer)
    form = hostile_form({"csrf_token": token(client), "answer": f"h_n {LONE_SURROGATE}"})
    if field == "code":  # the Run button's form, then the code as the answer
        run = hostile_form({"csrf_token": token(client), "code": f"print(1) {LONE_SURROGATE}"})
        assert_refused(client.post(f"{url}/run", **run))
    assert_refused(client.post(url, **form, follow_redirects=False))
    assert count(db, Answer) == before
    assert client.get(url).status_code == 200
    pages_still_work(client)


def test_a_lone_surrogate_in_a_test_answer_is_refused_and_the_result_still_shows(
    client: TestClient, db: Session
) -> None:
    session, position = session_with(client, "test", "short_text")
    url = f"/tests/{session['id']}/{position}"
    before = count(db, Answer)
    form = {"csrf_token": csrf(client.get(url).text), "answer": LONE_SURROGATE, "go": "finish"}
    assert_refused(client.post(url, **hostile_form(form)))
    assert count(db, Answer) == before
    finished = client.post(url, data={**form, "answer": "", "go": "finish"})
    assert finished.status_code == 200 and "/summary" in str(finished.url)
    assert "0 of 10 questions answered" in finished.text


@pytest.mark.parametrize("forged", ["\u00e9" * 64, LONE_SURROGATE])
def test_a_csrf_token_that_is_not_ours_is_refused_with_403_whatever_its_characters(
    client: TestClient, forged: str
) -> None:
    response = client.post("/topics/birnn/test", **hostile_form({"csrf_token": forged}))
    assert response.status_code == 403
