"""Attempts at an assignment, on both databases: one open attempt whatever the tabs, the
allowance, the dates, a deadline the server keeps, feedback when the rules say, and the
shipped Test mode as its topic's default assignment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.attempts import assignments, results
from app.attempts.assignments import ClosedError
from app.attempts.models import Assignment, QuizSession
from app.attempts.records import get_session
from app.bank.schema import ChoiceQuestion
from app.core.db import add_once, utcnow
from app.learners.models import Learner
from app.questions.catalog import Catalog
from tests.api.test_sessions_api import bank_question, question_at, right_answer, wrong_answer
from tests.assignments.support import SHIPPED, Class, attempt, make_assignment, make_class
from tests.courses.support import Visitor


def choice_refs(catalog: Catalog, count: int) -> list[str]:
    """The shipped topic's first choice questions, as rules name them (no code to run)."""
    found = [q for q in catalog.topic(SHIPPED).questions if isinstance(q.model, ChoiceQuestion)]
    return [f"{SHIPPED}/{q.slug}" for q in found[:count]]


@pytest.fixture
def group(db: Session) -> Class:
    return make_class(db, learners=2, prefix="att")


def learner_and_client(
    app: FastAPI, db: Session, group: Class, n: int = 0
) -> tuple[Learner, Visitor]:
    user = group.learners[n]
    return group.learner_of(db, user), group.visitor(app, db, user)


def answer(client: TestClient, session_id: str, position: int, right: bool) -> Any:
    question = bank_question(client, question_at(client, session_id, position)["question"])
    given = right_answer(question) if right else wrong_answer(question)
    body = {"position": position, "answer": given}
    return client.post(f"/api/v1/sessions/{session_id}/answers", json=body)


def test_starting_again_with_an_attempt_open_resumes_it_and_a_new_one_follows_a_finish(
    app: FastAPI, db: Session, group: Class
) -> None:
    catalog = app.state.catalog
    assignment = make_assignment(db, catalog, group.course)
    learner, _ = learner_and_client(app, db, group)
    first = attempt(db, catalog, assignment, learner, seed=1)
    again = attempt(db, catalog, assignment, learner, seed=2)  # a second tab
    assert again.public_id == first.public_id and again.version_ids == first.version_ids
    results.finish_test(db, catalog, first)
    second = attempt(db, catalog, assignment, learner, seed=3)
    assert second.attempt == 2 and second.public_id != first.public_id


def test_the_allowance_is_kept_and_the_refusal_says_how_many_were_used(
    app: FastAPI, db: Session, group: Class
) -> None:
    catalog = app.state.catalog
    assignment = make_assignment(db, catalog, group.course, attempts_allowed=1)
    learner, _ = learner_and_client(app, db, group)
    results.finish_test(db, catalog, attempt(db, catalog, assignment, learner))
    with pytest.raises(ClosedError) as refused:
        attempt(db, catalog, assignment, learner)
    assert refused.value.status == 409 and "1 of 1 used" in refused.value.message
    other, _ = learner_and_client(app, db, group, 1)
    assert attempt(db, catalog, assignment, other).attempt == 1  # per learner


def test_an_assignment_not_yet_open_or_closed_starts_no_attempt(
    app: FastAPI, db: Session, group: Class
) -> None:
    catalog, now = app.state.catalog, utcnow()
    learner, _ = learner_and_client(app, db, group)
    later = make_assignment(db, catalog, group.course, opens_at=now + timedelta(hours=1))
    closed = make_assignment(db, catalog, group.course, closes_at=now - timedelta(minutes=1))
    for assignment, words in ((later, "opens at"), (closed, "closed at")):
        with pytest.raises(ClosedError) as refused:
            attempt(db, catalog, assignment, learner)
        assert words in refused.value.message
    assert not db.scalars(select(QuizSession).where(QuizSession.learner_id == learner.id)).all()


