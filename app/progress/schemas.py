"""Progress and mistakes, as the API returns them and the pages show them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

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
    mastered: int = Field(
        description=(
            "Questions whose latest answer is correct, found without the solution or every hint."
        )
    )
    correct_with_help: int = Field(
        description=(
            "Questions whose latest answer is correct but came after the solution or the last "
            "hint was shown in that session: not counted as mastered."
        )
    )
    answers: int
    correct_answers: int
    correct_rate: float | None
    by_difficulty: dict[str, LevelProgress]


class Mistake(BaseModel):
    question: QuestionPublic
    given: object
    answered_at: datetime
    mode: str = Field(description="Where the answer was given: practice or test.")
    session: str = Field(
        description="That session's id: its feedback or review shows the solution."
    )
    position: int
    answer_id: int
