"""The role matrix over every course route, API and page: each is tried by everyone who may
not use it (anonymous: 401; a learner of the course, a staff member one role short, another
course's owner: 403) and nothing in the course tables changes; then by the smallest role that
may, which succeeds. The routes are read from the app itself: a new course route without an
entry in ROUTES fails test_every_course_route_has_an_entry_in_the_matrix.

Pages refuse as the API does: 401 (the error page, saying to sign in) rather than a redirect,
except the join and invitation links, which anonymous visitors may open (they link to sign in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from app.core.deps import get_db
from app.courses import service, staff
from app.courses.deps import CourseAccessCheck
from app.courses.models import Course, CourseStaff, Enrolment
from app.courses.permissions import Permission
from tests.courses.support import Visitor, anonymous, course_state, make_user, signed_in

Need = Permission | str  # or "account" (anyone signed in), "invitee", "public"
INVITEE = "invitee@example.org"

# (method, path) -> (what it needs, the JSON body or form it is sent with)
ROUTES: dict[tuple[str, str], tuple[Need, dict[str, str] | None]] = {
    # the API
    ("GET", "/api/v1/courses"): ("account", None),
    ("POST", "/api/v1/courses"): ("account", {"title": "Matrix course"}),
    ("POST", "/api/v1/courses/join"): ("account", {"code": "{code}"}),
    ("POST", "/api/v1/courses/invites/{token}"): ("invitee", None),
    ("GET", "/api/v1/courses/{slug}"): ("course:view", None),
    ("PATCH", "/api/v1/courses/{slug}"): ("course:manage", {"title": "Renamed"}),
    ("POST", "/api/v1/courses/{slug}/join-code"): ("course:manage", None),
    ("DELETE", "/api/v1/courses/{slug}/enrolment"): ("course:view", None),
    ("GET", "/api/v1/courses/{slug}/staff"): ("content:view", None),
    ("POST", "/api/v1/courses/{slug}/staff"): ("course:manage", {"email": "new@example.org"}),
    ("PATCH", "/api/v1/courses/{slug}/staff/{user_id}"): ("course:manage", {"data_role": "viewer"}),
    ("DELETE", "/api/v1/courses/{slug}/staff/{user_id}"): ("course:manage", None),
    ("GET", "/api/v1/courses/{slug}/learners"): ("results:view", None),
    ("DELETE", "/api/v1/courses/{slug}/learners/{user_id}"): ("results:edit", None),
    # the pages
    ("GET", "/courses"): ("account", None),
    ("POST", "/courses"): ("account", {"title": "Matrix course"}),
    ("GET", "/courses/join"): ("public", None),
    ("POST", "/courses/join"): ("account", {"code": "{code}"}),
    ("GET", "/courses/join/{code}"): ("public", None),
    ("POST", "/courses/join/{code}"): ("account", {}),
    ("GET", "/courses/invites/{token}"): ("public", None),
    ("POST", "/courses/invites/{token}"): ("invitee", {}),
    ("GET", "/courses/{slug}"): ("course:view", None),
    ("POST", "/courses/{slug}/rename"): ("course:manage", {"title": "Renamed"}),
    ("POST", "/courses/{slug}/archive"): ("course:manage", {"archived": "on"}),
    ("POST", "/courses/{slug}/join-code"): ("course:manage", {}),
    ("POST", "/courses/{slug}/staff"): ("course:manage", {"email": "new@example.org"}),
    ("POST", "/courses/{slug}/staff/{user_id}"): (
        "course:manage",
        {"content_role": "viewer", "data_role": "viewer"},
    ),
    ("POST", "/courses/{slug}/staff/{user_id}/remove"): ("course:manage", {}),
    ("POST", "/courses/{slug}/learners/{user_id}/remove"): ("results:edit", {}),
    ("POST", "/courses/{slug}/leave"): ("course:view", {}),
}

# Staff of the course, (content role, data role) each; the first who may is tried last.
STAFF = {
    "viewer": ("viewer", "none"),
    "editor": ("editor", "none"),
    "data_viewer": ("viewer", "viewer"),
    "data_editor": ("viewer", "editor"),
    "staff_target": ("viewer", "none"),
}
SMALLEST_ALLOWED = {
    "course:view": "learner",
    "content:view": "viewer",
    "content:edit": "editor",
    "course:manage": "owner",
    "results:view": "data_viewer",
    "results:edit": "data_editor",
    "account": "outsider",
    "invitee": "invitee",
    "public": "anonymous",
}
# One role short on the permission's own axis (an owner with no learner-data role is short of
# results:view: the axes are independent).
ONE_SHORT = {
    "content:edit": "viewer",
    "course:manage": "editor",
    "results:view": "editor",
    "results:edit": "data_viewer",
}


@dataclass
class World:
    course: Course
    visitors: dict[str, Visitor]
    values: dict[str, str]

    def url(self, path: str, need: Need) -> str:
        target = "learner_target" if "/learners/" in path else "staff_target"
        return path.format(**self.values, user_id=self.values[target])

    def body(self, body: dict[str, str] | None) -> dict[str, str] | None:
        return None if body is None else {k: v.format(**self.values) for k, v in body.items()}


@pytest.fixture
def world(app: FastAPI, db: Session) -> World:
    users = {name: make_user(db, f"{name}@example.org") for name in ("owner", "other_owner")}
    course = service.create_course(db, users["owner"].id, "Deep learning")
    service.create_course(db, users["other_owner"].id, "Another course")
    for name, (content, data) in STAFF.items():
        users[name] = make_user(db, f"{name}@example.org")
        db.add(
            CourseStaff(
                course_id=course.id, user_id=users[name].id, content_role=content, data_role=data
            )
        )
    for name in ("learner", "learner_target", "outsider"):
        users[name] = make_user(db, f"{name}@example.org")
    users["invitee"] = make_user(db, INVITEE)
    for name in ("learner", "learner_target"):
        db.add(Enrolment(course_id=course.id, user_id=users[name].id))
    invite = staff.invite(db, course, INVITEE, "editor", "viewer", invited_by=users["owner"].id)
    db.flush()
    visitors = {name: signed_in(app, db, user) for name, user in users.items()}
    visitors["anonymous"] = anonymous(app)
    values = {
        "slug": course.slug,
        "code": course.join_code,
        "token": invite.token,
        "staff_target": str(users["staff_target"].id),
        "learner_target": str(users["learner_target"].id),
    }
    return World(course, visitors, values)


def send(visitor: Visitor, method: str, url: str, body: dict[str, str] | None) -> Any:
    if url.startswith("/api/"):
        return visitor.client.request(method, url, json=body)
    if method == "GET":
        return visitor.client.get(url)
    return visitor.form(url, body)


def refused_by(need: Need) -> dict[str, int]:
    """Who must be refused, with which status."""
    if need == "public":
        return {}
    refused = {"anonymous": 401}
    if need == "invitee":
        return refused | {"other_owner": 403}  # signed in, with another address
    if need == "account":
        return refused
    refused["other_owner"] = 403
    if need != "course:view":
        refused["learner"] = 403
    if need in ONE_SHORT:
        refused[ONE_SHORT[need]] = 403
    return refused


@pytest.mark.parametrize(("method", "path"), list(ROUTES), ids=[f"{m} {p}" for m, p in ROUTES])
def test_a_course_route_refuses_who_may_not_and_changes_nothing_then_serves_who_may(
    method: str, path: str, world: World, db: Session
) -> None:
    need, body = ROUTES[method, path]
    url = world.url(path, need)
    before = course_state(db)
    for who, status in refused_by(need).items():
        answer = send(world.visitors[who], method, url, world.body(body))
        assert answer.status_code == status, (who, answer.text)
        if status == 403 and need.count(":"):
            assert need in answer.text  # the refusal names the permission needed
        assert course_state(db) == before, f"{who} changed the course tables"
    allowed = SMALLEST_ALLOWED[need]
    answer = send(world.visitors[allowed], method, url, world.body(body))
    assert answer.status_code in (200, 201, 204, 303), (allowed, answer.text)


@pytest.mark.parametrize(("method", "path"), list(ROUTES), ids=[f"{m} {p}" for m, p in ROUTES])
def test_a_site_admin_may_use_every_course_route(
    method: str, path: str, world: World, db: Session, app: FastAPI
) -> None:
    need, body = ROUTES[method, path]
    if need in ("invitee", "course:view") and method != "GET":
        pytest.skip("accepting someone's invitation or leaving needs that person")
    admin = signed_in(app, db, make_user(db, "admin@example.org", admin=True))
    answer = send(admin, method, world.url(path, need), world.body(body))
    assert answer.status_code in (200, 201, 204, 303), answer.text


def course_routes(app: FastAPI) -> dict[tuple[str, str], Any]:
    found = {}
    for route in app.router.routes:
        for context in getattr(route, "effective_route_contexts", list)():
            if context.path_format.startswith(("/courses", "/api/v1/courses")):
                for method in context.methods:
                    found[method, context.path_format] = context
    return found


def asked_permission(dependant: Any) -> str | None:
    for sub in dependant.dependencies:
        if isinstance(sub.call, CourseAccessCheck):
            return sub.call.permission
        if found := asked_permission(sub):
            return found
    return None


def test_every_course_route_has_an_entry_in_the_matrix(app: FastAPI) -> None:
    routes = course_routes(app)
    assert set(routes) == set(ROUTES)


def test_every_course_route_asks_the_permission_its_matrix_entry_says(app: FastAPI) -> None:
    for key, context in course_routes(app).items():
        need = ROUTES[key][0]
        asked = asked_permission(context.dependant)
        assert asked == (need if ":" in need else None), key


def test_every_course_route_is_given_the_session_its_access_check_reads_on(
    app: FastAPI,
) -> None:
    """app.core.routing ends the transaction of a session the route itself takes; one read
    only by a dependency would stay open (and hold SQLite's write lock) after the answer."""
    for key, context in course_routes(app).items():
        assert get_db in {d.call for d in context.dependant.dependencies}, key
