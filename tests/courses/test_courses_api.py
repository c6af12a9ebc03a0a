"""Courses over the API: creating, listing, renaming and archiving, join codes, joining and
leaving, removing learners; and bad input answered with a 4xx naming the problem."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.courses.models import Course, CourseStaff, Enrolment
from app.courses.service import JOIN_CODE_ALPHABET
from tests.courses.support import Visitor, make_user, signed_in

API = "/api/v1/courses"


@pytest.fixture
def owner(app: FastAPI, db: Session) -> Visitor:
    return signed_in(app, db, make_user(db, "owner@example.org", name="Ada"))


@pytest.fixture
def learner(app: FastAPI, db: Session) -> Visitor:
    return signed_in(app, db, make_user(db, "learner@example.org"))


def create(visitor: Visitor, title: str = "Deep Learning 101") -> dict[str, Any]:
    answer = visitor.client.post(API, json={"title": title})
    assert answer.status_code == 201, answer.text
    course: dict[str, Any] = answer.json()
    return course


def course_id(db: Session, slug: str) -> int:
    found = db.scalar(select(Course.id).where(Course.slug == slug))
    assert found is not None
    return found


def test_a_new_course_has_a_slug_from_its_title_and_its_creator_as_owner_and_data_editor(
    owner: Visitor, db: Session
) -> None:
    course = create(owner, "  Réseaux de neurones: CNNs!  ")
    assert course["slug"] == "reseaux-de-neurones-cnns"
    assert course["title"] == "Réseaux de neurones: CNNs!"
    assert course["roles"] == {
        "content_role": "owner",
        "data_role": "editor",
        "enrolled": False,
        "site_admin": False,
    }
    assert "course:manage" in course["permissions"]
    assert owner.user is not None
    row = db.scalar(select(CourseStaff).where(CourseStaff.user_id == owner.user.id))
    assert row is not None and (row.content_role, row.data_role) == ("owner", "editor")


def test_two_courses_of_one_title_get_different_slugs_and_codes(owner: Visitor) -> None:
    first, second = create(owner, "Same"), create(owner, "Same")
    assert (first["slug"], second["slug"]) == ("same", "same-2")
    assert first["join_code"] != second["join_code"]


def test_a_title_that_names_another_page_does_not_take_its_address(owner: Visitor) -> None:
    assert create(owner, "Join")["slug"] == "join-2"
    assert create(owner, "!!!")["slug"] == "course"


def test_a_join_code_is_eight_characters_without_look_alikes(owner: Visitor) -> None:
    code = create(owner)["join_code"]
    assert re.fullmatch(f"[{JOIN_CODE_ALPHABET}]{{8}}", code)
    assert not set("01ILO") & set(JOIN_CODE_ALPHABET)


def test_a_learner_joins_by_code_as_typed_and_joining_twice_is_harmless(
    owner: Visitor, learner: Visitor, db: Session
) -> None:
    course = create(owner)
    typed = f" {course['join_code'][:4].lower()}-{course['join_code'][4:]} "
    first = learner.client.post(f"{API}/join", json={"code": typed})
    again = learner.client.post(f"{API}/join", json={"code": course["join_code"]})
    assert first.status_code == again.status_code == 200
    assert (first.json()["joined"], again.json()["joined"]) == (True, False)
    assert first.json()["course"]["join_code"] is None  # the code is for staff to share
    assert learner.user is not None
    assert db.get(Enrolment, (course_id(db, course["slug"]), learner.user.id)) is not None
    listed = learner.client.get(API).json()
    assert [c["slug"] for c in listed["learning"]] == [course["slug"]]
    assert listed["teaching"] == []


def test_an_unknown_join_code_is_a_404_naming_the_code(learner: Visitor) -> None:
    answer = learner.client.post(f"{API}/join", json={"code": "ZZZZZZZZ"})
    assert answer.status_code == 404
    assert answer.json()["field"] == "code" and "join code" in answer.json()["message"]


def test_an_archived_course_refuses_new_learners_until_restored(
    owner: Visitor, learner: Visitor
) -> None:
    course = create(owner)
    archived = owner.client.patch(f"{API}/{course['slug']}", json={"archived": True})
    assert archived.json()["archived"] is True
    refused = learner.client.post(f"{API}/join", json={"code": course["join_code"]})
    assert refused.status_code == 409 and "archived" in refused.json()["message"]
    owner.client.patch(f"{API}/{course['slug']}", json={"archived": False})
    assert learner.client.post(f"{API}/join", json={"code": course["join_code"]}).status_code == 200


def test_a_new_join_code_ends_the_old_one(owner: Visitor, learner: Visitor) -> None:
    course = create(owner)
    renewed = owner.client.post(f"{API}/{course['slug']}/join-code").json()
    assert renewed["join_code"] != course["join_code"]
    old = learner.client.post(f"{API}/join", json={"code": course["join_code"]})
    assert old.status_code == 404
    assert learner.client.post(f"{API}/join", json={"code": renewed["join_code"]}).is_success


def test_renaming_keeps_the_address(owner: Visitor) -> None:
    course = create(owner, "First title")
    renamed = owner.client.patch(f"{API}/{course['slug']}", json={"title": "Second title"})
    assert renamed.json()["title"] == "Second title"
    assert owner.client.get(f"{API}/first-title").json()["title"] == "Second title"


def test_a_learner_leaves_and_staff_remove_a_learner(
    owner: Visitor, learner: Visitor, app: FastAPI, db: Session
) -> None:
    course = create(owner)
    other = signed_in(app, db, make_user(db, "other@example.org", name="Bo"))
    for visitor in (learner, other):
        visitor.client.post(f"{API}/join", json={"code": course["join_code"]})
    listed = owner.client.get(f"{API}/{course['slug']}/learners").json()
    assert [(x["email"], x["display_name"]) for x in listed] == [
        ("learner@example.org", None),
        ("other@example.org", "Bo"),
    ]
    assert learner.client.delete(f"{API}/{course['slug']}/enrolment").status_code == 204
    assert other.user is not None
    removed = owner.client.delete(f"{API}/{course['slug']}/learners/{other.user.id}")
    assert removed.status_code == 204
    assert owner.client.get(f"{API}/{course['slug']}/learners").json() == []
    again = owner.client.delete(f"{API}/{course['slug']}/learners/{other.user.id}")
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("GET", "/no-such-course", None, 404, "slug"),
        ("PATCH", "/{slug}", {"title": "x" * 121}, 422, "title"),
        ("PATCH", "/{slug}", {"title": "   "}, 422, "title"),
        ("PATCH", "/{slug}", {"title": "tab\there"}, 422, "title"),
        ("PATCH", "/{slug}", {"slug": "new-address"}, 422, "slug"),
        ("GET", "/" + "s" * 81, None, 422, "slug"),
        (
            "POST",
            "/{slug}/staff",
            {"email": "a@b.org", "content_role": "admin"},
            422,
            "content_role",
        ),
        ("POST", "/{slug}/staff", {"email": "not an address"}, 422, "email"),
        ("PATCH", "/{slug}/staff/1", {"data_role": "owner"}, 422, "data_role"),
        ("PATCH", "/{slug}/staff/99999999999", {"data_role": "none"}, 422, "user_id"),
        ("DELETE", "/{slug}/staff/2147483647", None, 404, "user_id"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field_never_a_500(
    owner: Visitor, method: str, path: str, body: dict[str, Any] | None, status: int, field: str
) -> None:
    course = create(owner)
    url = API + path.format(slug=course["slug"])
    answer = owner.client.request(method, url, json=body)
    assert answer.status_code == status, answer.text
    problem = answer.json()
    fields = {problem.get("field"), *(e["field"].split(".")[-1] for e in problem.get("errors", []))}
    assert field in fields, problem


def test_an_over_long_title_on_creation_is_a_422_and_no_course_is_made(
    owner: Visitor, db: Session
) -> None:
    answer = owner.client.post(API, json={"title": "x" * 121})
    assert answer.status_code == 422
    assert db.scalar(select(Course)) is None


HOSTILE = ["\x00", "\ud800", "x" * 10_000, "'; drop table courses; --", "../../etc", "%00"]


def encoded(value: str) -> str:
    """Percent-encoded as a client could send it, a lone surrogate included (its UTF-8-like
    bytes, which no decoder accepts)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


