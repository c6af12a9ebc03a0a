"""Rows in every table that refers to a learner or an account, for the backup and privacy
tests: `seed_person` gives one person a row in each, and the rows other people keep."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attempts.models import Answer, Assignment, Flag, QuizSession, Reveal
from app.core.db import utcnow
from app.core.idempotency import IdempotencyKey
from app.courses.models import Course, CourseStaff, Enrolment, StaffInvite
from app.gradebook.models import AuditEntry, GradeOverride
from app.lab.models import LabRun
from app.learners.models import AccountSession, ExternalIdentity, Learner, PasswordReset, User
from app.lti.grades import LtiLineItem, LtiScore
from app.lti.models import LtiDeepLink, LtiPlatform
from app.outbox.models import OutboxMessage, OutboxTry
from app.questions.models import QuestionRow, QuestionVersion
from app.reports.models import ProblemReport, ReportMessage
from app.tokens.models import ApiToken


@dataclass(frozen=True)
class Place:
    """What the people of a test share: a course with its owner, an assignment, a platform."""

    course: Course
    owner: User
    assignment: Assignment
    platform: LtiPlatform
    line_item: LtiLineItem
    version: QuestionVersion


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def place(db: Session) -> Place:
    tag = _tag()
    version = db.scalars(select(QuestionVersion).order_by(QuestionVersion.id)).first()
    assert version is not None, "the shipped bank is synced"
    owner = User(email=f"owner-{tag}@example.org", display_name="Owner")
    db.add(owner)
    db.flush()
    course = Course(slug=f"c-{tag}", title="Course", join_code=tag, created_by=owner.id)
    db.add(course)
    db.flush()
    db.add(
        CourseStaff(course_id=course.id, user_id=owner.id, content_role="owner", data_role="editor")
    )
    topic_id = db.scalar(
        select(QuestionVersion.question_id).where(QuestionVersion.id == version.id)
    )
    topic = db.scalar(select(QuestionRow.topic_id).where(QuestionRow.id == topic_id))
    assignment = Assignment(
        course_id=course.id, topic_id=topic, title="Test", rules={}, created_by=owner.id
    )
    platform = LtiPlatform(
        name="LMS",
        issuer=f"https://lms-{tag}.example.org",
        client_id="client",
        auth_login_url="https://lms.example.org/auth",
        token_url="https://lms.example.org/token",
        jwks_url="https://lms.example.org/jwks",
    )
    db.add_all([assignment, platform])
    db.flush()
    line_item = LtiLineItem(platform_id=platform.id, url=f"https://lms/{tag}", url_hash=tag * 8)
    db.add(line_item)
    db.flush()
    return Place(course, owner, assignment, platform, line_item, version)


def seed_person(db: Session, at: Place, *, with_account: bool = True) -> Learner:
    """A learner (with an account) who did a bit of everything."""
    tag = _tag()
    user = None
    if with_account:
        user = User(email=f"Learner-{tag}@Example.org", display_name=f"L {tag}", password_hash="x")
        db.add(user)
        db.flush()
    learner = Learner(user_id=user.id if user else None)
    db.add(learner)
    db.flush()
    now = utcnow()
    session = QuizSession(
        learner_id=learner.id,
        topic_id=at.assignment.topic_id,
        mode="test",
        version_ids=[at.version.id],
        assignment_id=at.assignment.id,
        attempt=1,
        score=0.5,
        finished_at=now,
    )
    db.add(session)
    db.flush()
    db.add_all(
        [
            Answer(
                session_id=session.id,
                learner_id=learner.id,
                question_version_id=at.version.id,
                position=0,
                slot=0,
                given={"choice": tag},
                correct=True,
                score=1.0,
            ),
            Reveal(
                session_id=session.id, learner_id=learner.id, position=0, number=1, gives_away=False
            ),
            Flag(session_id=session.id, position=0),
            LabRun(
                learner_id=learner.id,
                config={"lr": 0.1},
                config_key=tag,
                torch_version="2",
                status="done",
            ),
            GradeOverride(
                assignment_id=at.assignment.id,
                learner_id=learner.id,
                percent=90,
                reason="r",
                set_by=at.owner.id,
            ),
            AuditEntry(
                course_id=at.course.id,
                actor_id=at.owner.id,
                action="grade.override",
                target={"assignment": at.assignment.public_id, "learner": learner.public_id},
                after=90,
                reason="r",
            ),
            IdempotencyKey(
                caller=hashlib.sha256(f"learner:{learner.public_id}".encode()).hexdigest(),
                key=tag,
                method="POST",
                path="/api/v1/x",
                body_hash="0" * 64,
                expires_at=now + timedelta(hours=24),
            ),
        ]
    )
    report = ProblemReport(
        question_id=at.version.question_id,
        version_id=at.version.id,
        course_id=at.course.id,
        learner_id=learner.id,
        session_id=session.id,
        kind="typo",
        given={"choice": tag},
        rendered="the question",
    )
    db.add(report)
    outbox = OutboxMessage(
        kind="ags_score", key=f"1:{learner.id}", payload={"learner": learner.id}, status="delivered"
    )
    db.add(outbox)
    db.flush()
    db.add_all(
        [
            ReportMessage(
                report_id=report.id,
                author_id=user.id if user else None,
                from_staff=False,
                body="typo",
            ),
            ReportMessage(
                report_id=report.id, author_id=at.owner.id, from_staff=True, body="fixed"
            ),
            OutboxTry(message_id=outbox.id, outcome="delivered", status=200),
        ]
    )
    if user is not None:
        subject = f"sub-{tag}"
        db.add_all(
            [
                AccountSession(
                    token_hash=tag * 8, user_id=user.id, expires_at=now + timedelta(days=1)
                ),
                PasswordReset(token_hash=(tag * 8)[::-1], user_id=user.id, expires_at=now),
                ExternalIdentity(issuer=at.platform.issuer, subject=subject, user_id=user.id),
                LtiScore(line_item_id=at.line_item.id, subject=subject),
                ApiToken(
                    user_id=user.id,
                    kind="personal",
                    name="t",
                    prefix="tqp_x",
                    token_hash=tag * 7 + "abcdefgh",
                    scopes=[],
                ),
                LtiDeepLink(
                    platform_id=at.platform.id,
                    user_id=user.id,
                    deployment_id="d",
                    settings={},
                    expires_at=now,
                ),
                Enrolment(course_id=at.course.id, user_id=user.id),
                StaffInvite(
                    course_id=at.course.id,
                    email=user.email or "",
                    content_role="viewer",
                    data_role="none",
                    token_hash=tag * 7 + "ijklmnop",
                    invited_by=at.owner.id,
                    expires_at=now,
                ),
            ]
        )
    db.flush()
    return learner
