"""A learner reports a problem with a question of their own session (practice or a test), on
SQLite and PostgreSQL: the report keeps the question as they saw it; anyone else's session is
unknown; bad input is refused naming the field; a second report joins the open thread."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.attempts.models import QuizSession
from app.core.markdown import render
from app.questions.models import QuestionVersion
from app.reports.models import ProblemReport, ReportMessage
from app.reports.schemas import MESSAGE_MAX
from tests.assignments.support import attempt, make_assignment
from tests.courses.support import anonymous
from tests.reports.support import answered, file, staffed_course

ANSWERS = {
    "single_choice": "A",
    "multiple_select": ["A"],
    "numeric": 3,
    "tensor_shape": "2, 3",
    "short_text": "x",
}


def practise_and_answer(client: TestClient) -> tuple[str, int, dict[str, Any]]:
    """A practice session of the shipped bank, its first question that is not code answered."""
    started = client.post("/api/v1/sessions", json={"topic": "birnn", "mode": "practice"})
    session = started.json()["id"]
    for position in range(1, started.json()["total"] + 1):
        shown = client.get(f"/api/v1/sessions/{session}/questions/{position}").json()
        kind = shown["question"]["type"]
        if kind in ANSWERS:
            body = {"position": position, "answer": ANSWERS[kind]}
            assert client.post(f"/api/v1/sessions/{session}/answers", json=body).status_code == 200
            return session, position, shown["question"]
    raise AssertionError("no question to answer without code")


def test_a_learner_reports_a_practice_question_as_they_saw_it(
    client: TestClient, db: Session, app: FastAPI
) -> None:
    session, position, question = practise_and_answer(client)
    filed = client.post(
        "/api/v1/reports",
        json={"session": session, "position": position, "kind": "unclear", "text": "Which axis?"},
    )
    assert filed.status_code == 201, filed.text
    out = filed.json()
    assert out["added_to_existing"] is False and out["status"] == "open"
    assert out["question"] == question["id"] and out["kind"] == "unclear"
    assert [m["body"] for m in out["messages"]] == ["Which axis?"]
    report = db.scalar(select(ProblemReport).where(ProblemReport.public_id == out["id"]))
    assert report is not None
    version = db.get(QuestionVersion, report.version_id)
    assert version is not None and report.seed == version.seed
    assert report.course_id is None, "a shipped question: the site's administrators answer it"
    assert report.given is not None and report.position == position
    assert str(render(app.state.catalog.version(db, report.version_id).prompt)) in report.rendered
    assert report.learner_id is not None and report.exception_type is None
    mine = client.get("/api/v1/reports").json()
    assert [r["id"] for r in mine["items"]] == [out["id"]]


def test_a_learner_reports_a_question_of_their_test_attempt_with_its_saved_answer(
    app: FastAPI, db: Session
) -> None:
    staffed = staffed_course(db)
    catalog = app.state.catalog
    assignment = make_assignment(db, catalog, staffed.klass.course)
    learner_user = staffed.klass.learners[1]
    record = attempt(db, catalog, assignment, staffed.klass.learner_of(db, learner_user))
    session = db.scalar(select(QuizSession).where(QuizSession.id == record.id))
    assert session is not None
    answered(db, session, 2, "B")
    visitor = staffed.visitor(app, db, learner_user)
    filed = file(visitor, record.public_id, 2, kind="typo")
    assert filed.status_code == 201, filed.text
    report = db.scalar(select(ProblemReport).where(ProblemReport.public_id == filed.json()["id"]))
    assert report is not None
    assert report.version_id == record.version_ids[1] and report.given == "B"
    assert report.session_id == record.id and filed.json()["session"] == record.public_id
    assert filed.json()["messages"] == [], "no text, no message: the kind says it"


def test_a_course_question_s_report_belongs_to_its_course(app: FastAPI, db: Session) -> None:
    staffed = staffed_course(db)
    answered(db, staffed.session, 1, 3360)
    filed = file(staffed.learner(app, db), staffed.session.public_id, text="The key is off")
    assert filed.status_code == 201
    report = db.scalar(select(ProblemReport).where(ProblemReport.public_id == filed.json()["id"]))
    assert report is not None and report.course_id == staffed.klass.course.id
    assert report.question_id == staffed.question.id and report.given == 3360


def test_nobody_reports_on_someone_elses_session(app: FastAPI, db: Session) -> None:
    staffed = staffed_course(db)
    other = staffed.visitor(app, db, staffed.klass.learners[1])
    refused = file(other, staffed.session.public_id)
    assert refused.status_code == 404 and refused.json()["field"] == "session"
    stranger = anonymous(app)
    assert file(stranger, staffed.session.public_id).status_code == 404
    assert db.scalar(select(ProblemReport.id)) is None


def test_a_position_outside_the_session_is_not_found(app: FastAPI, db: Session) -> None:
    staffed = staffed_course(db)
    refused = file(staffed.learner(app, db), staffed.session.public_id, 2)
    assert refused.status_code == 404 and refused.json()["field"] == "position"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "exception"}, "kind"),
        ({"kind": "broken"}, "kind"),
        ({"kind": "other"}, "text"),
        ({"kind": "other", "text": "   "}, "text"),
        ({"text": "x" * (MESSAGE_MAX + 1)}, "text"),
        ({"text": "nul \x00"}, "text"),
        ({"position": 0}, "position"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    app: FastAPI, db: Session, change: dict[str, Any], field: str
) -> None:
    staffed = staffed_course(db)
    refused = file(staffed.learner(app, db), staffed.session.public_id, **change)
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == field
    assert db.scalar(select(ProblemReport.id)) is None


def test_reporting_the_same_version_again_while_open_joins_the_thread(
    app: FastAPI, db: Session
) -> None:
    staffed = staffed_course(db)
    learner = staffed.learner(app, db)
    first = file(learner, staffed.session.public_id, text="Wrong key")
    again = file(learner, staffed.session.public_id, kind="other", text="Still wrong")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["added_to_existing"] is True
    assert again.json()["id"] == first.json()["id"]
    assert [m["body"] for m in again.json()["messages"]] == ["Wrong key", "Still wrong"]
    assert len(db.scalars(select(ProblemReport)).all()) == 1


def test_after_a_report_is_closed_a_new_one_opens(app: FastAPI, db: Session) -> None:
    staffed = staffed_course(db)
    learner = staffed.learner(app, db)
    first = file(learner, staffed.session.public_id, text="Wrong key").json()
    report = db.scalar(select(ProblemReport).where(ProblemReport.public_id == first["id"]))
    assert report is not None
    report.status = "wont_fix"
    db.flush()
    second = file(learner, staffed.session.public_id, text="Really wrong")
    assert second.status_code == 201 and second.json()["id"] != first["id"]


def test_the_learner_adds_to_their_thread_and_nobody_else_sees_it(
    app: FastAPI, db: Session
) -> None:
    staffed = staffed_course(db)
    learner = staffed.learner(app, db)
    rid = file(learner, staffed.session.public_id, text="Wrong key").json()["id"]
    added = learner.client.post(f"/api/v1/reports/{rid}/messages", json={"text": "  More  "})
    assert added.status_code == 201
    assert [m["body"] for m in added.json()["messages"]] == ["Wrong key", "More"]
    empty = learner.client.post(f"/api/v1/reports/{rid}/messages", json={"text": " "})
    assert empty.status_code == 422 and empty.json()["field"] == "text"
    other = staffed.visitor(app, db, staffed.klass.learners[1])
    assert other.client.get(f"/api/v1/reports/{rid}").status_code == 404
    refused = other.client.post(f"/api/v1/reports/{rid}/messages", json={"text": "hi"})
    assert refused.status_code == 404
    assert other.client.get("/api/v1/reports").json()["items"] == []
    assert len(db.scalars(select(ReportMessage)).all()) == 2
