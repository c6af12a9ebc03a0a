"""Every table, imported in one place for Alembic and the test fixtures."""

from app.attempts.models import Answer, Assignment, QuizSession
from app.authoring.models import CourseImport
from app.core.db import Base
from app.core.idempotency import IdempotencyKey
from app.courses.models import Course, CourseStaff, Enrolment, StaffInvite
from app.gradebook.models import AuditEntry, GradeOverride
from app.lab.models import LabRun
from app.learners.models import AccountSession, ExternalIdentity, Learner, PasswordReset, User
from app.lti.grades import LtiLineItem, LtiScore
from app.lti.models import (
    LtiContext,
    LtiDeepLink,
    LtiLogin,
    LtiPlatform,
    LtiResourceLink,
    LtiToolKey,
)
from app.outbox.models import OutboxMessage, OutboxTry
from app.questions.models import QuestionRow, QuestionVersion, TopicRow, Verification
from app.reports.models import ProblemReport, ReportMessage
from app.tokens.models import ApiToken
from app.webhooks.models import WebhookMessage, WebhookSubscription

__all__ = [
    "AccountSession",
    "Answer",
    "ApiToken",
    "Assignment",
    "AuditEntry",
    "Base",
    "Course",
    "CourseImport",
    "CourseStaff",
    "Enrolment",
    "ExternalIdentity",
    "GradeOverride",
    "IdempotencyKey",
    "LabRun",
    "Learner",
    "LtiContext",
    "LtiDeepLink",
    "LtiLineItem",
    "LtiLogin",
    "LtiPlatform",
    "LtiResourceLink",
    "LtiScore",
    "LtiToolKey",
    "OutboxMessage",
    "OutboxTry",
    "PasswordReset",
    "ProblemReport",
    "QuestionRow",
    "QuestionVersion",
    "QuizSession",
    "ReportMessage",
    "StaffInvite",
    "TopicRow",
    "User",
    "Verification",
    "WebhookMessage",
    "WebhookSubscription",
]
