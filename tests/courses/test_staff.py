"""Staff: invitations by email (accepted by the invited address only, once, in time), roles
changed, staff removed, and a course that always keeps an owner."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.courses.models import CourseStaff, StaffInvite
from tests.courses.support import Visitor, course_state, make_user, signed_in

API = "/api/v1/courses"


@pytest.fixture
def owner(app: FastAPI, db: Session) -> Visitor:
    return signed_in(app, db, make_user(db, "owner@example.org", name="Ada"))


@pytest.fixture
def slug(owner: Visitor) -> str:
    answer = owner.client.post(API, json={"title": "Vision"})
    return str(answer.json()["slug"])


def invite(owner: Visitor, slug: str, email: str, **roles: str) -> dict[str, Any]:
    answer = owner.client.post(f"{API}/{slug}/staff", json={"email": email, **roles})
    assert answer.status_code == 201, answer.text
    sent: dict[str, Any] = answer.json()
    return sent


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


def test_an_invitation_is_mailed_with_its_link_and_accepted_by_the_address_in_any_case(
    owner: Visitor, slug: str, app: FastAPI, db: Session, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="torchquiz.mail"):
        sent = invite(owner, slug, "Grace@Example.org", content_role="editor", data_role="viewer")
    assert sent["link"].startswith("http://testserver/courses/invites/")
    assert sent["link"] in caplog.text and "to Grace@Example.org" in caplog.text
    grace = signed_in(app, db, make_user(db, "grace@example.ORG"))
    accepted = grace.client.post(f"{API}/invites/{token_of(sent['link'])}")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["roles"]["content_role"] == "editor"
    assert accepted.json()["roles"]["data_role"] == "viewer"
    staff = owner.client.get(f"{API}/{slug}/staff").json()
    assert [m["email"] for m in staff["staff"]] == ["grace@example.org", "owner@example.org"]
    assert staff["invites"] == []


def test_an_invitation_is_refused_to_another_account_and_nothing_changes(
    owner: Visitor, slug: str, app: FastAPI, db: Session
) -> None:
    token = token_of(invite(owner, slug, "grace@example.org")["link"])
    mallory = signed_in(app, db, make_user(db, "mallory@example.org"))
    before = course_state(db)
    refused = mallory.client.post(f"{API}/invites/{token}")
    assert refused.status_code == 403
    assert "sign in as grace@example.org" in refused.json()["message"]
    assert course_state(db) == before
    page = mallory.client.get(f"/courses/invites/{token}")
    assert "but this invitation was sent to grace@example.org" in page.text


def test_an_invitation_works_once(owner: Visitor, slug: str, app: FastAPI, db: Session) -> None:
    token = token_of(invite(owner, slug, "grace@example.org")["link"])
    grace = signed_in(app, db, make_user(db, "grace@example.org"))
    assert grace.client.post(f"{API}/invites/{token}").status_code == 200
    again = grace.client.post(f"{API}/invites/{token}")
    assert again.status_code == 409 and "accepted already" in again.json()["message"]


def test_an_expired_invitation_is_a_409_and_a_wrong_token_a_404(
    owner: Visitor, slug: str, app: FastAPI, db: Session
) -> None:
    token = token_of(invite(owner, slug, "grace@example.org")["link"])
    db.execute(update(StaffInvite).values(expires_at=utcnow() - timedelta(seconds=1)))
    grace = signed_in(app, db, make_user(db, "grace@example.org"))
    expired = grace.client.post(f"{API}/invites/{token}")
    assert expired.status_code == 409 and "expired" in expired.json()["message"]
    wrong = grace.client.post(f"{API}/invites/{token}x")
    assert wrong.status_code == 404 and "wrong" in wrong.json()["message"]
    assert grace.client.get(f"/courses/invites/{token}x").status_code == 404


def test_inviting_someone_on_the_staff_already_is_a_409(owner: Visitor, slug: str) -> None:
    answer = owner.client.post(f"{API}/{slug}/staff", json={"email": "OWNER@example.org"})
    assert answer.status_code == 409 and answer.json()["field"] == "email"


def test_the_last_owner_can_be_neither_demoted_nor_removed_but_one_of_two_can(
    owner: Visitor, slug: str, app: FastAPI, db: Session
) -> None:
    assert owner.user is not None
    me = f"{API}/{slug}/staff/{owner.user.id}"
    before = course_state(db)
    demoted = owner.client.patch(me, json={"content_role": "editor"})
    assert demoted.status_code == 409 and "last owner" in demoted.json()["message"]
    assert owner.client.delete(me).status_code == 409
    assert course_state(db) == before
    # A data-role change of the last owner is allowed: it keeps the course an owner.
    assert owner.client.patch(me, json={"data_role": "viewer"}).json()["data_role"] == "viewer"

    token = token_of(invite(owner, slug, "grace@example.org", content_role="owner")["link"])
    grace = signed_in(app, db, make_user(db, "grace@example.org"))
    grace.client.post(f"{API}/invites/{token}")
    assert owner.client.patch(me, json={"content_role": "viewer"}).status_code == 200
    assert grace.user is not None
    last = grace.client.delete(f"{API}/{slug}/staff/{grace.user.id}")
    assert last.status_code == 409


def test_a_removed_staff_member_loses_access(
    owner: Visitor, slug: str, app: FastAPI, db: Session
) -> None:
    token = token_of(invite(owner, slug, "grace@example.org", data_role="editor")["link"])
    grace = signed_in(app, db, make_user(db, "grace@example.org"))
    grace.client.post(f"{API}/invites/{token}")
    assert grace.client.get(f"{API}/{slug}/learners").status_code == 200
    assert grace.user is not None
    assert owner.client.delete(f"{API}/{slug}/staff/{grace.user.id}").status_code == 204
    assert grace.client.get(f"{API}/{slug}/learners").status_code == 403
    assert db.scalar(select(CourseStaff).where(CourseStaff.user_id == grace.user.id)) is None
