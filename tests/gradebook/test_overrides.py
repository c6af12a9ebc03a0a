"""Grades set by hand over the API: the final grade, the audit entry, refusals, and who may."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.gradebook.models import AuditEntry, GradeOverride
from tests.assignments.support import make_class
from tests.gradebook.support import add_data_viewer, fixed_assignment, sit


def _setup(app: FastAPI, db: Session, prefix: str):  # type: ignore[no-untyped-def]
    catalog = app.state.catalog
    group = make_class(db, learners=1, prefix=prefix)
    assignment = fixed_assignment(db, catalog, group.course)
    learner = group.learner_of(db, group.learners[0])
    sit(db, catalog, assignment, learner, ["right", "right", "wrong", "wrong"])
    base = f"/api/v1/courses/{group.course.slug}/assignments/{assignment.public_id}"
    return group, assignment, learner, base


def _changes(db: Session) -> int:
    overrides = db.scalar(select(func.count()).select_from(GradeOverride)) or 0
    return overrides + (db.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def test_an_override_sets_the_final_grade_and_is_audited(app: FastAPI, db: Session) -> None:
    group, assignment, learner, base = _setup(app, db, "ov1")
    owner = group.visitor(app, db, group.owner)

    answer = owner.client.put(
        f"{base}/overrides/{learner.public_id}", json={"percent": 90, "reason": "  oral exam  "}
    )

    assert answer.status_code == 200, answer.text
    line = answer.json()
    assert (line["best"], line["final"], line["override"]["percent"]) == (50.0, 90.0, 90.0)
    assert line["override"]["reason"] == "oral exam"
    book = owner.client.get(f"{base}/gradebook").json()
    assert book["rows"][0]["final"] == 90.0
    entry = db.scalars(select(AuditEntry)).one()
    assert entry.action == "grade.override"
    assert entry.target == {"assignment": assignment.public_id, "learner": learner.public_id}
    assert (entry.before, entry.after, entry.reason) == (50.0, 90.0, "oral exam")
    assert entry.actor_id == group.owner.id and entry.course_id == group.course.id


def test_removing_an_override_brings_back_the_best_grade(app: FastAPI, db: Session) -> None:
    group, _assignment, learner, base = _setup(app, db, "ov2")
    owner = group.visitor(app, db, group.owner)
    url = f"{base}/overrides/{learner.public_id}"
    owner.client.put(url, json={"percent": 10, "reason": "copied"})

    answer = owner.client.request("DELETE", url, json={"reason": "not copied after all"})

    assert answer.status_code == 200, answer.text
    assert answer.json()["final"] == 50.0 and answer.json()["override"] is None
    log = owner.client.get(f"/api/v1/courses/{group.course.slug}/audit").json()
    assert [i["action"] for i in log["items"]] == ["grade.override.remove", "grade.override"]
    assert (log["items"][0]["before"], log["items"][0]["after"]) == (10.0, 50.0)
    assert log["items"][0]["learner_name"] == "Learner 0" and log["total"] == 2
    again = owner.client.request("DELETE", url, json={"reason": "twice"})
    assert again.status_code == 404


def test_a_blank_reason_or_a_grade_out_of_range_is_refused(app: FastAPI, db: Session) -> None:
    group, _assignment, learner, base = _setup(app, db, "ov3")
    owner = group.visitor(app, db, group.owner)
    url = f"{base}/overrides/{learner.public_id}"
    before = _changes(db)

    blank = owner.client.put(url, json={"percent": 80, "reason": "   "})
    high = owner.client.put(url, json={"percent": 100.5, "reason": "bonus"})
    negative = owner.client.put(url, json={"percent": -1, "reason": "penalty"})
    removal = owner.client.request("DELETE", url, json={"reason": ""})

    assert blank.status_code == 422 and blank.json()["field"] == "reason"
    assert "reason" in blank.json()["message"]
    assert high.status_code == 422 and high.json()["field"] == "percent"
    assert negative.status_code == 422 and negative.json()["field"] == "percent"
    assert removal.status_code == 422 and removal.json()["field"] == "reason"
    assert _changes(db) == before


def test_someone_not_on_the_gradebook_is_not_found(app: FastAPI, db: Session) -> None:
    group, _assignment, _learner, base = _setup(app, db, "ov4")
    elsewhere = make_class(db, learners=1, prefix="ov4x")
    stranger = elsewhere.learner_of(db, elsewhere.learners[0])
    staff = group.learner_of(db, group.owner)
    owner = group.visitor(app, db, group.owner)
    body = {"percent": 50, "reason": "why not"}

    for learner_id in (stranger.public_id, staff.public_id, "no-such-learner"):
        answer = owner.client.put(f"{base}/overrides/{learner_id}", json=body)
        assert answer.status_code == 404, learner_id
        assert answer.json()["field"] == "learner"
    assert _changes(db) == 0


def test_a_data_viewer_reads_the_gradebook_but_may_not_override(app: FastAPI, db: Session) -> None:
    group, _assignment, learner, base = _setup(app, db, "ov5")
    viewer = group.visitor(app, db, add_data_viewer(db, group.course, "ov5-ta@example.org"))
    body = {"percent": 50, "reason": "why not"}

    assert viewer.client.get(f"{base}/gradebook").status_code == 200
    refused = viewer.client.put(f"{base}/overrides/{learner.public_id}", json=body)
    assert refused.status_code == 403
    assert "results:edit" in refused.json()["message"]
    regrade = viewer.client.post(f"{base}/regrade", json={"apply": False})
    assert regrade.status_code == 403
    mine = group.visitor(app, db, group.learners[0])  # a learner sees no gradebook at all
    assert mine.client.get(f"{base}/gradebook").status_code == 403
    assert _changes(db) == 0


def test_an_assignment_of_another_course_is_not_found(app: FastAPI, db: Session) -> None:
    group, _assignment, _learner, _base = _setup(app, db, "ov6")
    other = make_class(db, learners=0, prefix="ov6x")
    theirs = fixed_assignment(db, app.state.catalog, other.course)
    owner = group.visitor(app, db, group.owner)

    url = f"/api/v1/courses/{group.course.slug}/assignments/{theirs.public_id}/gradebook"
    answer = owner.client.get(url)

    assert answer.status_code == 404 and answer.json()["field"] == "assignment"
