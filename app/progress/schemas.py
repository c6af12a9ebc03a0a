"""Progress and mistakes, as the API returns them and the pages show them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from app.questions.schemas import QuestionPublic


class LevelProgress(BaseModel):
    total_questions: int
    seen: int
    answers: int
    correct_answers: int
    correct_rate: float | None  # None until something is answered


class TopicProgress(BaseModel):
    topic: str
    title: str
    total_questions: int
    seen: int
    mastered: int  # questions whose latest answer is correct
    answers: int
    correct_answers: int
    correct_rate: float | None
    by_difficulty: dict[str, LevelProgress]


class Mistake(BaseModel):
    question: QuestionPublic
    given: object
    answered_at: datetime
