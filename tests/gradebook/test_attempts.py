"""Drilling into one attempt: every answer and its grading, whatever the feedback rule."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.orm import Session

from tests.assignments.support import make_class
from tests.gradebook.support import fixed_assignment, sit


def test_staff_see_every_answer_of_an_attempt_even_with_feedback_never(
    app: FastAPI, db: Session
) -> None:
    catalog = app.state.catalog
    group = make_class(db, learners=1, prefix="at1")
    assignment = fixed_assignment(db, catalog, group.course, feedback="never")
    session = sit(
        db, catalog, assignment, group.learner_of(db, group.learners[0]), ["right", "wrong"]
    )
    owner = group.visitor(app, db, group.owner)
    base = f"/courses/{group.course.slug}/assignments/{assignment.public_id}/attempts"

    answer = owner.client.get(f"/api/v1{base}/{session.public_id}")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["name"], body["number"], body["grade"]) == ("Learner 0", 1, 25.0)
    review = body["result"]["review"]
    assert [(i["position"], i["correct"], i["given"] is not None) for i in review] == [
        (1, True, True),
        (2, False, True),
        (3, False, False),
        (4, False, False),
    ]
    assert all(i["solution"]["correct_answer"] for i in review)
    page = owner.client.get(f"{base}/{session.public_id}")
    assert page.status_code == 200
    assert "Question 1:\n    correct" in page.text and "Question 2:\n    incorrect" in page.text
    assert "Question 3:\n    not answered" in page.text


def test_an_attempt_in_progress_or_of_another_assignment_is_refused(
    app: FastAPI, db: Session
) -> None:
    catalog = app.state.catalog
    group = make_class(db, learners=1, prefix="at2")
    assignment = fixed_assignment(db, catalog, group.course)
    other = fixed_assignment(db, catalog, group.course, title="Other")
    learner = group.learner_of(db, group.learners[0])
    open_one = sit(db, catalog, assignment, learner, ["right"], minutes=None)
    elsewhere = sit(db, catalog, other, learner, ["right"])
    owner = group.visitor(app, db, group.owner)
    base = f"/api/v1/courses/{group.course.slug}/assignments/{assignment.public_id}/attempts"

    assert owner.client.get(f"{base}/{open_one.public_id}").status_code == 409
    missing = owner.client.get(f"{base}/{elsewhere.public_id}")
    assert missing.status_code == 404 and missing.json()["field"] == "session"
