"""What the gradebook's API takes and gives; the pages parse their forms with the same
models, so a refusal reads the same in both."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.attempts.schemas import TestResult
from app.core.bounds import Text
from app.gradebook import regrade, service
from app.gradebook.audit import LoggedChange

REASON_LENGTH = 2000


def _not_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("give a reason: it is kept in the audit log")
    return value


Reason = Annotated[Text, Field(max_length=REASON_LENGTH), AfterValidator(_not_blank)]
Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    percent: Percent = Field(description="The grade that counts, 0 to 100.")
    reason: Reason


class OverrideRemoval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class RegradeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    apply: bool = Field(default=False, description="false: a dry run, nothing is written.")
    expected: dict[str, int] | None = Field(
        default=None,
        max_length=1000,
        description="To apply: the dry run's `versions` as it returned them; if a question "
        "was published again since, the apply is refused (409).",
    )


class AttemptOut(BaseModel):
    id: str
    number: int
    started_at: datetime
    submitted_at: datetime | None
    in_progress: bool
    score: float | None
    grade: float | None
    late: bool
    time_taken_seconds: int | None

    @classmethod
    def of(cls, attempt: service.AttemptGrade) -> AttemptOut:
        return cls(
            id=attempt.session,
            number=attempt.number,
            started_at=attempt.started_at,
            submitted_at=attempt.submitted_at,
            in_progress=attempt.submitted_at is None,
            score=attempt.score,
            grade=attempt.grade,
            late=attempt.late,
            time_taken_seconds=attempt.seconds,
        )


class OverrideOut(BaseModel):
    percent: float
    reason: str
    set_at: datetime


class GradeRowOut(BaseModel):
    learner: str | None = Field(description="The learner's public id.")
    name: str
    email: str | None
    attempts: int
    in_progress: bool
    best: float | None = Field(description="The best submitted attempt's grade, in percent.")
    latest: float | None
    override: OverrideOut | None
    final: float | None = Field(description="The override if set, else the best grade.")
    time_taken_seconds: int | None = Field(description="Of the best attempt.")
    submitted_at: datetime | None = Field(description="When the best attempt was submitted.")
    attempt_list: list[AttemptOut]

    @classmethod
    def of(cls, row: service.GradeRow) -> GradeRowOut:
        best, latest = row.best, row.latest
        override = row.override
        return cls(
            learner=row.learner,
            name=row.name,
            email=row.email,
            attempts=len(row.attempts),
            in_progress=row.in_progress,
            best=best.grade if best else None,
            latest=latest.grade if latest else None,
            override=OverrideOut(**vars(override)) if override else None,
            final=row.final,
            time_taken_seconds=best.seconds if best else None,
            submitted_at=best.submitted_at if best else None,
            attempt_list=[AttemptOut.of(a) for a in row.attempts],
        )


class QuestionScoresOut(BaseModel):
    question: str
    version: int
    answers: int
    mean: float = Field(description="Mean score per answer, 0 to 1.")
    zero: int
    partial: int
    full: int


class GradebookOut(BaseModel):
    assignment: str
    title: str
    rows: list[GradeRowOut]
    questions: list[QuestionScoresOut]

    @classmethod
    def of(cls, book: service.Gradebook) -> GradebookOut:
        return cls(
            assignment=book.assignment.public_id,
            title=book.assignment.title,
            rows=[GradeRowOut.of(r) for r in book.rows],
            questions=[QuestionScoresOut(**vars(q)) for q in book.questions],
        )


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str | None
    action: str
    target: dict[str, Any]
    before: Any
    after: Any
    reason: str | None
    learner_name: str | None

    @classmethod
    def of(cls, change: LoggedChange) -> AuditEntryOut:
        return cls(**vars(change))


class AttemptReviewOut(AttemptOut):
    learner: str | None = Field(description="The learner's public id; None: a staff preview.")
    name: str | None
    result: TestResult

    @classmethod
    def of_review(cls, review: service.AttemptReview) -> AttemptReviewOut:
        return cls(
            **AttemptOut.of(review.attempt).model_dump(),
            learner=review.learner.learner if review.learner else None,
            name=review.learner.name if review.learner else None,
            result=review.result,
        )


class AnswerChangeOut(BaseModel):
    position: int
    question: str = Field(description="topic/slug")
    old_version: int
    new_version: int
    old_score: float
    new_score: float
    new_correct: bool


class AttemptChangeOut(BaseModel):
    attempt: str = Field(description="The attempt's (session's) public id.")
    learner: str
    name: str
    number: int
    old_percent: float
    new_percent: float
    answers: list[AnswerChangeOut]


class SkippedOut(BaseModel):
    question: str
    reason: str
    answers: int


class RegradeOut(BaseModel):
    applied: bool
    versions: dict[str, int] = Field(
        description="Answered version id -> the version graded against: `expected` to apply."
    )
    attempts: list[AttemptChangeOut]
    skipped: list[SkippedOut] = Field(description="Answers left as they are, and why.")

    @classmethod
    def of(cls, plan: regrade.RegradePlan, *, applied: bool) -> RegradeOut:
        return cls(
            applied=applied,
            versions=plan.versions,
            attempts=[
                AttemptChangeOut(
                    attempt=a.session,
                    learner=a.learner,
                    name=a.name,
                    number=a.number,
                    old_percent=a.old_percent,
                    new_percent=a.new_percent,
                    answers=[
                        AnswerChangeOut(
                            position=c.position,
                            question=c.question,
                            old_version=c.old_version,
                            new_version=c.new_version,
                            old_score=c.old_score,
                            new_score=c.new_score,
                            new_correct=c.new_correct,
                        )
                        for c in a.answers
                    ],
                )
                for a in plan.attempts
            ],
            skipped=[
                SkippedOut(question=s.question, reason=s.reason, answers=s.answers)
                for s in plan.skipped
            ],
        )
