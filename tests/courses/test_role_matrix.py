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
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from sqlalchemy.orm import Session

from app.accounts.service import account_learner
from app.attempts import results
from app.attempts.assignments import attempts as attempt_records
from app.authoring import bank
from app.bank.schema import QuestionAdapter
from app.bank.verification.claim import Verification as VerifyResult
from app.core.deps import get_db
from app.courses import service, staff
from app.courses.deps import CourseAccessCheck
from app.courses.models import Course, CourseStaff, Enrolment
from app.courses.permissions import Permission
from app.gradebook.models import GradeOverride
from app.learners.models import ExternalIdentity, User
from app.reports.models import ProblemReport
from app.webhooks import service as webhooks
from tests.assignments.support import attempt, make_assignment
from tests.courses.support import Visitor, anonymous, course_state, make_user, signed_in

QUESTIONS_DIR = Path(__file__).resolve().parents[2] / "questions"
Need = Permission | str  # or "account" (anyone signed in), "invitee", "public"
INVITEE = "invitee@example.org"

# The course bank's question in the world (`{qid}`): a shipped question without its check, so
# it makes no torch claim and a recorded verify lets it be published. Braces doubled: bodies'
# strings are formatted with the world's values.
BANK_QUESTION: dict[str, Any] = {
    **yaml.safe_load((QUESTIONS_DIR / "birnn/gru-stacked-bidir-param-count.yaml").read_text()),
    "id": "matrix-question",
    "check": None,
}


def _bank_yaml(**changes: Any) -> str:
    text = yaml.safe_dump({**BANK_QUESTION, **changes}, sort_keys=False)
    return text.replace("{", "{{").replace("}", "}}")


BANK_YAML_NEW = _bank_yaml(id="matrix-new")
BANK_YAML_EDITED = _bank_yaml(difficulty="medium")
ASSIGNMENT_JSON = {"title": "Matrix", "rules": {"sources": ["birnn"], "draws": [{"count": 1}]}}
ASSIGNMENT_FORM = {"title": "Matrix", "sources": "birnn", "draw-0-count": "1"}
ASSIGNMENT = "/courses/{slug}/assignments/{aid}"