@pytest.mark.parametrize("value", HOSTILE, ids=["nul", "surrogate", "huge", "sql", "dots", "pct"])
def test_hostile_values_in_every_course_operation_never_answer_5xx(
    owner: Visitor, value: str
) -> None:
    course = create(owner)
    base, in_path = f"{API}/{course['slug']}", encoded(value)
    tries = [
        ("POST", API, {"title": value}),
        ("POST", f"{API}/join", {"code": value}),
        ("POST", f"{API}/invites/{in_path}", None),
        ("GET", f"{API}/{in_path}", None),
        ("PATCH", base, {"title": value}),
        ("PATCH", base, {"archived": value}),
        ("POST", f"{base}/staff", {"email": value}),
        ("POST", f"{base}/staff", {"email": "a@b.org", "content_role": value}),
        ("PATCH", f"{base}/staff/{in_path}", {"content_role": "viewer"}),
        ("DELETE", f"{base}/learners/{in_path}", None),
        ("GET", f"/courses/join/{in_path}", None),
        ("GET", f"/courses/invites/{in_path}", None),
        ("POST", "/courses", f"title={in_path}&csrf_token={owner.csrf}"),
        ("POST", "/courses/join", f"code={in_path}&csrf_token={owner.csrf}"),
        ("POST", f"/courses/{course['slug']}/staff", f"email={in_path}&csrf_token={owner.csrf}"),
    ]
    for method, url, body in tries:
        if isinstance(body, str):  # a form
            kind, content = "application/x-www-form-urlencoded", body
        else:  # JSON as a client may write it: a lone surrogate escaped, as JSON allows
            kind, content = "application/json", None if body is None else json.dumps(body)
        answer = owner.client.request(method, url, content=content, headers={"content-type": kind})
        assert answer.status_code < 500, (method, url, answer.status_code, answer.text)
        if answer.status_code >= 400 and url.startswith("/api/"):
            assert answer.json()["message"], (method, url)
    must_refuse = value in ("\x00", "\ud800", "x" * 10_000)
    json_type = {"content-type": "application/json"}
    answer = owner.client.post(API, content=json.dumps({"title": value}), headers=json_type)
    assert (answer.status_code == 422) == must_refuse, answer.text
