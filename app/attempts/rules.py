"""An assignment's rules, and the decisions they make about one attempt: pure functions.

What the rules say, and how each is decided:
- Questions: fixed ones (`questions`, as "topic/question"), then random draws by difficulty
  and tag (`draws`), topped up from the whole pool to `top_up_to` when a draw comes short.
  The pool is the questions of the topics in `sources` (the course's bank, shipped topics).
- Attempts allowed (None: any number); starting while an attempt is open resumes it.
- Time limit and close date: an attempt's deadline is the earlier of its start plus the time
  limit and the last moment it may be submitted (the close date, or with a late penalty the
  late cut-off). The server refuses answers after the deadline (with GRACE for one in flight)
  and an attempt left open counts as submitted at its deadline.
- Late policy: "refuse" closes the assignment at `closes_at`; "penalty" still accepts attempts
  until `late_until` (or forever) and takes `late_penalty_percent` off a late attempt's grade.
- Feedback: when a learner sees which answers were right. "immediately" after each answer,
  "after_submission" in the result, "after_close" once the close date has passed, "never".
  The score itself is shown once the attempt is submitted, whatever this says.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from app.bank.schema import Difficulty
from app.core.bounds import SLUG_LENGTH, Slug, Tag

Feedback = Literal["immediately", "after_submission", "after_close", "never"]
LatePolicy = Literal["refuse", "penalty"]
# A question of the pool, named by its topic and its own slug: a course bank and the shipped
# bank may each hold a question of the same slug.
QuestionRef = Annotated[
    str, Field(min_length=3, max_length=2 * SLUG_LENGTH + 1, pattern=r"^[^/\s]+/[^/\s]+$")
]
# An answer saved this long after the deadline still counts: it was sent in time.
GRACE = timedelta(seconds=5)
MAX_QUESTIONS = 100


class Draw(BaseModel):
    """`count` questions at random from the pool, of this difficulty and tag when given."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, le=MAX_QUESTIONS)
    difficulty: Difficulty | None = None
    tag: Tag | None = None


class AssignmentRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[Slug] = Field(min_length=1, max_length=20, description="Topics to draw from.")
    questions: list[QuestionRef] = Field(default=[], max_length=MAX_QUESTIONS)
    draws: list[Draw] = Field(default=[], max_length=20, validate_default=True)
    top_up_to: int | None = Field(default=None, ge=1, le=MAX_QUESTIONS)
    # Prefer questions the learner has not just met in practice (the shipped topic's test).
    prefer_unseen: bool = False
    attempts_allowed: int | None = Field(default=None, ge=1, le=100)
    time_limit_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    opens_at: AwareDatetime | None = None
    closes_at: AwareDatetime | None = None
    late: LatePolicy = "refuse"
    late_until: AwareDatetime | None = None
    late_penalty_percent: int = Field(default=0, ge=0, le=100)
    shuffle_questions: bool = False
    shuffle_options: bool = True
    variant_per_learner: bool = False
    feedback: Feedback = "after_submission"

    # Each check that spans fields is filed under the field it faults (a form shows it
    # there): pydantic validates fields in order, so the ones before are in `info.data`.
    @field_validator("draws")
    @classmethod
    def _some_questions(cls, draws: list[Draw], info: ValidationInfo) -> list[Draw]:
        fixed = info.data.get("questions") or []
        if not fixed and not draws:
            raise ValueError("name fixed questions or add a draw: the assignment has none")
        if len(fixed) + sum(d.count for d in draws) > MAX_QUESTIONS:
            raise ValueError(f"an assignment holds at most {MAX_QUESTIONS} questions")
        return draws

    @field_validator("closes_at")
    @classmethod
    def _after_opening(cls, closes_at: datetime | None, info: ValidationInfo) -> datetime | None:
        opens_at = info.data.get("opens_at")
        if opens_at and closes_at and closes_at <= opens_at:
            raise ValueError("closes_at must come after opens_at")
        return closes_at

    @field_validator("late_until")
    @classmethod
    def _late_cut_off(cls, late_until: datetime | None, info: ValidationInfo) -> datetime | None:
        if late_until is None:
            return None
        if info.data.get("late") != "penalty":
            raise ValueError("late_until needs late: penalty")
        closes_at = info.data.get("closes_at")
        if closes_at is None or late_until <= closes_at:
            raise ValueError("late_until must come after closes_at")
        return late_until

    @field_validator("feedback")
    @classmethod
    def _closing_to_show(cls, feedback: Feedback, info: ValidationInfo) -> Feedback:
        if feedback == "after_close" and info.data.get("closes_at") is None:
            raise ValueError("feedback after_close needs closes_at")
        return feedback

    @property
    def size(self) -> int:
        """How many questions an attempt asks, when the pool is large enough."""
        return max(len(self.questions) + sum(d.count for d in self.draws), self.top_up_to or 0)