def test_the_server_refuses_answers_past_the_time_limit_and_submits_the_attempt_at_it(
    app: FastAPI, db: Session, group: Class
) -> None:
    catalog = app.state.catalog
    assignment = make_assignment(
        db, catalog, group.course, questions=choice_refs(catalog, 3), draws=[], time_limit_minutes=5
    )
    learner, visitor = learner_and_client(app, db, group)
    started = utcnow() - timedelta(minutes=4, seconds=50)  # ten seconds left
    session = attempt(db, catalog, assignment, learner, now=started)
    assert session.deadline_at == started + timedelta(minutes=5)
    view = visitor.client.get(f"/api/v1/sessions/{session.public_id}").json()
    assert 0 < view["seconds_left"] <= 10 and view["assignment"] == assignment.public_id
    assert answer(visitor.client, session.public_id, 1, right=True).status_code == 200
    db.execute(  # the clock moves on: a minute past the deadline
        QuizSession.__table__.update()
        .where(QuizSession.id == session.id)
        .values(
            started_at=started - timedelta(minutes=1), deadline_at=utcnow() - timedelta(minutes=1)
        )
    )
    late = answer(visitor.client, session.public_id, 2, right=True)
    assert late.status_code == 409 and "time is up" in late.json()["message"]
    done = get_session(db, learner.public_id, session.public_id)
    assert done.finished_at == done.deadline_at  # submitted at its deadline, not when seen
    assert done.score == pytest.approx(100 / 3, abs=0.1)  # the one answer saved in time


def test_an_attempt_left_open_counts_at_its_deadline_when_results_are_read(
    app: FastAPI, db: Session, group: Class
) -> None:
    catalog = app.state.catalog
    assignment = make_assignment(db, catalog, group.course, time_limit_minutes=1)
    learner, _ = learner_and_client(app, db, group)
    session = attempt(db, catalog, assignment, learner, now=utcnow() - timedelta(hours=1))
    assert assignments.expire_assignment(db, assignment) == 1
    row = db.get(QuizSession, session.id)
    assert row is not None and row.finished_at is not None and row.score == 0.0
    assert assignments.expire_assignment(db, assignment) == 0  # once


def test_a_second_tab_saving_the_same_question_keeps_one_answer_the_latest(
    app: FastAPI, db: Session, group: Class
) -> None:
    catalog = app.state.catalog
    assignment = make_assignment(
        db, catalog, group.course, questions=choice_refs(catalog, 2), draws=[]
    )
    learner, visitor = learner_and_client(app, db, group)
    session = attempt(db, catalog, assignment, learner)
    other_tab = group.visitor(app, db, group.learners[0]).client
    assert answer(visitor.client, session.public_id, 1, right=False).status_code == 200
    assert answer(other_tab, session.public_id, 1, right=True).status_code == 200
    result = results.finish_test(db, catalog, get_session(db, learner.public_id, session.public_id))
    assert [item.correct for item in result.review] == [True, False]


@pytest.mark.parametrize(
    ("feedback", "immediate", "shown"),
    [("immediately", True, True), ("after_submission", False, True), ("never", False, False)],
)
def test_feedback_shows_when_the_assignment_says_and_staff_always_see_the_review(
    app: FastAPI, db: Session, group: Class, feedback: str, immediate: bool, shown: bool
) -> None:
    catalog = app.state.catalog
    assignment = make_assignment(
        db, catalog, group.course, questions=choice_refs(catalog, 2), draws=[], feedback=feedback
    )
    learner, visitor = learner_and_client(app, db, group)
    session = attempt(db, catalog, assignment, learner)
    ack = answer(visitor.client, session.public_id, 1, right=True).json()
    assert (ack["correct"] is True) is immediate and (ack["score"] is None) is not immediate
    finished = visitor.client.post(f"/api/v1/sessions/{session.public_id}/finish").json()
    assert finished["percent"] == 50.0  # the score shows, whatever the rule
    assert finished["review_shown"] is shown and bool(finished["review"]) is shown
    assert (finished["review_note"] is None) is shown
    page = visitor.client.get(f"/tests/{session.public_id}/result").text
    assert ("Review of every question" in page) is shown
    record = get_session(db, learner.public_id, session.public_id)
    assert len(results.test_result(db, catalog, record, staff=True).review) == 2


