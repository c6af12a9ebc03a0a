"""What the report API takes and answers; the pages parse their forms with the same models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from app.core.bounds import INT32_MAX, Position, PublicId, storable_text

Kind = Literal["answer_wrong", "unclear", "typo", "code_broken", "other"]
Status = Literal["open", "acknowledged", "fixed", "wont_fix"]
MESSAGE_MAX = 4000  # a message is a paragraph or two, not a file
# Constraints first: after another validator, pydantic would count the length before stripping.
Body = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=MESSAGE_MAX),
    AfterValidator(storable_text),
]
FilledBody = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MESSAGE_MAX),
    AfterValidator(storable_text),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReportIn(Strict):
    session: PublicId = Field(description="The session (practice or test) the question is in.")
    position: Position = Field(description="1-based position of the question in the session.")
    kind: Kind
    text: Body = Field(
        default="",
        validate_default=True,
        description=f"What is wrong, at most {MESSAGE_MAX} characters; required for `other`.",
    )

    @field_validator("text")
    @classmethod
    def _said_for_other(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("kind") == "other" and not value:
            raise ValueError("say what is wrong: a report of kind “other” needs a text")
        return value


class MessageIn(Strict):
    # Not `body`: errors name fields by their path, and the request body's is "body" too.
    text: FilledBody


class StatusPatch(Strict):
    status: Status
    fixed_in: int | None = Field(
        default=None,
        ge=1,
        le=INT32_MAX,
        description="With status `fixed` (and only then): the question's version number "
        "that fixes it.",
    )


class MessageOut(BaseModel):
    from_staff: bool
    author: str | None = Field(description="Staff views only: who wrote it; None for learners.")
    body: str
    created_at: datetime


class ReportSummary(BaseModel):
    id: str
    question: str = Field(description="The question's id (slug).")
    version: int = Field(description="The version number the learner saw.")
    kind: str = Field(description="A learner's kind, or `exception` for the app's own.")
    status: Status
    status_text: str = Field(description="The status in words: 'Fixed in version 3'.")
    fixed_in: int | None
    occurrences: int = Field(description="Exception reports: how often it was raised.")
    created_at: datetime
    updated_at: datetime


class ReportOut(ReportSummary):
    seed: int | None = Field(description="A parameterised question's variant.")
    session: str | None
    position: int | None
    given: Any = Field(description="The learner's latest answer there, as stored; or None.")
    rendered_html: str = Field(description="The question's text as it was shown, as HTML.")
    messages: list[MessageOut]


class ReportFiled(ReportOut):
    added_to_existing: bool = Field(
        description="True when the learner's open report on this version got the text as a "
        "new message instead of a second report being opened."
    )
