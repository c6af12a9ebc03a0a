"""Assignments over the API: staff set, change, list and archive them in their course; the
course's members open them and start or continue an attempt. On both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.attempts.models import Assignment
from app.authoring.practice import served_course
from app.core.db import utcnow
from app.courses import service as courses
from app.courses.models import CourseStaff
from tests.assignments.support import SHIPPED, Class, make_assignment, make_class, rules
from tests.courses.support import Visitor, anonymous, make_user, signed_in

API = "/api/v1"


def body(title: str = "Homework 1", **changes: Any) -> dict[str, Any]:
    return {"title": title, "rules": rules(**changes)}


def url(group: Class, aid: str | None = None) -> str:
    base = f"{API}/courses/{group.course.slug}/assignments"
    return f"{base}/{aid}" if aid else base


def owner(app: FastAPI, db: Session, group: Class) -> Visitor:
    return signed_in(app, db, group.owner)


def assignments(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Assignment)) or 0


def test_an_editor_sets_an_assignment_and_reads_it_back(app: FastAPI, db: Session) -> None:
    group = make_class(db)
    client = owner(app, db, group).client
    made = client.post(url(group), json=body(attempts_allowed=2, time_limit_minutes=30))
    assert made.status_code == 201, made.text
    out = made.json()
    assert out["title"] == "Homework 1" and out["course"] == group.course.slug
    assert out["rules"]["attempts_allowed"] == 2 and out["rules"]["time_limit_minutes"] == 30
    assert out["topic"] == SHIPPED and out["learner_url"] == f"/assignments/{out['id']}"
    assert (out["learners_attempted"], out["submitted_attempts"], out["archived"]) == (0, 0, False)
    listed = client.get(url(group)).json()
    assert listed["count"] == 1 and listed["assignments"][0]["id"] == out["id"]
    assert client.get(url(group, out["id"])).json() == out


def test_attempts_are_filed_under_the_course_bank_when_it_is_a_source(
    app: FastAPI, db: Session
) -> None:
    group = make_class(db)
    bank = f"course-{group.course.slug}"
    client = owner(app, db, group).client
    made = client.post(url(group), json=body(sources=[bank, SHIPPED]))
    assert made.status_code == 201, made.text
    assert made.json()["topic"] == bank


@pytest.mark.parametrize(
    ("changes", "status", "field", "words"),
    [
        ({"questions": [f"{SHIPPED}/no-such-question"]}, 400, "questions", "no-such-question"),
        ({"sources": ["no-such-topic"]}, 400, "sources", "no-such-topic"),
        (
            {"opens_at": "2030-01-02T00:00:00Z", "closes_at": "2030-01-01T00:00:00Z"},
            422,
            "rules.closes_at",
            "closes_at must come after opens_at",
        ),
        (
            {"closes_at": "2030-01-01T00:00:00Z", "late_until": "2030-01-02T00:00:00Z"},
            422,
            "rules.late_until",
            "late_until needs late: penalty",
        ),
        ({"draws": []}, 422, "rules.draws", "add a draw"),
        ({"feedback": "after_close"}, 422, "rules.feedback", "needs closes_at"),
        ({"draws": [{"count": 0}]}, 422, "rules.draws.0.count", "greater than or equal to 1"),
    ],
)
def test_a_refused_assignment_names_the_rule_at_fault_and_saves_nothing(
    app: FastAPI, db: Session, changes: dict[str, Any], status: int, field: str, words: str
) -> None:
    group = make_class(db)
    client = owner(app, db, group).client
    base = {"sources": [SHIPPED], "draws": [{"count": 2}]}
    answer = client.post(url(group), json={"title": "Bad", "rules": {**base, **changes}})
    assert answer.status_code == status, answer.text
    assert answer.json()["field"] == field
    assert words in answer.json()["message"]
    assert assignments(db) == 0


def test_another_course_bank_is_no_source(app: FastAPI, db: Session) -> None:
    group = make_class(db)
    other = courses.create_course(db, group.owner.id, "Another course")
    served_course(db, app.state.catalog, other)  # served by the catalog, yet not ours
    client = owner(app, db, group).client
    answer = client.post(url(group), json=body(sources=[f"course-{other.slug}"]))
    assert answer.status_code == 400 and answer.json()["field"] == "sources"
    assert assignments(db) == 0


def test_a_learner_or_content_viewer_may_not_set_assignments(app: FastAPI, db: Session) -> None:
    group = make_class(db)
    viewer = make_user(db, "viewer@example.org")
    db.add(
        CourseStaff(
            course_id=group.course.id, user_id=viewer.id, content_role="viewer", data_role="none"
        )
    )
    assignment = make_assignment(db, app.state.catalog, group.course)
    learner = signed_in(app, db, group.learners[0]).client
    assert learner.post(url(group), json=body()).status_code == 403
    assert learner.get(url(group)).status_code == 403
    looker = signed_in(app, db, viewer).client
    assert looker.get(url(group, assignment.public_id)).status_code == 200
    assert looker.put(url(group, assignment.public_id), json=body("Mine")).status_code == 403
    assert looker.delete(url(group, assignment.public_id)).status_code == 403
    assert anonymous(app).client.get(url(group)).status_code == 401
    db.refresh(assignment)
    assert assignment.title == "Homework 1" and assignment.archived_at is None


def test_an_editor_changes_then_archives_an_assignment(app: FastAPI, db: Session) -> None:
    group = make_class(db)
    assignment = make_assignment(db, app.state.catalog, group.course)
    aid = assignment.public_id
    client = owner(app, db, group).client
    changed = client.put(url(group, aid), json=body("Homework 1b", attempts_allowed=3))
    assert changed.status_code == 200, changed.text
    assert changed.json()["title"] == "Homework 1b"
    assert changed.json()["rules"]["attempts_allowed"] == 3
    assert client.delete(url(group, aid)).status_code == 204
    assert client.get(url(group)).json()["count"] == 0
    archived = client.get(url(group), params={"archived": "true"}).json()["assignments"]
    assert [a["archived"] for a in archived] == [True]
    assert client.get(url(group, aid)).json()["archived"] is True  # staff still read it
    learner = signed_in(app, db, group.learners[0]).client
    assert learner.get(f"{API}/assignments/{aid}").status_code == 404
    assert learner.post(f"{API}/assignments/{aid}/attempts").status_code == 404


def test_another_course_assignment_is_unknown_here(app: FastAPI, db: Session) -> None:
    group = make_class(db)
    other = make_class(db, prefix="o")
    theirs = make_assignment(db, app.state.catalog, other.course)
    client = owner(app, db, group).client
    assert client.get(url(group, theirs.public_id)).status_code == 404
    assert client.put(url(group, theirs.public_id), json=body()).status_code == 404


# --- learners ---


def test_a_learner_starts_then_continues_the_same_attempt(app: FastAPI, db: Session) -> None:
    group = make_class(db)
    aid = make_assignment(db, app.state.catalog, group.course, attempts_allowed=2).public_id
    client = signed_in(app, db, group.learners[0]).client
    before = client.get(f"{API}/assignments/{aid}").json()
    assert before["can_start"] is True and before["refusal"] is None
    assert (before["questions"], before["attempts_used"], before["attempts_allowed"]) == (4, 0, 2)
    assert "Attempts: 0 of 2 used." in before["summary"]
    first = client.post(f"{API}/assignments/{aid}/attempts")
    assert first.status_code == 201, first.text
    assert first.json()["mode"] == "test" and first.json()["total"] == 4
    again = client.post(f"{API}/assignments/{aid}/attempts")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    during = client.get(f"{API}/assignments/{aid}").json()
    assert during["open_attempt"] == first.json()["id"] and during["attempts_used"] == 1
    assert [a["number"] for a in during["attempts"]] == [1]


def test_a_learner_with_no_attempts_left_is_refused_in_words(app: FastAPI, db: Session) -> None:
    group = make_class(db)
    aid = make_assignment(db, app.state.catalog, group.course, attempts_allowed=1).public_id
    client = signed_in(app, db, group.learners[0]).client
    session = client.post(f"{API}/assignments/{aid}/attempts").json()["id"]
    assert client.post(f"{API}/sessions/{session}/finish").status_code == 200
    refused = client.post(f"{API}/assignments/{aid}/attempts")
    assert refused.status_code == 409
    assert refused.json()["message"] == "no attempts left: 1 of 1 used"
    after = client.get(f"{API}/assignments/{aid}").json()
    assert after["can_start"] is False and after["refusal"] == "no attempts left: 1 of 1 used"
    assert after["open_attempt"] is None
    done = after["attempts"][0]
    assert done["score"] == 0.0 and done["grade"] == 0.0 and done["finished_at"] is not None


def test_a_learner_sees_the_grade_the_staff_set_by_hand_on_the_start_page(
    app: FastAPI, db: Session
) -> None:
    group = make_class(db)
    aid = make_assignment(db, app.state.catalog, group.course).public_id
    learner = signed_in(app, db, group.learners[0])
    assert learner.client.get(f"{API}/assignments/{aid}").json()["grade_set_by_staff"] is None
    staff = owner(app, db, group)
    mine = group.learner_of(db, group.learners[0]).public_id
    override = {"percent": 85, "reason": "oral exam"}
    set_url = f"{API}/courses/{group.course.slug}/assignments/{aid}/overrides/{mine}"
    assert staff.client.put(set_url, json=override).status_code == 200
    assert learner.client.get(f"{API}/assignments/{aid}").json()["grade_set_by_staff"] == 85.0
    page = learner.client.get(f"/assignments/{aid}").text
    assert "Your grade, set by the course's staff: <strong>85.0%</strong>" in page


def test_an_assignment_not_yet_open_refuses_to_start(app: FastAPI, db: Session) -> None:
    group = make_class(db)
    opens = (utcnow() + timedelta(days=1)).isoformat()
    aid = make_assignment(db, app.state.catalog, group.course, opens_at=opens).public_id
    client = signed_in(app, db, group.learners[0]).client
    refused = client.post(f"{API}/assignments/{aid}/attempts")
    assert refused.status_code == 409
    assert refused.json()["message"].startswith("this assignment opens at ")
    assert client.get(f"{API}/assignments/{aid}").json()["can_start"] is False


def test_only_the_course_members_may_open_an_assignment(app: FastAPI, db: Session) -> None:
    group = make_class(db)
    aid = make_assignment(db, app.state.catalog, group.course).public_id
    outsider = signed_in(app, db, make_user(db, "outsider@example.org")).client
    for answer in (
        outsider.get(f"{API}/assignments/{aid}"),
        outsider.post(f"{API}/assignments/{aid}/attempts"),
    ):
        assert answer.status_code == 404
        assert answer.json()["message"] == f"no assignment '{aid}'"
    assert anonymous(app).client.get(f"{API}/assignments/{aid}").status_code == 401
    staff = owner(app, db, group).client  # staff are members too
    assert staff.get(f"{API}/assignments/{aid}").status_code == 200


def test_the_list_counts_learners_and_submitted_attempts(app: FastAPI, db: Session) -> None:
    group = make_class(db, learners=3)
    aid = make_assignment(db, app.state.catalog, group.course).public_id
    for n, user in enumerate(group.learners[:2]):
        client = signed_in(app, db, user).client
        session = client.post(f"{API}/assignments/{aid}/attempts").json()["id"]
        if n == 0:
            client.post(f"{API}/sessions/{session}/finish")
    listed = owner(app, db, group).client.get(url(group)).json()["assignments"][0]
    assert (listed["learners_attempted"], listed["submitted_attempts"]) == (2, 1)
