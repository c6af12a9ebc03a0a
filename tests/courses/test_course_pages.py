"""The course pages without JavaScript: forms that post and redirect with a notice, refusals
shown next to their field with the error's status, the join and invitation links for visitors
who are not signed in, and CSRF refused."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.courses import service
from app.courses.models import Course, Enrolment
from tests.courses.support import Visitor, anonymous, course_state, make_user, signed_in


@pytest.fixture
def owner(app: FastAPI, db: Session) -> Visitor:
    return signed_in(app, db, make_user(db, "owner@example.org", name="Ada"))


@pytest.fixture
def course(owner: Visitor, db: Session) -> Course:
    assert owner.user is not None
    return service.create_course(db, owner.user.id, "Sequence models")


def status_text(html: str) -> str:
    found = re.search(r'<div role="status"[^>]*>(.*?)</div>', html, re.S)
    assert found, "no status region on the page"
    return found[1].strip()


def test_creating_a_course_by_form_leads_to_its_home_with_the_join_code(
    owner: Visitor, db: Session
) -> None:
    created = owner.form("/courses", {"title": "Sequence models"})
    assert created.status_code == 303
    assert created.headers["location"].endswith("/courses/sequence-models?done=created")
    home = owner.client.get(created.headers["location"])
    course = db.scalar(select(Course))
    assert course is not None
    assert status_text(home.text).startswith("Course created.")
    assert f'<code id="join-code">{course.join_code}</code>' in home.text
    assert f"http://testserver/courses/join/{course.join_code}" in home.text


def test_an_over_long_title_is_shown_next_to_its_field_and_nothing_is_made(
    owner: Visitor, db: Session
) -> None:
    refused = owner.form("/courses", {"title": "x" * 121})
    assert refused.status_code == 422
    assert 'aria-invalid="true"' in refused.text
    assert re.search(r'<p class="error" id="title-problem">[^<]*120 characters', refused.text)
    assert db.scalar(select(Course)) is None


def test_a_form_without_its_csrf_token_or_with_another_browsers_is_refused_changing_nothing(
    owner: Visitor, course: Course, db: Session, app: FastAPI
) -> None:
    before = course_state(db)
    someone_elses = anonymous(app).csrf
    for url, data in (
        ("/courses", {"title": "Forged"}),
        (f"/courses/{course.slug}/rename", {"title": "Forged"}),
        (f"/courses/{course.slug}/join-code", {}),
    ):
        missing = owner.client.post(url, data=data)
        assert missing.status_code == 422 and "csrf_token" in missing.text
        forged = owner.client.post(url, data={**data, "csrf_token": someone_elses})
        assert forged.status_code == 403 and "came from another site" in forged.text
    assert course_state(db) == before


def test_a_visitor_on_the_join_link_is_sent_to_sign_in_or_up_and_back(
    app: FastAPI, course: Course
) -> None:
    page = anonymous(app).client.get(f"/courses/join/{course.join_code}")
    assert page.status_code == 200
    back = quote(f"/courses/join/{course.join_code}", safe="")
    assert f'href="/account/sign-in?next={back}"' in page.text
    assert f'href="/account/sign-up?next={back}"' in page.text
    assert "<button" not in page.text.split("<main", 1)[1]


def test_a_signed_in_learner_joins_from_the_link_and_sees_the_learner_view(
    app: FastAPI, db: Session, course: Course
) -> None:
    learner = signed_in(app, db, make_user(db, "learner@example.org"))
    link = f"/courses/join/{course.join_code}"
    assert "Join Sequence models</button>" in learner.client.get(link).text
    joined = learner.form(link)
    assert joined.status_code == 303
    home = learner.client.get(joined.headers["location"])
    assert status_text(home.text) == "You have joined the course."
    assert course.join_code not in home.text  # staff share the code, learners do not see it
    assert "Leave this course" in home.text and "Staff of" not in home.text
    assert db.get(Enrolment, (course.id, learner.user.id)) is not None  # type: ignore[union-attr]


def test_a_wrong_code_in_the_join_form_is_named_next_to_the_field(
    app: FastAPI, db: Session
) -> None:
    learner = signed_in(app, db, make_user(db, "learner@example.org"))
    refused = learner.form("/courses/join", {"code": "ZZZZZZZZ"})
    assert refused.status_code == 404
    assert re.search(
        r'<p class="error" id="code-problem">no course has this join code', refused.text
    )
    assert 'value="ZZZZZZZZ"' in refused.text


def test_demoting_the_last_owner_by_form_is_refused_next_to_their_roles(
    owner: Visitor, course: Course, db: Session
) -> None:
    assert owner.user is not None
    uid = owner.user.id
    refused = owner.form(
        f"/courses/{course.slug}/staff/{uid}", {"content_role": "editor", "data_role": "editor"}
    )
    assert refused.status_code == 409
    assert re.search(rf'<p class="error" id="roles-{uid}-problem">cannot demote', refused.text)
    assert 'aria-describedby="roles-' in refused.text
    assert db.get_one(type(owner.user), uid) is not None


def test_inviting_by_form_confirms_with_the_link_and_a_bad_address_is_named(
    owner: Visitor, course: Course
) -> None:
    sent = owner.form(
        f"/courses/{course.slug}/staff",
        {"email": "grace@example.org", "content_role": "editor", "data_role": "none"},
    )
    assert sent.status_code == 200
    assert re.match(
        r"Invitation sent to grace@example.org\. .*http://testserver/courses/invites/",
        status_text(sent.text),
    )
    assert "grace@example.org: content editor, learner data none" in sent.text
    bad = owner.form(f"/courses/{course.slug}/staff", {"email": "grace"})
    assert bad.status_code == 422
    assert '<p class="error" id="email-problem">' in bad.text


def test_pages_that_need_an_account_answer_401_to_a_visitor(app: FastAPI, course: Course) -> None:
    visitor = anonymous(app)
    for url in ("/courses", f"/courses/{course.slug}"):
        page = visitor.client.get(url)
        assert page.status_code == 401 and "sign in first" in page.text
