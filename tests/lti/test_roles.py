"""Resource-link launches land a learner in the right place, signed in: the account matched or
made by (issuer, sub), the course by (platform, context id), the LTI roles mapped to course
roles (a downgrade on a later launch applied), the link's grade and roster services noted, and
the account cookie written to reach us inside the LMS frame."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.courses.models import Course, CourseStaff, Enrolment
from app.learners.models import AccountSession, ExternalIdentity, User
from app.lti.launch import load_deep_link
from app.lti.models import LtiContext, LtiResourceLink
from app.lti.roles import CourseRoles, course_roles, may_deep_link
from tests.assignments.support import make_assignment
from tests.lti.emulator import ADMIN, INSTRUCTOR, LEARNER, Platform, query_of
from tests.lti.emulator import User as LmsUser

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
TA = LmsUser(
    "ta-1",
    "Tim Assistant",
    (LIS + "membership#Instructor", LIS + "membership/Instructor#TeachingAssistant"),
)


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ([LIS + "membership#Instructor"], CourseRoles("owner", "editor")),
        ([LIS + "membership#Administrator"], CourseRoles("owner", "editor")),
        ([LIS + "institution/person#Administrator"], CourseRoles("owner", "editor")),
        (list(TA.roles), CourseRoles("viewer", "editor")),
        ([LIS + "membership#Learner"], CourseRoles(learner=True)),
        (["Learner"], CourseRoles(learner=True)),  # the deprecated simple name
        (["Instructor"], CourseRoles("owner", "editor")),
        ([LIS + "membership#Mentor"], CourseRoles()),
        ([], CourseRoles()),
    ],
)
def test_lti_roles_map_to_course_roles(roles: list[str], expected: CourseRoles) -> None:
    assert course_roles(roles) == expected


def test_only_instructors_and_administrators_may_deep_link() -> None:
    assert may_deep_link([LIS + "membership#Instructor"])
    assert may_deep_link([LIS + "institution/person#Administrator"])
    assert not may_deep_link([LIS + "membership#Learner"])
    assert not may_deep_link([LIS + "membership/Instructor#TeachingAssistant"])


def launch_as(tool: TestClient, platform: Platform, user: LmsUser, **claims: Any) -> Any:
    """The whole browser flow: the login at the tool, then the platform's signed id_token."""
    started = tool.get("/lti/login", params=platform.login_params(platform.launch(user)))
    assert started.status_code == 302, started.text
    sent = query_of(started.headers["location"])
    token = platform.id_token(user, nonce=sent["nonce"], **claims)
    return tool.post("/lti/launch", data={"id_token": token, "state": sent["state"]})


def account_of(db: Session, platform: Platform, sub: str) -> User:
    db.expire_all()
    user = db.scalar(
        select(User)
        .join(ExternalIdentity, ExternalIdentity.user_id == User.id)
        .where(ExternalIdentity.issuer == platform.issuer, ExternalIdentity.subject == sub)
    )
    assert user is not None
    return user


def course_of(db: Session, platform: Platform) -> Course:
    context = db.scalar(select(LtiContext).where(LtiContext.context_id == platform.context_id))
    assert context is not None
    course = db.get(Course, context.course_id)
    assert course is not None
    return course


def test_a_learner_launch_makes_the_account_course_and_enrolment_and_lands_on_the_assignment(
    app: FastAPI, tool: TestClient, platform: Platform, db: Session
) -> None:
    first = launch_as(tool, platform, INSTRUCTOR)  # makes the course, as the LMS's teacher
    assert first.status_code == 303, first.text
    course = course_of(db, platform)
    assert first.headers["location"] == f"/courses/{course.slug}"
    assert course.title == platform.context_title
    assignment = make_assignment(db, app.state.catalog, course, "Week 1 quiz")
    db.commit()
    learner_browser = TestClient(app, base_url="https://testserver", follow_redirects=False)
    landed = launch_as(
        learner_browser, platform, LEARNER, target=f"assignment:{assignment.public_id}"
    )
    assert landed.status_code == 303, landed.text
    assert landed.headers["location"] == f"/assignments/{assignment.public_id}"
    (cookie,) = [c for c in landed.headers.get_list("set-cookie") if c.startswith("tq_account=")]
    attributes = {part.strip() for part in cookie.split(";")[1:]}
    assert {"Secure", "SameSite=None", "Partitioned", "HttpOnly", "Path=/"} <= attributes
    user = account_of(db, platform, LEARNER.sub)
    assert user.email is None and user.password_hash is None
    assert user.display_name == LEARNER.name
    assert db.get(Enrolment, (course.id, user.id)) is not None
    assert db.get(CourseStaff, (course.id, user.id)) is None
    assert db.scalar(select(func.count()).where(AccountSession.user_id == user.id)) == 1
    page = learner_browser.get(landed.headers["location"])  # signed in by that cookie
    assert page.status_code == 200, page.text[:300]
    assert "Week 1 quiz" in page.text
    link = db.scalar(select(LtiResourceLink).where(LtiResourceLink.resource_link_id == "link-1"))
    assert link is not None and link.target == f"assignment:{assignment.public_id}"
    assert link.ags_lineitems == platform.lineitems_url
    assert link.nrps_url == platform.memberships_url
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in link.ags_scopes