def test_an_assignment_that_keeps_the_files_order_shows_options_unshuffled(
    app: FastAPI, db: Session, group: Class
) -> None:
    catalog = app.state.catalog
    refs = choice_refs(catalog, 4)
    assignment = make_assignment(
        db, catalog, group.course, questions=refs, draws=[], shuffle_options=False
    )
    learner, visitor = learner_and_client(app, db, group)
    session = attempt(db, catalog, assignment, learner)
    for position, ref in enumerate(refs, start=1):
        shown = question_at(visitor.client, session.public_id, position)["question"]["options"]
        model = catalog.question(ref.split("/")[1]).model
        assert [o["text"] for o in shown] == [o.text for o in model.options]


def test_the_shipped_test_is_an_attempt_at_its_topics_one_default_assignment(
    client: TestClient, db: Session
) -> None:
    first = client.post("/api/v1/sessions", json={"topic": SHIPPED, "mode": "test"}).json()
    assert first["assignment"] is not None and first["attempt"] == 1
    assert first["deadline_at"] is None and first["total"] == 10
    client.post(f"/api/v1/sessions/{first['id']}/finish")
    second = client.post("/api/v1/sessions", json={"topic": SHIPPED, "mode": "test"}).json()
    assert second["assignment"] == first["assignment"] and second["attempt"] == 2
    defaults = db.scalars(select(Assignment).where(Assignment.is_default)).all()
    assert [a.public_id for a in defaults] == [first["assignment"]]


def test_a_learners_list_shows_an_attempt_whose_time_ran_out_as_submitted(
    app: FastAPI, db: Session, group: Class
) -> None:
    catalog = app.state.catalog
    assignment = make_assignment(db, catalog, group.course, time_limit_minutes=1)
    learner, visitor = learner_and_client(app, db, group)
    session = attempt(db, catalog, assignment, learner, now=utcnow() - timedelta(hours=1))
    listed = visitor.client.get("/api/v1/sessions", params={"mode": "test"}).json()["items"]
    assert [(s["id"], s["finished_at"] is not None) for s in listed] == [(session.public_id, True)]


def test_the_database_keeps_one_attempt_per_number_whatever_the_race(
    app: FastAPI, db: Session, group: Class
) -> None:
    catalog = app.state.catalog
    assignment = make_assignment(db, catalog, group.course)
    learner, _ = learner_and_client(app, db, group)
    first = attempt(db, catalog, assignment, learner)
    twin = QuizSession(
        learner_id=learner.id,
        topic_id=first.topic_id,
        mode="test",
        version_ids=first.version_ids,
        assignment_id=assignment.id,
        attempt=first.attempt,  # what a second tab's insert would hold
    )
    assert add_once(db, twin) is False


def test_the_test_page_shows_the_time_left_and_an_immediate_verdict_in_words(
    app: FastAPI, db: Session, group: Class
) -> None:
    catalog = app.state.catalog
    assignment = make_assignment(
        db,
        catalog,
        group.course,
        questions=choice_refs(catalog, 2),
        draws=[],
        time_limit_minutes=30,
        feedback="immediately",
    )
    learner, visitor = learner_and_client(app, db, group)
    session = attempt(db, catalog, assignment, learner)
    page = visitor.client.get(f"/tests/{session.public_id}/1")
    assert "Time left: <span" in page.text and "submitted by itself at" in page.text
    question = bank_question(visitor.client, page.text)
    form = {"answer": right_answer(question), "go": "next"}
    saved = visitor.form(f"/tests/{session.public_id}/1", form, follow_redirects=True)
    assert "Your answer to question 1 is saved: correct." in saved.text