# (method, path) -> (what it needs, the JSON body or form it is sent with)
HOOKS = "/api/v1/courses/{slug}/webhooks"
HOOK = HOOKS + "/{wid}"
HOOKS_PAGE = "/courses/{slug}/webhooks"
HOOK_PAGE = HOOKS_PAGE + "/{wid}"
SUBMITTED = "attempt.submitted"
ROUTES: dict[tuple[str, str], tuple[Need, dict[str, Any] | None]] = {
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
    # a course's allowed origins for CORS (app.tokens.pages)
    ("POST", "/courses/{slug}/origins"): ("course:manage", {"allowed_origins": "https://lms.test"}),
    # a course bank's practice (app.authoring.practice_pages)
    ("GET", "/courses/{slug}/practice"): ("course:view", None),
    ("POST", "/courses/{slug}/practice"): ("course:view", {}),
    # a course bank in and out of files (app.authoring.transfer_api, transfer_pages)
    ("GET", "/api/v1/courses/{slug}/export"): ("content:view", None),
    ("GET", "/courses/{slug}/import"): ("content:edit", None),
    ("GET", "/courses/{slug}/export"): ("content:view", None),
    ("GET", "/courses/{slug}/export/file"): ("content:view", None),
    # a course's bank over the API (app.authoring.api); {qid}: the world's question
    ("GET", "/api/v1/courses/{slug}/questions"): ("content:view", None),
    ("POST", "/api/v1/courses/{slug}/questions"): ("content:edit", {"yaml": BANK_YAML_NEW}),
    ("POST", "/api/v1/courses/{slug}/questions/copy"): (
        "content:edit",
        {"shipped_id": "gru-stacked-bidir-param-count"},
    ),
    ("POST", "/api/v1/courses/{slug}/questions/bulk"): (
        "content:edit",
        {"action": "retire", "ids": ["{qid}"]},
    ),
    ("GET", "/api/v1/courses/{slug}/questions/{qid}"): ("content:view", None),
    ("PUT", "/api/v1/courses/{slug}/questions/{qid}"): (
        "content:edit",
        {"yaml": BANK_YAML_EDITED, "base_version_id": "{version_id}", "message": "matrix"},
    ),
    ("GET", "/api/v1/courses/{slug}/questions/{qid}/versions"): ("content:view", None),
    ("GET", "/api/v1/courses/{slug}/questions/{qid}/versions/{number}"): ("content:view", None),
    ("GET", "/api/v1/courses/{slug}/questions/{qid}/diff"): ("content:view", None),
    ("POST", "/api/v1/courses/{slug}/questions/{qid}/revert"): ("content:edit", {"number": "1"}),
    ("POST", "/api/v1/courses/{slug}/questions/{qid}/verify"): ("content:edit", None),
    ("POST", "/api/v1/courses/{slug}/questions/{qid}/publish"): ("content:edit", None),
    ("POST", "/api/v1/courses/{slug}/questions/{qid}/retire"): ("content:edit", None),
    # a course bank's pages: list, editor, preview, verify, history (app.authoring.pages)
    ("GET", "/courses/{slug}/bank"): ("content:view", None),
    ("POST", "/courses/{slug}/bank/copy"): (
        "content:edit",
        {"shipped": "gru-stacked-bidir-param-count"},
    ),
    ("POST", "/courses/{slug}/bank/bulk"): (
        "content:edit",
        {"selected": "{qid}", "bulk": "retire"},
    ),
    ("GET", "/courses/{slug}/bank/new"): ("content:edit", None),
    ("POST", "/courses/{slug}/bank/new"): ("content:edit", {"source": BANK_YAML_NEW}),
    ("GET", "/courses/{slug}/bank/{qid}"): ("content:view", None),
    ("POST", "/courses/{slug}/bank/{qid}"): (
        "content:edit",
        {"source": BANK_YAML_EDITED, "base_version_id": "{version_id}", "message": "matrix"},
    ),
    ("POST", "/courses/{slug}/bank/{qid}/convert"): ("content:view", {"to": "form"}),
    ("POST", "/courses/{slug}/bank/{qid}/preview"): ("content:view", {"preview_seed": "3"}),
    ("POST", "/courses/{slug}/bank/{qid}/verify"): ("content:edit", {}),
    ("POST", "/courses/{slug}/bank/{qid}/publish"): ("content:edit", {}),
    ("POST", "/courses/{slug}/bank/{qid}/retire"): ("content:edit", {}),
    ("GET", "/courses/{slug}/bank/{qid}/history"): ("content:view", None),
    ("POST", "/courses/{slug}/bank/{qid}/revert"): ("content:edit", {"number": "1"}),
    # assignments (app.assignments); {aid}: the world's assignment
    ("GET", "/api/v1/courses/{slug}/assignments"): ("content:view", None),
    ("POST", "/api/v1/courses/{slug}/assignments"): ("content:edit", ASSIGNMENT_JSON),
    ("GET", "/api/v1" + ASSIGNMENT): ("content:view", None),
    ("PUT", "/api/v1" + ASSIGNMENT): ("content:edit", ASSIGNMENT_JSON),
    ("DELETE", "/api/v1" + ASSIGNMENT): ("content:edit", None),
    ("GET", "/courses/{slug}/assignments"): ("course:view", None),
    ("GET", "/courses/{slug}/assignments/new"): ("content:edit", None),
    ("POST", "/courses/{slug}/assignments"): ("content:edit", ASSIGNMENT_FORM),
    ("GET", ASSIGNMENT + "/edit"): ("content:edit", None),
    ("POST", ASSIGNMENT + "/edit"): ("content:edit", ASSIGNMENT_FORM),
    ("POST", ASSIGNMENT + "/archive"): ("content:edit", {}),
    # the gradebook (app.gradebook); {session_id}: the world's attempt, by {learner_id}
    ("GET", "/api/v1" + ASSIGNMENT + "/gradebook"): ("results:view", None),
    ("GET", "/api/v1" + ASSIGNMENT + "/gradebook.csv"): ("results:view", None),
    ("GET", "/api/v1" + ASSIGNMENT + "/attempts/{session_id}"): ("results:view", None),
    ("PUT", "/api/v1" + ASSIGNMENT + "/overrides/{learner_id}"): (
        "results:edit",
        {"percent": 50, "reason": "matrix"},
    ),
    ("DELETE", "/api/v1" + ASSIGNMENT + "/overrides/{learner_id}"): (
        "results:edit",
        {"reason": "matrix"},
    ),
    ("POST", "/api/v1" + ASSIGNMENT + "/regrade"): ("results:edit", {"apply": False}),
    ("GET", "/api/v1/courses/{slug}/audit"): ("results:view", None),
    ("GET", ASSIGNMENT + "/gradebook"): ("results:view", None),
    ("GET", ASSIGNMENT + "/gradebook.csv"): ("results:view", None),
    ("GET", ASSIGNMENT + "/attempts/{session_id}"): ("results:view", None),
    ("GET", ASSIGNMENT + "/learners/{learner_id}"): ("results:view", None),
    ("POST", ASSIGNMENT + "/overrides/{learner_id}"): (
        "results:edit",
        {"percent": "50", "reason": "matrix", "action": "set"},
    ),
    ("GET", ASSIGNMENT + "/regrade"): ("results:edit", None),
    ("POST", ASSIGNMENT + "/regrade"): ("results:edit", {"expected": "{{}}"}),
    ("GET", "/courses/{slug}/audit"): ("results:view", None),
    # item statistics (app.statistics)
    ("GET", "/api/v1" + ASSIGNMENT + "/statistics"): ("results:view", None),
    ("GET", ASSIGNMENT + "/statistics"): ("results:view", None),
    ("GET", "/courses/{slug}/statistics"): ("results:view", None),
    # problem reports on the course's questions (app.reports); {rid}: the world's report
    ("GET", "/api/v1/courses/{slug}/reports"): ("content:view", None),
    ("GET", "/api/v1/courses/{slug}/reports/{rid}"): ("content:view", None),
    ("POST", "/api/v1/courses/{slug}/reports/{rid}/messages"): ("content:edit", {"text": "matrix"}),
    ("PATCH", "/api/v1/courses/{slug}/reports/{rid}"): (
        "content:edit",
        {"status": "acknowledged"},
    ),
    ("GET", "/courses/{slug}/reports"): ("content:view", None),
    ("GET", "/courses/{slug}/reports/{rid}"): ("content:view", None),
    ("POST", "/courses/{slug}/reports/{rid}/messages"): ("content:edit", {"text": "matrix"}),
    ("POST", "/courses/{slug}/reports/{rid}/status"): ("content:edit", {"status": "acknowledged"}),
    # the LMS's side (issue 14): learners by external id, attempts listed, LTI, webhooks
    ("PUT", "/api/v1/courses/{slug}/learners/external"): (
        "results:edit",
        {"issuer": "https://lms.test", "subject": "matrix-1"},
    ),
    ("GET", "/api/v1/courses/{slug}/learners/external"): ("results:view", None),
    ("GET", "/api/v1/courses/{slug}/attempts"): ("results:view", None),
    ("GET", "/courses/{slug}/lti"): ("results:view", None),
    ("POST", "/courses/{slug}/lti/roster-sync"): ("results:edit", {}),
    ("POST", "/api/v1/courses/{slug}/lti/roster-sync"): ("results:edit", None),
    ("GET", HOOKS): ("course:manage", None),
    ("POST", HOOKS): ("course:manage", {"url": "https://lms.test/hook", "events": [SUBMITTED]}),
    ("GET", HOOK): ("course:manage", None),
    ("PATCH", HOOK): ("course:manage", {"active": False}),
    ("DELETE", HOOK): ("course:manage", None),
    ("GET", HOOK + "/deliveries"): ("course:manage", None),
    ("POST", HOOK + "/deliveries/{message_id}/replay"): ("course:manage", None),
    ("POST", HOOK + "/test"): ("course:manage", None),
    ("GET", HOOKS_PAGE): ("course:manage", None),
    ("GET", HOOKS_PAGE + "/new"): ("course:manage", None),
    ("GET", HOOK_PAGE): ("course:manage", None),
    ("POST", HOOKS_PAGE): ("course:manage", {"url": "https://lms.test/hook", "events": SUBMITTED}),
    ("POST", HOOK_PAGE): (
        "course:manage",
        {"url": "https://lms.test/hook", "events": SUBMITTED, "active": "on"},
    ),
    ("POST", HOOK_PAGE + "/delete"): ("course:manage", {}),
    ("POST", HOOK_PAGE + "/test"): ("course:manage", {}),
    ("POST", HOOK_PAGE + "/deliveries/{message_id}/replay"): ("course:manage", {}),
}
# Query strings a route needs to succeed (the matrix's keys are the routes' paths).
QUERIES = {
    ("GET", "/api/v1/courses/{slug}/learners/external"): "?issuer=https://lms.test&subject=old-1",
}