def test_a_second_launch_matches_the_same_account_and_course(
    app: FastAPI, tool: TestClient, platform: Platform, db: Session
) -> None:
    assert launch_as(tool, platform, LEARNER).status_code == 303
    assert launch_as(tool, platform, LEARNER).status_code == 303
    db.expire_all()
    subjects = db.scalars(
        select(ExternalIdentity.subject).where(ExternalIdentity.issuer == platform.issuer)
    ).all()
    assert list(subjects) == [LEARNER.sub]
    contexts = db.scalars(select(LtiContext).where(LtiContext.context_id == platform.context_id))
    assert len(list(contexts)) == 1
    user = account_of(db, platform, LEARNER.sub)
    assert db.scalar(select(func.count()).where(AccountSession.user_id == user.id)) == 2


def test_staff_roles_follow_the_lms_and_a_downgrade_is_applied(
    tool: TestClient, platform: Platform, db: Session
) -> None:
    assert launch_as(tool, platform, INSTRUCTOR).status_code == 303
    course = course_of(db, platform)
    teacher = account_of(db, platform, INSTRUCTOR.sub)
    staff = db.get(CourseStaff, (course.id, teacher.id))
    assert staff is not None and (staff.content_role, staff.data_role) == ("owner", "editor")
    assert launch_as(tool, platform, ADMIN).status_code == 303
    admin = db.get(CourseStaff, (course.id, account_of(db, platform, ADMIN.sub).id))
    assert admin is not None and (admin.content_role, admin.data_role) == ("owner", "editor")
    assert launch_as(tool, platform, TA).status_code == 303
    ta = db.get(CourseStaff, (course.id, account_of(db, platform, TA.sub).id))
    assert ta is not None and (ta.content_role, ta.data_role) == ("viewer", "editor")
    demoted = launch_as(tool, platform, INSTRUCTOR, roles=[LIS + "membership#Learner"])
    assert demoted.status_code == 303
    db.expire_all()
    assert db.get(CourseStaff, (course.id, teacher.id)) is None
    assert db.get(Enrolment, (course.id, teacher.id)) is not None


def test_an_instructor_deep_linking_launch_hands_over_to_the_picker(
    tool: TestClient, platform: Platform, db: Session
) -> None:
    answer = launch_as(tool, platform, INSTRUCTOR, message_type="LtiDeepLinkingRequest")
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith("/lti/deep-link/")
    request = load_deep_link(db, location.rsplit("/", 1)[1])
    assert request.return_url == platform.deep_link_return_url
    assert request.data == "opaque-platform-data"
    assert request.accept_types == ("ltiResourceLink",)
    assert request.user_id == account_of(db, platform, INSTRUCTOR.sub).id
    assert request.course_id == course_of(db, platform).id


def test_a_link_to_an_assignment_that_does_not_exist_is_refused_and_signs_nobody_in(
    tool: TestClient, platform: Platform, db: Session
) -> None:
    answer = launch_as(tool, platform, LEARNER, target="assignment:no-such-assignment")
    assert answer.status_code == 404
    assert "no-such-assignment" in answer.text
    assert "tq_account" not in answer.headers.get("set-cookie", "")
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(ExternalIdentity)) == 0


def test_a_practice_link_lands_on_the_topic_practice_page(
    tool: TestClient, platform: Platform
) -> None:
    answer = launch_as(tool, platform, LEARNER, target="practice:birnn")
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/topics/birnn/practice"
    assert tool.get("/topics/birnn/practice").status_code == 200


def test_an_account_made_by_a_launch_has_no_email_and_its_pages_and_api_still_work(
    tool: TestClient, platform: Platform
) -> None:
    assert launch_as(tool, platform, LEARNER).status_code == 303
    me = tool.get("/api/v1/account")
    assert me.status_code == 200, me.text
    assert me.json()["email"] is None and me.json()["display_name"] == LEARNER.name
    page = tool.get("/account")
    assert page.status_code == 200 and "signed in from your LMS" in page.text
    assert tool.get("/courses").status_code == 200


def test_a_launch_with_no_role_we_know_leaves_the_standing_held_so_far(
    tool: TestClient, platform: Platform, db: Session
) -> None:
    assert launch_as(tool, platform, LEARNER).status_code == 303
    course = course_of(db, platform)
    learner = account_of(db, platform, LEARNER.sub)
    roleless = LmsUser(LEARNER.sub, LEARNER.name, (), LEARNER.email)
    assert launch_as(tool, platform, roleless).status_code == 303
    assert db.get(Enrolment, (course.id, learner.id)) is not None


def test_signing_out_inside_the_lms_frame_also_clears_the_partitioned_account_cookie(
    tool: TestClient, platform: Platform
) -> None:
    assert launch_as(tool, platform, LEARNER).status_code == 303
    answer = tool.post("/api/v1/account/sign-out")
    assert answer.status_code in (200, 204), answer.text
    cleared = answer.headers.get_list("set-cookie")
    assert any(
        c.startswith("tq_account=;") and "Partitioned" in c and "Max-Age=0" in c for c in cleared
    )
    assert tool.get("/api/v1/account").status_code == 401
