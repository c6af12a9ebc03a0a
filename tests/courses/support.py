"""Signed-in test clients without the sign-in pages: an account's session started in the
database and its cookie set, as app.accounts would after a sign-in.

Accounts are made with one Argon2 hash per test process (hashing takes ~0.1 s), so a test may
make a dozen; `password` signs any of them in through the real pages where a test wants that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.accounts.passwords import hash_password
from app.accounts.service import account_learner, start_session
from app.attempts.models import Answer, Assignment, QuizSession
from app.courses.models import Course, CourseStaff, Enrolment, StaffInvite
from app.gradebook.models import AuditEntry, GradeOverride
from app.learners.identity import ACCOUNT_COOKIE, COOKIE
from app.learners.models import User
from app.questions.models import QuestionRow, QuestionVersion, Verification
from app.reports.models import ProblemReport, ReportMessage

PASSWORD = "a long enough password"


@cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


def make_user(db: Session, email: str, *, admin: bool = False, name: str | None = None) -> User:
    user = User(
        email=email.lower(),
        display_name=name,
        password_hash=_password_hash(),
        site_role="admin" if admin else "learner",
    )
    db.add(user)
    db.flush()
    return user


@dataclass
class Visitor:
    """A browser: its client, and the CSRF token its pages' forms carry."""

    client: TestClient
    csrf: str
    user: User | None = None

    def form(self, url: str, data: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return self.client.post(url, data={**(data or {}), "csrf_token": self.csrf}, **kwargs)


def new_client(app: FastAPI) -> TestClient:
    return TestClient(app, base_url="http://testserver", follow_redirects=False)


def signed_in(app: FastAPI, db: Session, user: User) -> Visitor:
    """A client signed in as `user`."""
    token = start_session(db, user, timedelta(days=1))
    learner = account_learner(db, user).public_id
    client = new_client(app)
    client.cookies.set(ACCOUNT_COOKIE, app.state.tokens.issue_account(token, learner))
    return Visitor(client, app.state.tokens.csrf_token(learner), user)


def anonymous(app: FastAPI, public_id: str = "00000000-0000-4000-8000-000000000001") -> Visitor:
    """A client with an anonymous learner's cookie: its forms pass the CSRF check."""
    client = new_client(app)
    client.cookies.set(COOKIE, app.state.tokens.issue(public_id))
    return Visitor(client, app.state.tokens.csrf_token(public_id))


def course_state(db: Session) -> list[tuple[Any, ...]]:
    """Every row of the course tables, to show that a refused request changed nothing."""
    db.expire_all()
    rows: list[tuple[Any, ...]] = []
    for table in (Course, CourseStaff, Enrolment, StaffInvite):
        columns = table.__table__.columns
        # By key: PostgreSQL cannot order by a JSON column (courses.allowed_origins).
        key = [column for column in columns if column.primary_key]
        for row in db.scalars(select(table).order_by(*key)):
            rows.append((table.__name__, *(getattr(row, c.key) for c in columns)))
    return rows + course_bank_state(db) + course_work_state(db)


def course_work_state(db: Session) -> list[tuple[Any, ...]]:
    """Every row of what courses set and record: assignments, their attempts and answers,
    grade overrides, the audit log, problem reports and their threads; in key order."""
    rows: list[tuple[Any, ...]] = []
    for table in (
        Assignment,
        QuizSession,
        Answer,
        GradeOverride,
        AuditEntry,
        ProblemReport,
        ReportMessage,
    ):
        mapped = table.__table__
        for row in db.scalars(select(table).order_by(*mapped.primary_key.columns)):
            rows.append((table.__name__, *(getattr(row, c.key) for c in mapped.columns)))
    return rows


def course_bank_state(db: Session) -> list[tuple[Any, ...]]:
    """Every row of the courses' own banks (app.authoring): questions, versions, verify runs;
    in id order (PostgreSQL cannot order by a JSON column)."""
    in_courses = select(QuestionRow.id).where(QuestionRow.course_id.is_not(None))
    versions = select(QuestionVersion.id).where(QuestionVersion.question_id.in_(in_courses))
    rows: list[tuple[Any, ...]] = []
    for table, where in (
        (QuestionRow, QuestionRow.id.in_(in_courses)),
        (QuestionVersion, QuestionVersion.id.in_(versions)),
        (Verification, Verification.version_id.in_(versions)),
    ):
        columns = table.__table__.columns
        for row in db.scalars(select(table).where(where).order_by(table.id)):
            rows.append((table.__name__, *(getattr(row, c.key) for c in columns)))
    return rows