# Routes whose requests this matrix cannot make (a file upload; the confirmation of a preview
# made by that upload): tried the same way in tests/authoring/test_transfer_roles.py, and
# checked here for their entry and the permission they ask.
ELSEWHERE: dict[tuple[str, str], Need] = {
    ("POST", "/api/v1/courses/{slug}/imports"): "content:edit",
    ("POST", "/api/v1/courses/{slug}/imports/{import_id}"): "content:edit",
    ("POST", "/courses/{slug}/import"): "content:edit",
    ("POST", "/courses/{slug}/import/{import_id}"): "content:edit",
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

    def body(self, body: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if body is None else {k: self._filled(v) for k, v in body.items()}

    def _filled(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._filled(item) for item in value]
        if isinstance(value, dict):
            return {k: self._filled(v) for k, v in value.items()}
        return value.format(**self.values) if isinstance(value, str) else value


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
    question = QuestionAdapter.validate_python(BANK_QUESTION)
    row = bank.create_question(db, course, question, author_id=users["owner"].id, message="")
    version = bank.version_of(db, row)
    passed = VerifyResult(question.id, [])  # no torch claim to check: see BANK_QUESTION
    bank.record_verification(db, version, passed, seeds=0, torch="none", run_by=None)
    work = course_work(app, db, course, users["learner_target"], row, version)
    values = {
        **work,
        "slug": course.slug,
        "code": course.join_code,
        "token": invite.token,
        "staff_target": str(users["staff_target"].id),
        "learner_target": str(users["learner_target"].id),
        "qid": row.slug,
        "number": str(version.number),
        "version_id": str(version.id),
    }
    return World(course, visitors, values)


def course_work(
    app: FastAPI, db: Session, course: Course, learner: User, row: Any, version: Any
) -> dict[str, str]:
    """An assignment with a learner's submitted attempt and overridden grade, and a report on
    the bank's question: what the gradebook's and the reports' routes are about."""
    catalog = app.state.catalog
    assignment = make_assignment(db, catalog, course)
    mine = account_learner(db, learner)
    results.finish_test(db, catalog, attempt(db, catalog, assignment, mine))
    attempted = attempt_records(db, assignment, mine.id)[0]
    report = ProblemReport(
        question_id=row.id, version_id=version.id, course_id=course.id, kind="typo", rendered=""
    )
    db.add(report)
    db.add(GradeOverride(assignment_id=assignment.id, learner_id=mine.id, percent=10, reason="x"))
    db.add(ExternalIdentity(issuer="https://lms.test", subject="old-1", user_id=learner.id))
    hook = webhooks.create(db, course, url="https://lms.test/hook", events=["attempt.submitted"])
    sent = webhooks.send_test(db, course, hook)
    db.flush()
    return {
        "wid": hook.public_id,
        "message_id": str(sent.id),
        "aid": assignment.public_id,
        "session_id": attempted.public_id,
        "learner_id": mine.public_id,
        "rid": report.public_id,
    }


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
    url = world.url(path, need) + QUERIES.get((method, path), "")
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
    url = world.url(path, need) + QUERIES.get((method, path), "")
    answer = send(admin, method, url, world.body(body))
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
    assert set(routes) == set(ROUTES) | set(ELSEWHERE)


def test_every_course_route_asks_the_permission_its_matrix_entry_says(app: FastAPI) -> None:
    for key, context in course_routes(app).items():
        need = ROUTES[key][0] if key in ROUTES else ELSEWHERE[key]
        asked = asked_permission(context.dependant)
        assert asked == (need if ":" in need else None), key


def test_every_course_route_is_given_the_session_its_access_check_reads_on(
    app: FastAPI,
) -> None:
    """app.core.routing ends the transaction of a session the route itself takes; one read
    only by a dependency would stay open (and hold SQLite's write lock) after the answer."""
    for key, context in course_routes(app).items():
        calls = {d.call for d in context.dependant.dependencies}
        # An async route (one awaiting the runner) cannot take a session: its access check's
        # transaction is ended by the dependency, before the wait.
        ends_its_own = any(getattr(call, "then_close", False) for call in calls)
        assert get_db in calls or ends_its_own, key
