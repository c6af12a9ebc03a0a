"""Every table, imported in one place for Alembic and the test fixtures."""

from app.attempts.models import Answer, QuizSession
from app.core.db import Base
from app.lab.models import LabRun
from app.learners.models import Learner, User
from app.questions.models import QuestionRow, QuestionVersion, TopicRow

__all__ = [
    "Answer",
    "Base",
    "LabRun",
    "Learner",
    "QuestionRow",
    "QuestionVersion",
    "QuizSession",
    "TopicRow",
    "User",
]
