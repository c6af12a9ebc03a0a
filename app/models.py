"""Every table, imported in one place for Alembic and the test fixtures."""

from app.attempts.models import Answer, Assignment, QuizSession
from app.core.db import Base
from app.courses.models import Course, CourseStaff, Enrolment, StaffInvite
from app.gradebook.models import AuditEntry, GradeOverride
from app.lab.models import LabRun
from app.learners.models import AccountSession, ExternalIdentity, Learner, PasswordReset, User
from app.outbox.models import OutboxMessage
from app.questions.models import QuestionRow, QuestionVersion, TopicRow, Verification
from app.reports.models import ProblemReport, ReportMessage

__all__ = [
    "AccountSession",
    "Answer",
    "Assignment",
    "AuditEntry",
    "Base",
    "Course",
    "CourseStaff",
    "Enrolment",
    "ExternalIdentity",
    "GradeOverride",
    "LabRun",
    "Learner",
    "OutboxMessage",
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
]
