"""A course with an editor and a viewer of its content, and the editor's form as a browser posts
it: what the editor page tests share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session

from app.authoring import editor
from app.bank.loader import load_bank
from app.bank.schema import AnyQuestion
from app.courses import service as courses
from app.courses.models import Course, CourseStaff
from tests.courses.support import Visitor, make_user, signed_in

ROOT = Path(__file__).resolve().parents[2]


@cache
def shipped() -> dict[str, AnyQuestion]:
    bank = load_bank(ROOT / "questions")
    return {q.question.id: q.question for t in bank.topics.values() for q in t.questions}


def shipped_of(kind: str, *, template: bool = False) -> AnyQuestion:
    return next(
        q for q in shipped().values() if q.type == kind and (q.variants is not None) == template
    )


@dataclass
class Staff:
    course: Course
    editor: Visitor
    viewer: Visitor

    def url(self, path: str = "") -> str:
        return f"/courses/{self.course.slug}/bank{path}"


def staff_of_a_course(app: FastAPI, db: Session) -> Staff:
    owner = make_user(db, "owner@example.org")
    course = courses.create_course(db, owner.id, "Deep learning")
    people = {}
    for role in ("editor", "viewer"):
        user = make_user(db, f"{role}@example.org", name=role.capitalize())
        db.add(
            CourseStaff(course_id=course.id, user_id=user.id, content_role=role, data_role="none")
        )
        people[role] = user
    db.flush()
    return Staff(course, signed_in(app, db, people["editor"]), signed_in(app, db, people["viewer"]))


def form_data(question: AnyQuestion, **changes: str) -> dict[str, Any]:
    """The editor's inputs holding `question` (then `changes`), as the page posts them."""
    values: dict[str, Any] = dict(editor.form_of(question).values)
    values.update(changes)
    return {"type": question.type, **values}


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden input {name}"
    return found.group(1)
