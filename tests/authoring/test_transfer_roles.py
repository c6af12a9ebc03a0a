"""The role matrix (tests/courses/test_role_matrix.py) for the routes it cannot try itself:
an upload, and the confirmation of that upload's preview. Everyone who may not is refused (401
anonymous; 403 a learner, a content viewer, another course's owner) and nothing changes; an
editor succeeds."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from app.courses import service as courses
from tests.authoring.test_course_practice import numeric
from tests.authoring.test_transfer_api import bank_rows, bank_zip, world_fixture  # noqa: F401
from tests.courses.support import Visitor, anonymous, course_state, make_user, signed_in


def preview(visitor: Visitor, slug: str, api: bool) -> Any:
    data = bank_zip(numeric("fresh", 3))
    files = {"file": ("b.zip", data, "application/zip")}
    if api:
        url = f"/api/v1/courses/{slug}/imports"
        return visitor.client.post(url, params={"format": "yaml"}, files=files)
    form = {"format": "yaml", "csrf_token": visitor.csrf}
    return visitor.client.post(f"/courses/{slug}/import", data=form, files=files)


def confirm(visitor: Visitor, slug: str, import_id: str, api: bool) -> Any:
    if api:
        return visitor.client.post(f"/api/v1/courses/{slug}/imports/{import_id}")
    return visitor.form(f"/courses/{slug}/import/{import_id}")


@pytest.fixture
def refused(world: dict[str, Any], app: FastAPI, db: Session) -> dict[str, tuple[Visitor, int]]:
    other = make_user(db, "other_owner@example.org")
    courses.create_course(db, other.id, "Another course")
    db.commit()
    visitors = world["visitors"]
    return {
        "anonymous": (anonymous(app), 401),
        "learner": (visitors["learner"], 403),
        "viewer": (visitors["viewer"], 403),
        "other_owner": (signed_in(app, db, other), 403),
    }


@pytest.mark.parametrize("api", [True, False], ids=["api", "page"])
def test_an_import_preview_refuses_who_may_not_and_serves_an_editor(
    api: bool, world: dict[str, Any], refused: dict[str, tuple[Visitor, int]], db: Session
) -> None:
    slug = world["course"].slug
    before = (course_state(db), bank_rows(db))
    for who, (visitor, status) in refused.items():
        answer = preview(visitor, slug, api)
        assert answer.status_code == status, (who, answer.text)
        if status == 403:
            assert "content:edit" in answer.text
    assert (course_state(db), bank_rows(db)) == before
    assert preview(world["visitors"]["editor"], slug, api).status_code in (200, 201)


@pytest.mark.parametrize("api", [True, False], ids=["api", "page"])
def test_an_import_confirmation_refuses_who_may_not_and_serves_its_editor(
    api: bool, world: dict[str, Any], refused: dict[str, tuple[Visitor, int]], db: Session
) -> None:
    slug, editor = world["course"].slug, world["visitors"]["editor"]
    import_id = preview(editor, slug, True).json()["import_id"]
    before = (course_state(db), bank_rows(db))
    for who, (visitor, status) in refused.items():
        answer = confirm(visitor, slug, import_id, api)
        assert answer.status_code == status, (who, answer.text)
    assert (course_state(db), bank_rows(db)) == before
    assert confirm(editor, slug, import_id, api).status_code in (200, 303)
    assert bank_rows(db) != before[1]
