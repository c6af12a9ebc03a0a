"""Names and Role Provisioning against the emulated LMS: a roster read page by page and synced
into the course's enrolments, its staff and so its gradebook."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.courses.models import CourseStaff, Enrolment
from app.learners.models import ExternalIdentity, User
from tests.assignments.support import make_class
from tests.courses.support import make_user, signed_in
from tests.gradebook.support import fixed_assignment
from tests.lti.emulator import INSTRUCTOR, LEARNER, ROLE_LEARNER, Platform
from tests.lti.emulator import User as LmsUser
from tests.lti.services_support import (
    known_as,
    link_course,
    lms_fixture,  # noqa: F401 - the `lms` fixture
)

BEA = LmsUser("learner-2", "Bea Second", (ROLE_LEARNER,), "bea@lms.example")
CAL = LmsUser("learner-3", "Cal Third", (ROLE_LEARNER,), "taken@example.org")
DEE = LmsUser("learner-4", "Dee Gone", (ROLE_LEARNER,), "dee@lms.example")


def _roster(lms: Platform) -> None:
    """Five members on three pages of two: two new learners, an instructor, one learner
    whose email is a local account's, and one the LMS lists as Inactive."""
    lms.page_size = 2
    gone = {**DEE.member(), "status": "Inactive"}
    lms.members = [LEARNER.member(), INSTRUCTOR.member(), BEA.member(), CAL.member(), gone]


def _user_of(db: Session, lms: Platform, sub: str) -> User | None:
    return db.scalar(
        select(User)
        .join(ExternalIdentity, ExternalIdentity.user_id == User.id)
        .where(ExternalIdentity.issuer == lms.issuer, ExternalIdentity.subject == sub)
    )


def test_a_roster_of_three_pages_is_synced_into_enrolments_staff_and_the_gradebook(
    app: FastAPI, db: Session, lms: Platform
) -> None:
    group = make_class(db, learners=0, prefix="nrps1")
    course = group.course
    assignment = fixed_assignment(db, app.state.catalog, course, title="Quiz")
    link_course(db, lms, course, f"assignment:{assignment.public_id}")
    local = make_user(db, "taken@example.org", name="Local Person")
    dee = make_user(db, "dee@example.org", name="Dee Gone")
    known_as(db, lms, dee, DEE.sub)
    db.add(Enrolment(course_id=course.id, user_id=dee.id))
    _roster(lms)
    owner = signed_in(app, db, group.owner)

    answer = owner.client.post(f"/api/v1/courses/{course.slug}/lti/roster-sync")

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "contexts": 1,
        "members": 5,
        "created": 4,
        "enrolled": 3,
        "staffed": 1,
        "unenrolled": 1,
        "errors": [],
    }
    assert [p for m, p, _ in lms.requests if m == "GET"].count("/memberships") == 3
    db.expire_all()
    enrolled = set(db.scalars(select(Enrolment.user_id).where(Enrolment.course_id == course.id)))
    learners = {_user_of(db, lms, u.sub) for u in (LEARNER, BEA, CAL)}
    assert enrolled == {u.id for u in learners if u is not None} and len(learners) == 3
    teacher = _user_of(db, lms, INSTRUCTOR.sub)
    assert teacher is not None
    assert db.get(CourseStaff, (course.id, teacher.id)) is not None
    cal = _user_of(db, lms, CAL.sub)
    # The LMS's word on an address never joins a local account: Cal is a new account.
    assert cal is not None and cal.id != local.id and cal.email is None
    assert (_user_of(db, lms, BEA.sub) or User()).email is None  # never an unchecked address

    book = owner.client.get(
        f"/api/v1/courses/{course.slug}/assignments/{assignment.public_id}/gradebook"
    )
    assert book.status_code == 200, book.text
    assert sorted(row["name"] for row in book.json()["rows"]) == [
        "Ada Learner",
        "Bea Second",
        "Cal Third",
    ]


def test_syncing_twice_changes_nothing_the_second_time(
    app: FastAPI, db: Session, lms: Platform
) -> None:
    group = make_class(db, learners=0, prefix="nrps2")
    link_course(db, lms, group.course, None)
    _roster(lms)
    owner = signed_in(app, db, group.owner)
    url = f"/api/v1/courses/{group.course.slug}/lti/roster-sync"
    assert owner.client.post(url).json()["created"] == 4  # none for Dee, Inactive

    again = owner.client.post(url).json()

    assert (again["members"], again["created"], again["enrolled"], again["staffed"]) == (5, 0, 0, 0)


def test_the_roster_sync_needs_results_edit(app: FastAPI, db: Session, lms: Platform) -> None:
    group = make_class(db, learners=1, prefix="nrps3")
    link_course(db, lms, group.course, None)
    learner = signed_in(app, db, group.learners[0])

    answer = learner.client.post(f"/api/v1/courses/{group.course.slug}/lti/roster-sync")

    assert answer.status_code == 403
    assert "results:edit" in answer.json()["message"]
    assert not [r for r in lms.requests if r[1] == "/memberships"]


def test_the_course_lti_page_s_button_syncs_and_says_what_it_did(
    app: FastAPI, db: Session, lms: Platform
) -> None:
    group = make_class(db, learners=0, prefix="nrps4")
    link_course(db, lms, group.course, None)
    _roster(lms)
    owner = signed_in(app, db, group.owner)
    page = owner.client.get(f"/courses/{group.course.slug}/lti")
    assert page.status_code == 200 and "Sync the roster from the LMS" in page.text
    assert lms.context_title in page.text

    answer = owner.form(f"/courses/{group.course.slug}/lti/roster-sync")

    assert answer.status_code == 200, answer.text
    assert 'role="status"' in answer.text
    assert "5 members listed, 4 new accounts, 3 learners enrolled" in answer.text


def test_a_roster_the_lms_refuses_is_reported_not_a_500(
    app: FastAPI, db: Session, lms: Platform
) -> None:
    group = make_class(db, learners=0, prefix="nrps5")
    link_course(db, lms, group.course, None)
    lms.fail_next(1, status=403, on="memberships")
    owner = signed_in(app, db, group.owner)

    answer = owner.client.post(f"/api/v1/courses/{group.course.slug}/lti/roster-sync")

    assert answer.status_code == 200
    [error] = answer.json()["errors"]
    assert "403" in error and lms.context_title in error
