"""Learners by an LMS's id for them: PUT finds or makes the account and enrols it (twice: one
account), GET finds a learner of the course, and only the course's results staff may do
either. On SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.courses import service as courses
from app.courses.models import Enrolment
from app.learners.models import ExternalIdentity, Learner, User
from tests.assignments.support import make_assignment, make_class
from tests.courses.support import new_client

ISSUER = "https://moodle.example.edu"


def external(slug: str) -> str:
    return f"/api/v1/courses/{slug}/learners/external"


def test_put_makes_and_enrols_the_learner_once_and_the_gradebook_knows_their_id(
    app: FastAPI, db: Session
) -> None:
    group = make_class(db, learners=0, prefix="ext1")
    assignment = make_assignment(db, app.state.catalog, group.course)
    owner = group.visitor(app, db, group.owner).client
    body = {"issuer": ISSUER, "subject": "u-1001", "email": "Ada@Example.edu", "name": "Ada L"}

    first = owner.put(external(group.course.slug), json=body)
    again = owner.put(external(group.course.slug), json=body)

    assert first.status_code == 201, first.text
    made = first.json()
    assert (made["created"], made["enrolled"]) == (True, True)
    assert (made["issuer"], made["subject"]) == (ISSUER, "u-1001")
    assert (made["email"], made["name"]) == ("ada@example.edu", "Ada L")
    assert again.status_code == 200, again.text
    assert (again.json()["created"], again.json()["enrolled"]) == (False, False)
    assert again.json()["learner_id"] == made["learner_id"]
    db.expire_all()
    owners = db.scalars(
        select(ExternalIdentity.user_id).where(ExternalIdentity.subject == "u-1001")
    ).all()
    assert len(owners) == 1
    user = db.get(User, owners[0])
    assert user is not None and user.password_hash is None
    learner = db.scalar(select(Learner).where(Learner.user_id == user.id))
    assert learner is not None and learner.public_id == made["learner_id"]
    assert db.get(Enrolment, (group.course.id, user.id)) is not None
    book = owner.get(
        f"/api/v1/courses/{group.course.slug}/assignments/{assignment.public_id}/gradebook"
    )
    assert made["learner_id"] in [row["learner"] for row in book.json()["rows"]]


def test_an_email_another_account_has_is_not_attached_and_none_is_needed(
    app: FastAPI, db: Session
) -> None:
    group = make_class(db, learners=1, prefix="ext2")
    owner = group.visitor(app, db, group.owner).client
    taken = group.learners[0].email
    users_before = db.scalar(select(func.count()).select_from(User))

    with_taken = owner.put(
        external(group.course.slug), json={"issuer": ISSUER, "subject": "u-2", "email": taken}
    )
    bare = owner.put(external(group.course.slug), json={"issuer": ISSUER, "subject": "u-3"})

    assert with_taken.status_code == 201 and with_taken.json()["email"] is None
    assert bare.status_code == 201 and bare.json()["email"] is None
    assert bare.json()["learner_id"] != with_taken.json()["learner_id"]
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(User)) == (users_before or 0) + 2


def test_an_account_known_to_another_course_is_enrolled_here_without_a_second_account(
    app: FastAPI, db: Session
) -> None:
    here = make_class(db, learners=0, prefix="ext3a")
    there = make_class(db, learners=0, prefix="ext3b")
    body = {"issuer": ISSUER, "subject": "shared"}
    made = here.visitor(app, db, here.owner).client.put(external(here.course.slug), json=body)
    there_owner = there.visitor(app, db, there.owner).client
    lookup = {"issuer": ISSUER, "subject": "shared"}
    assert there_owner.get(external(there.course.slug), params=lookup).status_code == 404

    joined = there_owner.put(external(there.course.slug), json=body)

    assert joined.status_code == 201
    assert (joined.json()["created"], joined.json()["enrolled"]) == (False, True)
    assert joined.json()["learner_id"] == made.json()["learner_id"]
    found = there_owner.get(external(there.course.slug), params=lookup)
    assert found.status_code == 200 and found.json()["learner_id"] == made.json()["learner_id"]


def test_get_finds_a_learner_of_the_course_and_404_names_the_subject_otherwise(
    app: FastAPI, db: Session
) -> None:
    group = make_class(db, learners=0, prefix="ext4")
    owner = group.visitor(app, db, group.owner).client
    owner.put(external(group.course.slug), json={"issuer": ISSUER, "subject": "u-4"})
    url = external(group.course.slug)

    found = owner.get(url, params={"issuer": ISSUER, "subject": "u-4"})
    other_issuer = owner.get(url, params={"issuer": "https://canvas.example", "subject": "u-4"})
    missing_part = owner.get(url, params={"issuer": ISSUER})

    assert found.status_code == 200 and found.json()["subject"] == "u-4"
    assert other_issuer.status_code == 404 and other_issuer.json()["field"] == "subject"
    assert missing_part.status_code == 422 and missing_part.json()["field"] == "subject"
    user_id = db.scalar(select(ExternalIdentity.user_id).where(ExternalIdentity.subject == "u-4"))
    assert user_id is not None
    courses.leave(db, group.course, user_id)
    db.flush()
    assert owner.get(url, params={"issuer": ISSUER, "subject": "u-4"}).status_code == 404


def test_bad_input_is_a_422_naming_the_field(app: FastAPI, db: Session) -> None:
    group = make_class(db, learners=0, prefix="ext5")
    owner = group.visitor(app, db, group.owner).client
    url = external(group.course.slug)
    for body, field in [
        ({"issuer": "", "subject": "x"}, "issuer"),
        ({"issuer": ISSUER, "subject": "a\x00b"}, "subject"),
        ({"issuer": ISSUER, "subject": "s" * 256}, "subject"),
        ({"issuer": ISSUER, "subject": "x", "email": "not an address"}, "email"),
        ({"issuer": ISSUER, "subject": "x", "role": "admin"}, "role"),
    ]:
        refused = owner.put(url, json=body)
        assert refused.status_code == 422, body
        assert refused.json()["field"] == field, body


def test_a_learner_gets_403_and_a_stranger_401(app: FastAPI, db: Session) -> None:
    group = make_class(db, learners=1, prefix="ext6")
    learner = group.visitor(app, db, group.learners[0]).client
    url = external(group.course.slug)
    body = {"issuer": ISSUER, "subject": "u-6"}
    users_before = db.scalar(select(func.count()).select_from(User))

    put = learner.put(url, json=body)
    get = learner.get(url, params=body)
    anonymous = new_client(app).put(url, json=body)

    assert put.status_code == 403 and "results:edit" in put.json()["message"]
    assert get.status_code == 403 and "results:view" in get.json()["message"]
    assert anonymous.status_code == 401
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(User)) == users_before
