"""Each request is one transaction (app.core.routing), and an answer that waits on the code
runner is two: one before the run, one after it, never one held open across it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, event, func, select
from sqlalchemy.orm import Session, SessionTransaction
from starlette.testclient import TestClient

from app.attempts.models import Answer
from app.bank.schema import AnyQuestion, CodeQuestion
from app.core import refreshed
from tests.api.test_sessions_api import bank_question, right_answer, start
from tests.pages.test_pages_without_js import as_form, csrf


@pytest.fixture
def transactions(connection: Connection) -> Iterator[list[Session]]:
    """Every outermost session transaction begun on the test's connection while the test runs
    (there they are savepoints; a savepoint a service opens inside one is not counted). The
    app's own background work (the outbox's poll) has connections of its own: not counted.
    Nor is a read of a value cached per process (app.core.refreshed: the CORS origins, the
    LMSs that may frame pages), which whichever request finds it stale makes: every 10 s, or
    for 2 s after any change to it, so now and then during the request a test makes."""
    begun: list[Session] = []

    def refreshing(session: Session) -> bool:
        return session.info.get("purpose") == refreshed.PURPOSE

    def count(session: Session, transaction: SessionTransaction, *_: Any) -> None:
        if not transaction.nested and session.bind is connection and not refreshing(session):
            begun.append(session)

    event.listen(Session, "after_begin", count)
    yield begun
    event.remove(Session, "after_begin", count)


def _position_of(
    client: TestClient, session: dict[str, Any], code: bool
) -> tuple[int, AnyQuestion]:
    for position in range(1, session["total"] + 1):
        item = client.get(f"/api/v1/sessions/{session['id']}/questions/{position}").json()
        question = bank_question(client, item["question"])
        if isinstance(question, CodeQuestion) == code:
            return position, question
    raise AssertionError(f"no {'code' if code else 'data'} question in this session")


@pytest.mark.parametrize("go", ["next", "finish"])
def test_saving_a_test_answer_from_the_page_is_one_transaction(
    client: TestClient, transactions: list[Session], go: str
) -> None:
    session = start(client, mode="test")
    position, question = _position_of(client, session, code=False)
    page = client.get(f"/tests/{session['id']}/{position}")
    form = {"csrf_token": csrf(page.text), "go": go, "answer": as_form(right_answer(question))}
    transactions.clear()
    response = client.post(f"/tests/{session['id']}/{position}", data=form, follow_redirects=False)
    assert response.status_code == 303
    assert len(transactions) == 1


def test_a_practice_answer_through_the_api_is_one_transaction(
    client: TestClient, transactions: list[Session]
) -> None:
    session = start(client, mode="practice")
    position, question = _position_of(client, session, code=False)
    transactions.clear()
    url = f"/api/v1/sessions/{session['id']}/answers"
    response = client.post(url, json={"position": position, "answer": right_answer(question)})
    assert response.status_code == 200, response.text
    assert response.json()["correct"] is True
    assert len(transactions) == 1


def test_a_code_answer_in_a_test_is_two_transactions_around_its_run(
    client: TestClient, transactions: list[Session]
) -> None:
    for _ in range(20):  # a test draws its questions at random: find one with a code question
        session = start(client, mode="test")
        try:
            position, question = _position_of(client, session, code=True)
        except AssertionError:
            client.post(f"/api/v1/sessions/{session['id']}/finish")  # a new draw, not the same
            continue
        transactions.clear()
        url = f"/api/v1/sessions/{session['id']}/answers"
        response = client.post(url, json={"position": position, "answer": right_answer(question)})
        assert response.status_code == 200, response.text
        assert response.json()["answered_count"] == 1
        assert len(transactions) == 2
        return
    raise AssertionError("no test drew a code question in 20 tries")


def test_untouched_starter_code_is_no_attempt_through_the_api(
    client: TestClient, db: Session
) -> None:
    session = start(client, mode="practice")
    position, question = _position_of(client, session, code=True)
    assert isinstance(question, CodeQuestion)
    before = db.scalar(select(func.count()).select_from(Answer))
    url = f"/api/v1/sessions/{session['id']}/answers"
    as_sent = question.starter.replace("\n", "\r\n")
    response = client.post(url, json={"position": position, "answer": as_sent})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_answer" and "starter code unchanged" in body["message"]
    assert db.scalar(select(func.count()).select_from(Answer)) == before
