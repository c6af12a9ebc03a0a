"""A course's attempts for an integration: every attempt at its assignments with the grade the
gradebook gives, filtered by assignment, learner, LMS id or status, paged by a signed cursor
that neither skips nor repeats a row while attempts start between pages. On SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.learners.models import ExternalIdentity
from tests.assignments.support import make_class
from tests.courses.support import make_user
from tests.gradebook.support import T0, fixed_assignment, sit

ISSUER = "https://canvas.example.edu"


def attempts_url(slug: str) -> str:
    return f"/api/v1/courses/{slug}/attempts"


def listed(client: TestClient, slug: str, **params: Any) -> list[dict[str, Any]]:
    answer = client.get(attempts_url(slug), params=params)
    assert answer.status_code == 200, answer.text
    assert answer.json()["next_cursor"] is None
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_attempts_carry_the_gradebooks_grade_with_the_late_penalty(
    app: FastAPI, db: Session
) -> None:
    catalog = app.state.catalog
    group = make_class(db, learners=3, prefix="lst1")
    assignment = fixed_assignment(
        db,
        catalog,
        group.course,
        closes_at=(T0 + timedelta(minutes=10)).isoformat(),
        late="penalty",
        late_penalty_percent=50,
    )
    on_time, late, running = (group.learner_of(db, user) for user in group.learners)
    sit(db, catalog, assignment, on_time, ["right", "right", "wrong", "wrong"])
    sit(
        db,
        catalog,
        assignment,
        late,
        ["right", "right", "right", "part"],
        start=T0 + timedelta(minutes=8),
    )
    sit(db, catalog, assignment, running, ["right"], minutes=None)
    db.add(ExternalIdentity(issuer=ISSUER, subject="lms-7", user_id=group.learners[0].id))
    db.flush()
    owner = group.visitor(app, db, group.owner).client

    items = listed(owner, group.course.slug)

    by_learner = {item["learner_id"]: item for item in items}
    assert len(items) == 3 and set(by_learner) == {
        on_time.public_id,
        late.public_id,
        running.public_id,
    }
    first = by_learner[on_time.public_id]
    assert first["external_ids"] == [{"issuer": ISSUER, "subject": "lms-7"}]
    assert (first["status"], first["attempt"], first["assignment_id"]) == (
        "submitted",
        1,
        assignment.public_id,
    )
    assert (first["score"], first["max_score"], first["percent"], first["grade"]) == (
        2.0,
        4,
        50.0,
        50.0,
    )
    second = by_learner[late.public_id]
    assert second["late"] is True and second["grade"] == round(second["percent"] / 2, 1)
    assert by_learner[late.public_id]["external_ids"] == []
    third = by_learner[running.public_id]
    assert (third["status"], third["submitted_at"], third["grade"], third["score"]) == (
        "open",
        None,
        None,
        None,
    )
    book = owner.get(
        f"/api/v1/courses/{group.course.slug}/assignments/{assignment.public_id}/gradebook"
    ).json()
    grades = {row["learner"]: [a["grade"] for a in row["attempt_list"]] for row in book["rows"]}
    for item in items:
        assert grades[item["learner_id"]] == [item["grade"]]


def test_filters_by_assignment_learner_lms_id_and_status(app: FastAPI, db: Session) -> None:
    catalog = app.state.catalog
    group = make_class(db, learners=2, prefix="lst2")
    one = fixed_assignment(db, catalog, group.course)
    two = fixed_assignment(db, catalog, group.course, title="Second")
    ada, bob = (group.learner_of(db, user) for user in group.learners)
    sit(db, catalog, one, ada, ["right"])
    sit(db, catalog, two, ada, ["wrong"], start=T0 + timedelta(minutes=30), minutes=None)
    sit(db, catalog, one, bob, ["right"], start=T0 + timedelta(hours=1))
    db.add(ExternalIdentity(issuer=ISSUER, subject="bob-9", user_id=group.learners[1].id))
    db.flush()
    owner = group.visitor(app, db, group.owner).client
    slug = group.course.slug

    def learners(**params: Any) -> list[tuple[str, str]]:
        return [(i["learner_id"], i["assignment_id"]) for i in listed(owner, slug, **params)]

    assert learners(assignment=one.public_id) == [
        (ada.public_id, one.public_id),
        (bob.public_id, one.public_id),
    ]
    assert learners(learner=ada.public_id) == [
        (ada.public_id, one.public_id),
        (ada.public_id, two.public_id),
    ]
    assert learners(issuer=ISSUER, subject="bob-9") == [(bob.public_id, one.public_id)]
    assert learners(issuer=ISSUER, subject="nobody") == []
    assert learners(status="open") == [(ada.public_id, two.public_id)]
    assert len(learners(status="submitted")) == 2
    unknown = owner.get(attempts_url(slug), params={"assignment": "no-such-assignment"})
    assert unknown.status_code == 404 and unknown.json()["field"] == "assignment"
    half = owner.get(attempts_url(slug), params={"issuer": ISSUER})
    assert half.status_code == 422 and half.json()["field"] == "subject"
    bad_status = owner.get(attempts_url(slug), params={"status": "graded"})
    assert bad_status.status_code == 422 and bad_status.json()["field"] == "status"


def test_other_courses_attempts_and_staff_previews_are_not_listed(
    app: FastAPI, db: Session
) -> None:
    catalog = app.state.catalog
    here = make_class(db, learners=1, prefix="lst3a")
    there = make_class(db, learners=1, prefix="lst3b")
    mine = fixed_assignment(db, catalog, here.course)
    theirs = fixed_assignment(db, catalog, there.course)
    learner = here.learner_of(db, here.learners[0])
    sit(db, catalog, mine, learner, ["right"])
    sit(db, catalog, theirs, there.learner_of(db, there.learners[0]), ["right"])
    sit(db, catalog, mine, here.learner_of(db, here.owner), ["right"])  # the owner's preview
    owner = here.visitor(app, db, here.owner).client

    items = listed(owner, here.course.slug)

    assert [i["learner_id"] for i in items] == [learner.public_id]


def test_a_learner_may_not_list_the_courses_attempts(app: FastAPI, db: Session) -> None:
    group = make_class(db, learners=1, prefix="lst4")
    learner = group.visitor(app, db, group.learners[0]).client

    refused = learner.get(attempts_url(group.course.slug))

    assert refused.status_code == 403 and "results:view" in refused.json()["message"]


def test_cursor_pages_cover_every_attempt_once_while_attempts_start_between_pages(
    app: FastAPI, db: Session
) -> None:
    catalog = app.state.catalog
    group = make_class(db, learners=6, prefix="lst5")
    assignment = fixed_assignment(db, catalog, group.course)
    learners = [group.learner_of(db, user) for user in group.learners]
    sessions = []
    for n, learner in enumerate(learners[:5]):  # four start at the same moment: ties
        start = T0 + timedelta(minutes=1 if n == 4 else 0)
        sessions.append(sit(db, catalog, assignment, learner, ["right"], start=start).public_id)
    owner = group.visitor(app, db, group.owner).client
    url = attempts_url(group.course.slug)

    seen: list[str] = []
    answer = owner.get(url, params={"limit": 2})
    pages = 0
    while True:
        assert answer.status_code == 200, answer.text
        pages += 1
        seen += [i["session_id"] for i in answer.json()["items"]]
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            assert "link" not in answer.headers
            break
        assert (
            answer.headers["link"].endswith('>; rel="next"')
            and f"cursor={cursor}" in answer.headers["link"]
        )
        if pages == 1:  # an attempt starts between the pages: it comes last
            late = sit(
                db, catalog, assignment, learners[5], ["right"], start=T0 + timedelta(hours=2)
            )
            sessions.append(late.public_id)
        answer = owner.get(answer.headers["link"][1 : answer.headers["link"].index(">")])

    assert pages == 3
    assert sorted(seen) == sorted(sessions) and len(seen) == len(set(seen))
    assert seen[-1] == sessions[-1]


def test_a_tampered_or_foreign_cursor_is_a_422_naming_cursor(app: FastAPI, db: Session) -> None:
    catalog = app.state.catalog
    group = make_class(db, learners=2, prefix="lst6")
    assignment = fixed_assignment(db, catalog, group.course)
    for user in group.learners:
        sit(db, catalog, assignment, group.learner_of(db, user), ["right"])
    owner = group.visitor(app, db, group.owner).client
    url = attempts_url(group.course.slug)
    cursor = owner.get(url, params={"limit": 1}).json()["next_cursor"]
    assert cursor

    flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    for bad in (flipped, "not-a-cursor", cursor[:10], "x" * 600):
        refused = owner.get(url, params={"cursor": bad})
        assert refused.status_code == 422, bad
        assert refused.json()["field"] == "cursor"
    assert owner.get(url, params={"cursor": cursor}).status_code == 200


def test_a_staff_member_without_data_role_is_refused(app: FastAPI, db: Session) -> None:
    from app.courses.models import CourseStaff

    group = make_class(db, learners=0, prefix="lst7")
    author = make_user(db, "lst7-author@example.org")
    db.add(
        CourseStaff(
            course_id=group.course.id, user_id=author.id, content_role="editor", data_role="none"
        )
    )
    db.flush()
    client = group.visitor(app, db, author).client

    assert client.get(attempts_url(group.course.slug)).status_code == 403
