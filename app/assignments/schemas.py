"""What the assignment API takes and answers; the staff form parses into the same `AssignmentIn`
(app.assignments.forms), so a rule is checked once whichever face sets it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.attempts.rules import AssignmentRules, Feedback, LatePolicy
from app.core.bounds import Name


class AssignmentIn(BaseModel):
    """A new assignment, or an assignment's new title and rules (PUT replaces both)."""

    model_config = ConfigDict(extra="forbid")

    title: Name
    rules: AssignmentRules


class AssignmentOut(BaseModel):
    """An assignment as its course's staff see it."""

    id: str = Field(description="Its public id: the learners' link is /assignments/{id}.")
    course: str = Field(description="The course's slug.")
    title: str
    rules: AssignmentRules
    topic: str = Field(description="The topic its attempts are filed under.")
    learner_url: str
    archived: bool
    created_at: datetime
    updated_at: datetime
    learners_attempted: int = Field(description="Learners with at least one attempt.")
    submitted_attempts: int = Field(description="Attempts submitted, or ended by the timer.")


class AssignmentList(BaseModel):
    assignments: list[AssignmentOut]
    count: int


class AttemptOut(BaseModel):
    """One of the learner's attempts; `score` and `grade` once it is submitted."""

    number: int
    session_id: str
    started_at: datetime
    finished_at: datetime | None
    deadline_at: datetime | None = Field(description="When the server ends it by itself.")
    score: float | None = Field(description="Percent of the marks.")
    grade: float | None = Field(description="The score less any late penalty, in percent.")
    late: bool


class AssignmentStart(BaseModel):
    """What a learner sees before starting: the rules in words, their attempts, and whether
    they may start (or continue) now."""

    id: str
    title: str
    course: str = Field(description="The course's title.")
    questions: int = Field(description="How many questions an attempt asks.")
    time_limit_minutes: int | None
    opens_at: datetime | None
    closes_at: datetime | None
    late: LatePolicy
    late_until: datetime | None
    late_penalty_percent: int
    feedback: Feedback
    attempts_allowed: int | None
    attempts_used: int
    summary: list[str] = Field(description="The rules, in sentences.")
    can_start: bool = Field(description="A new attempt may start now.")
    refusal: str | None = Field(description="Why a new attempt cannot start, in words.")
    open_attempt: str | None = Field(description="The open attempt's session id, to continue.")
    attempts: list[AttemptOut]
    grade_set_by_staff: float | None = Field(
        default=None,
        description="A grade the course's staff set by hand: it is the one that counts.",
    )
