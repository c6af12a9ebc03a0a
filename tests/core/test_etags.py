"""ETags (app.core.etags): a GET of a question or an assignment carries a strong ETag, 304 while
If-None-Match holds it; a change of an assignment sent with a stale If-Match is refused with 412
and changes nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from tests.assignments.support import make_assignment, make_class, rules

QUESTION = "/api/v1/questions/birnn-main-advantage"


def test_a_question_answers_304_while_its_etag_is_current(client: TestClient) -> None:
    first = client.get(QUESTION)
    assert first.status_code == 200, first.text
    tag = first.headers["etag"]
    assert tag.startswith('"') and tag.endswith('"') and len(tag) > 10
    assert first.headers["cache-control"] == "private, no-cache"
    assert first.json()["id"] == "birnn-main-advantage"

    for header in (tag, f'"other", {tag}', f"W/{tag}", "*"):
        cached = client.get(QUESTION, headers={"If-None-Match": header})
        assert cached.status_code == 304, header
        assert cached.content == b"" and cached.headers["etag"] == tag
    stale = client.get(QUESTION, headers={"If-None-Match": '"not-it"'})
    assert stale.status_code == 200 and stale.json() == first.json()
    other = client.get("/api/v1/questions/bigru-constructor-syntax")
    assert other.headers["etag"] != tag


def test_an_assignment_is_tagged_and_a_stale_if_match_is_refused_with_412(
    app: FastAPI, db: Session
) -> None:
    group = make_class(db, learners=0, prefix="etag1")
    assignment = make_assignment(db, app.state.catalog, group.course)
    owner = group.visitor(app, db, group.owner).client
    url = f"/api/v1/courses/{group.course.slug}/assignments/{assignment.public_id}"
    read = owner.get(url)
    assert read.status_code == 200, read.text
    tag = read.headers["etag"]
    assert owner.get(url, headers={"If-None-Match": tag}).status_code == 304

    change = {"title": "Homework 1, revised", "rules": rules()}
    saved = owner.put(url, json=change, headers={"If-Match": tag})
    assert saved.status_code == 200, saved.text
    newer = owner.get(url)
    assert newer.headers["etag"] != tag and newer.json()["title"] == "Homework 1, revised"
    assert owner.get(url, headers={"If-None-Match": tag}).status_code == 200

    stale = owner.put(url, json={**change, "title": "Lost update"}, headers={"If-Match": tag})
    assert stale.status_code == 412, stale.text
    assert stale.json()["field"] == "If-Match" and stale.json()["code"] == "precondition_failed"
    assert owner.get(url).json()["title"] == "Homework 1, revised"
    weak = owner.put(url, json=change, headers={"If-Match": f"W/{newer.headers['etag']}"})
    assert weak.status_code == 412  # If-Match compares strongly
    assert owner.put(url, json=change, headers={"If-Match": "*"}).status_code == 200
    assert owner.put(url, json=change).status_code == 200  # no If-Match: no condition
