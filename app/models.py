"""Every table, imported in one place for Alembic and the test fixtures."""

from app.attempts.models import Answer, QuizSession
from app.core.db import Base
from app.courses.models import Course, CourseStaff, Enrolment, StaffInvite
from app.lab.models import LabRun
from app.learners.models import AccountSession, Learner, PasswordReset, User
from app.questions.models import QuestionRow, QuestionVersion, TopicRow, Verification

__all__ = [
    "AccountSession",
    "Answer",
    "Base",
    "Course",
    "CourseStaff",
    "Enrolment",
    "LabRun",
    "Learner",
    "PasswordReset",
    "QuestionRow",
    "QuestionVersion",
    "QuizSession",
    "StaffInvite",
    "TopicRow",
    "User",
    "Verification",
]