def default_test(topic_slug: str) -> AssignmentRules:
    """A shipped topic's Test mode: 3 easy, 4 medium and 3 hard questions (topped up to 10
    from other levels when one is short), fresh ones first, any number of attempts."""
    return AssignmentRules(
        sources=[topic_slug],
        draws=[
            Draw(count=3, difficulty=Difficulty.easy),
            Draw(count=4, difficulty=Difficulty.medium),
            Draw(count=3, difficulty=Difficulty.hard),
        ],
        top_up_to=10,
        prefer_unseen=True,
    )


def last_submission(rules: AssignmentRules) -> datetime | None:
    """The last moment an attempt is accepted; None: no end."""
    if rules.late == "penalty":
        return rules.late_until
    return rules.closes_at


def deadline(rules: AssignmentRules, started_at: datetime) -> datetime | None:
    """When the server ends an attempt started at `started_at`; None: never by itself."""
    ends = [
        moment
        for moment in (
            started_at + timedelta(minutes=rules.time_limit_minutes)
            if rules.time_limit_minutes
            else None,
            last_submission(rules),
        )
        if moment is not None
    ]
    return min(ends) if ends else None


def closed_reason(rules: AssignmentRules, now: datetime, used: int = 0) -> str | None:
    """Why a new attempt cannot start now, after `used` attempts, in words; None when it can."""
    if rules.attempts_allowed is not None and used >= rules.attempts_allowed:
        return f"no attempts left: {used} of {rules.attempts_allowed} used"
    if rules.opens_at is not None and now < rules.opens_at:
        return f"this assignment opens at {rules.opens_at.isoformat(timespec='minutes')}"
    end = last_submission(rules)
    if end is not None and now >= end:
        return f"this assignment closed at {end.isoformat(timespec='minutes')}"
    return None


def is_late(rules: AssignmentRules, submitted_at: datetime) -> bool:
    return rules.closes_at is not None and submitted_at > rules.closes_at + GRACE


def grade_percent(rules: AssignmentRules, percent: float, submitted_at: datetime) -> float:
    """An attempt's grade: its score, less the late penalty when it came in late."""
    if rules.late == "penalty" and is_late(rules, submitted_at):
        return round(percent * (100 - rules.late_penalty_percent) / 100, 1)
    return percent


def review_visible(rules: AssignmentRules, now: datetime) -> bool:
    """Whether a submitted attempt's review (answers, right or wrong, solutions) shows now."""
    if rules.feedback in ("immediately", "after_submission"):
        return True
    if rules.feedback == "after_close":
        return rules.closes_at is not None and now >= rules.closes_at
    return False


def review_note(rules: AssignmentRules, now: datetime) -> str | None:
    """Why the review is withheld now, in words; None when it shows."""
    if review_visible(rules, now):
        return None
    if rules.feedback == "after_close" and rules.closes_at is not None:
        when = rules.closes_at.isoformat(timespec="minutes")
        return f"Answers and solutions show once the assignment closes, at {when} UTC."
    return "This assignment does not show answers or solutions."
