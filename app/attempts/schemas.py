"""Requests and responses for practice and test sessions, shared by the API and the pages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, FiniteFloat

from app.bank.schema import Difficulty
from app.core.bounds import Position, Slug, Tag, storable
from app.questions.schemas import QuestionForPractice, QuestionPublic, Solution

Mode = Literal["practice", "test"]
# Text a database stores and a response encodes; a number JSON can write back (no NaN).
RawAnswer = Annotated[str | int | FiniteFloat | list[str] | list[int], AfterValidator(storable)]
# What is stored and shown back: a raw answer, or for code, {"code", "tests": [...]}.
GivenAnswer = RawAnswer | dict[str, Any]


class StartSession(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: Slug
    mode: Mode
    difficulty: Difficulty | None = Field(default=None, description="Practice only.")
    tag: Tag | None = Field(default=None, description="Practice only.")
    mistakes_only: bool = Field(default=False, description="Practice only: my wrong answers.")


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: Position = Field(description="1-based position of the question in the session.")
    answer: RawAnswer = Field(
        description=(
            "Choice: option letter(s) such as 'B' or ['A', 'C']; numeric: a number; "
            "tensor shape: '4, 7, 6', '[4, 7, 6]', '(4, 7, 6)', 'torch.Size([4, 7, 6])' "
            "or [4, 7, 6]; short text: a string."
        )
    )
    time_taken_ms: int | None = Field(default=None, ge=0, le=86_400_000)


class SessionQuestion(BaseModel):
    position: int
    question: QuestionPublic | QuestionForPractice
    answered: bool
    saved_answer: GivenAnswer | None = None


class SessionView(BaseModel):
    id: str
    mode: Mode
    topic: str
    total: int
    filters: dict[str, object]
    started_at: datetime
    finished_at: datetime | None
    elapsed_seconds: int
    answered_positions: list[int]


class PracticeFeedback(BaseModel):
    answer_id: int
    position: int
    correct: bool
    score: float
    given: GivenAnswer
    solution: Solution


class TestAck(BaseModel):
    position: int
    saved: bool = True
    answered_count: int
    total: int


class DifficultyScore(BaseModel):
    correct: int
    total: int
    points: float


class ReviewItem(BaseModel):
    position: int
    question: QuestionPublic
    given: GivenAnswer | None
    correct: bool
    score: float
    solution: Solution


class TestResult(BaseModel):
    session: SessionView
    percent: float
    points: float
    max_points: int
    correct_count: int
    by_difficulty: dict[str, DifficultyScore]
    review: list[ReviewItem]
