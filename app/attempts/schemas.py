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
    flagged: bool | None = Field(
        default=None,
        description="Tests only: true marks the question to revisit before finishing, false "
        "clears the mark; left out, the mark stays as it is.",
    )


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
    flagged_positions: list[int] = Field(description="Tests: questions marked to revisit.")
    assignment: str | None = Field(
        default=None, description="Tests: the assignment this is an attempt at (its id)."
    )
    attempt: int | None = Field(default=None, description="Tests: 1 for the first attempt...")
    deadline_at: datetime | None = Field(
        default=None,
        description="Tests: when the server submits the attempt by itself (time limit or "
        "close date); answers after it are refused with 409.",
    )
    seconds_left: int | None = Field(default=None, description="Until `deadline_at`, if any.")


class PracticeFeedback(BaseModel):
    answer_id: int
    position: int
    correct: bool
    score: float
    given: GivenAnswer
    solution: Solution | None = Field(
        description=(
            "The explanation. Null for a code question not yet answered correctly in this "
            "session: the learner may ask for it (POST .../questions/{position}/solution), "
            "and an answer given after that does not count as mastered."
        )
    )


class HintRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: int = Field(ge=1, le=20, description="The hint to reveal, from 1, in order.")


class Hints(BaseModel):
    """The hints revealed so far at a practice question, in order."""

    position: int
    hints_html: list[str]
    total: int = Field(description="How many hints the question has.")


class TestAck(BaseModel):
    position: int
    saved: bool = True
    answered_count: int
    total: int
    correct: bool | None = Field(
        default=None, description="Only where the assignment gives feedback immediately."
    )
    score: float | None = Field(
        default=None, description="Only where the assignment gives feedback immediately."
    )


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
    grade: float = Field(description="The percent that counts: less a late penalty, if any.")
    late: bool = Field(description="Submitted after the assignment's close date.")
    review_shown: bool = Field(
        description="False while the assignment withholds answers and solutions: `review` is "
        "then empty and `review_note` says when they show."
    )
    review_note: str | None = None
    review: list[ReviewItem]


class PracticeSummaryItem(BaseModel):
    position: int
    question_id: str
    difficulty: str
    attempts: int
    correct: bool | None = Field(description="The latest answer's grading; null if unanswered.")
    helped: bool = Field(description="The latest answer came after the solution or last hint.")
    answer_id: int | None = Field(description="The latest answer, for its feedback.")


class PracticeSummary(BaseModel):
    """A practice session at a glance: what was answered, right alone, right with help."""

    session: SessionView
    answered: int
    correct: int
    correct_with_help: int
    time_spent_seconds: int = Field(description="From the session's start to its last answer.")
    items: list[PracticeSummaryItem]


class SessionListItem(BaseModel):
    """One of a learner's sessions, to resume it or look back at it."""

    id: str
    mode: Mode
    topic: str
    total: int
    answered: int
    started_at: datetime
    finished_at: datetime | None
    percent: float | None = Field(description="A finished test's score.")
    resume_position: int | None = Field(
        description="Where to carry on: the first question not answered; null when finished."
    )
