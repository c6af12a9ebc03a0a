"""A course with staff, learners and an assignment over the shipped bank, made in the
database as the services would, for the assignment, gradebook and statistics tests."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session

from app.accounts.service import account_learner
from app.attempts import assignments
from app.attempts.models import Assignment
from app.attempts.records import SessionRecord
from app.attempts.rules import AssignmentRules
from app.courses import service as courses
from app.courses.models import Course
from app.learners.models import Learner, User
from app.questions.catalog import Catalog
from tests.courses.support import Visitor, make_user, signed_in

SHIPPED = "birnn"


def rules(**changes: Any) -> dict[str, Any]:
    """An assignment's rules as JSON: 2 easy and 2 medium from the shipped topic, unless
    changed."""
    base: dict[str, Any] = {
        "sources": [SHIPPED],
        "draws": [{"count": 2, "difficulty": "easy"}, {"count": 2, "difficulty": "medium"}],
    }
    return AssignmentRules.model_validate({**base, **changes}).model_dump(mode="json")


def make_assignment(
    db: Session, catalog: Catalog, course: Course, title: str = "Homework 1", **changes: Any
) -> Assignment:
    """An assignment filed under the shipped topic (what the rules' first source is)."""
    assignment = Assignment(
        course_id=course.id,
        topic_id=catalog.topic(SHIPPED).id,
        title=title,
        rules=rules(**changes),
    )
    db.add(assignment)
    db.flush()
    return assignment


@dataclass
class Class:
    """A course, its owner (all roles), and enrolled learners with their accounts."""

    course: Course
    owner: User
    learners: list[User]

    def learner_of(self, db: Session, user: User) -> Learner:
        return account_learner(db, user)

    def visitor(self, app: FastAPI, db: Session, user: User) -> Visitor:
        return signed_in(app, db, user)


def make_class(db: Session, learners: int = 2, prefix: str = "c") -> Class:
    owner = make_user(db, f"{prefix}-owner@example.org", name="Owner")
    course = courses.create_course(db, owner.id, "Assigned course")  # owner, data editor
    people = []
    for n in range(learners):
        user = make_user(db, f"{prefix}-learner{n}@example.org", name=f"Learner {n}")
        courses.join(db, course, user.id)
        people.append(user)
    db.flush()
    return Class(course, owner, people)


def attempt(
    db: Session,
    catalog: Catalog,
    assignment: Assignment,
    learner: Learner,
    *,
    seed: int = 1,
    now: datetime | None = None,
) -> SessionRecord:
    return assignments.start_attempt(
        db, catalog, assignment, learner, rng=random.Random(seed), now=now
    )
