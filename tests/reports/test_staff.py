"""Staff answer their course's reports over the API, on SQLite and PostgreSQL: content viewers
read, editors reply and set the status (fixed names an existing version), the learner sees
both; another course's staff find nothing; the shipped bank's reports are the site
administrators' alone."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from app.courses import service as courses
from tests.courses.support import anonymous, make_user, signed_in
from tests.reports.support import Staffed, file, staffed_course


@pytest.fixture
def staffed(db: Session) -> Staffed:
    return staffed_course(db)


def filed(app: FastAPI, db: Session, staffed: Staffed, **body: Any) -> str:
    answer = file(staffed.learner(app, db), staffed.session.public_id, text="Wrong key", **body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_a_content_viewer_lists_and_reads_the_course_reports_by_status_and_question(
    app: FastAPI, db: Session, staffed: Staffed
) -> None:
    rid = filed(app, db, staffed)
    viewer = staffed.visitor(app, db, staffed.viewer).client
    base = f"/api/v1/courses/{staffed.slug}/reports"
    listed = viewer.get(base).json()
    assert [r["id"] for r in listed["items"]] == [rid] and listed["total"] == 1
    assert listed["items"][0]["question"] == "reported-question"
    assert viewer.get(base, params={"status": "fixed"}).json()["items"] == []
    assert viewer.get(base, params={"question": "other-question"}).json()["items"] == []
    assert viewer.get(base, params={"question": "reported-question"}).json()["total"] == 1
    assert viewer.get(base, params={"status": "closed"}).status_code == 422
    one = viewer.get(f"{base}/{rid}").json()
    assert one["messages"][0]["body"] == "Wrong key" and one["messages"][0]["from_staff"] is False
    assert one["rendered_html"].startswith("<p>How many trainable parameters")
    refused = viewer.post(f"{base}/{rid}/messages", json={"text": "Looking"})
    assert refused.status_code == 403 and "content:edit" in refused.text
    assert viewer.patch(f"{base}/{rid}", json={"status": "acknowledged"}).status_code == 403


def test_an_editor_replies_and_the_learner_reads_it_without_names(
    app: FastAPI, db: Session, staffed: Staffed
) -> None:
    rid = filed(app, db, staffed)
    editor = staffed.visitor(app, db, staffed.editor).client
    replied = editor.post(
        f"/api/v1/courses/{staffed.slug}/reports/{rid}/messages", json={"text": "Checking it"}
    )
    assert replied.status_code == 201
    assert replied.json()["messages"][1] == {
        **replied.json()["messages"][1],
        "from_staff": True,
        "author": "The editor",
    }
    mine = staffed.learner(app, db).client.get(f"/api/v1/reports/{rid}").json()
    assert [(m["from_staff"], m["author"], m["body"]) for m in mine["messages"]] == [
        (False, None, "Wrong key"),
        (True, None, "Checking it"),
    ]


def test_the_status_goes_through_its_values_and_fixed_names_a_real_version(
    app: FastAPI, db: Session, staffed: Staffed
) -> None:
    rid = filed(app, db, staffed)
    editor = staffed.visitor(app, db, staffed.editor).client
    url = f"/api/v1/courses/{staffed.slug}/reports/{rid}"
    learner = staffed.learner(app, db).client
    acknowledged = editor.patch(url, json={"status": "acknowledged"})
    assert acknowledged.status_code == 200 and acknowledged.json()["status_text"] == "Acknowledged"
    for body in (
        {"status": "fixed"},
        {"status": "fixed", "fixed_in": 9},
        {"status": "wont_fix", "fixed_in": 1},
    ):
        refused = editor.patch(url, json=body)
        assert refused.status_code == 422 and refused.json()["field"] == "fixed_in", body
    assert editor.patch(url, json={"status": "gone"}).json()["field"] == "status"
    fixed = editor.patch(url, json={"status": "fixed", "fixed_in": 1})
    assert fixed.status_code == 200 and fixed.json()["fixed_in"] == 1
    mine = learner.get("/api/v1/reports").json()["items"][0]
    assert mine["status"] == "fixed" and mine["status_text"] == "Fixed in version 1"
    wont = editor.patch(url, json={"status": "wont_fix"})
    assert wont.json()["status_text"] == "Won't fix" and wont.json()["fixed_in"] is None
    assert learner.get(f"/api/v1/reports/{rid}").json()["status"] == "wont_fix"


def test_another_course_s_staff_find_no_report(app: FastAPI, db: Session, staffed: Staffed) -> None:
    rid = filed(app, db, staffed)
    outsider = make_user(db, "other-owner@example.org")
    other = courses.create_course(db, outsider.id, "Another course")
    client = signed_in(app, db, outsider).client
    assert client.get(f"/api/v1/courses/{staffed.slug}/reports").status_code == 403
    assert client.get(f"/api/v1/courses/{other.slug}/reports").json()["items"] == []
    assert client.get(f"/api/v1/courses/{other.slug}/reports/{rid}").status_code == 404
    patched = client.patch(f"/api/v1/courses/{other.slug}/reports/{rid}", json={"status": "fixed"})
    assert patched.status_code == 404
    assert client.get(f"/api/v1/reports/{rid}").status_code == 404, "nor as a learner"
    assert client.get("/api/v1/admin/reports").status_code == 403


def test_a_shipped_question_s_report_is_for_site_administrators_only(
    app: FastAPI, db: Session, staffed: Staffed
) -> None:
    learner = staffed.learner(app, db).client
    started = learner.post("/api/v1/sessions", json={"topic": "birnn", "mode": "practice"})
    rid = learner.post(
        "/api/v1/reports",
        json={"session": started.json()["id"], "position": 1, "kind": "other", "text": "Typo"},
    ).json()["id"]
    owner = staffed.visitor(app, db, staffed.klass.owner).client
    assert owner.get(f"/api/v1/courses/{staffed.slug}/reports").json()["items"] == []
    assert owner.get(f"/api/v1/courses/{staffed.slug}/reports/{rid}").status_code == 404
    assert owner.get("/api/v1/admin/reports").status_code == 403
    assert owner.get(f"/api/v1/admin/reports/{rid}").status_code == 403
    admin = signed_in(app, db, make_user(db, "root@example.org", admin=True)).client
    assert [r["id"] for r in admin.get("/api/v1/admin/reports").json()["items"]] == [rid]
    reply = admin.post(f"/api/v1/admin/reports/{rid}/messages", json={"text": "Thanks"})
    assert reply.status_code == 201
    done = admin.patch(f"/api/v1/admin/reports/{rid}", json={"status": "fixed", "fixed_in": 1})
    assert done.status_code == 200 and done.json()["status_text"] == "Fixed in version 1"
    assert learner.get(f"/api/v1/reports/{rid}").json()["messages"][-1]["body"] == "Thanks"
    assert staffed.learner(app, db).client.get("/api/v1/admin/reports").status_code == 403
    assert anonymous(app).client.get(f"/api/v1/admin/reports/{rid}").status_code == 401
