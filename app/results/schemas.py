"""What the results API takes and answers: learners by an LMS's id for them, and attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.core.bounds import Email, Name, storable_text
from app.learners.models import ISSUER_LENGTH, SUBJECT_LENGTH

# An issuer is the LMS's URL (an LTI `iss`), a subject its user id there (`sub`): any text
# but control characters, as the LMS wrote it (never stripped: it is an identifier).
_TEXT = r"^[^\x00-\x1f\x7f]+$"
Issuer = Annotated[
    str,
    StringConstraints(min_length=1, max_length=ISSUER_LENGTH, pattern=_TEXT),
    AfterValidator(storable_text),
]
Subject = Annotated[
    str,
    StringConstraints(min_length=1, max_length=SUBJECT_LENGTH, pattern=_TEXT),
    AfterValidator(storable_text),
]
AttemptStatus = Literal["open", "submitted"]


class ExternalId(BaseModel):
    """An account as another system knows it: its user id (`subject`) under its `issuer`."""

    issuer: str
    subject: str


class ExternalLearnerIn(ExternalId):
    """A learner by their LMS id: found, or made (an account with no password, signed in by
    LTI later), and enrolled in the course. `email` and `name` are used only for a new
    account, and the email only if no other account has it."""

    model_config = ConfigDict(extra="forbid")

    issuer: Issuer
    subject: Subject
    email: Email | None = None
    name: Name | None = None


class ExternalLearnerOut(ExternalId):
    learner_id: str = Field(
        description="The learner's public id: the gradebook's, and the `learner` filter's."
    )
    name: str | None
    email: str | None
    created: bool = Field(description="This request made the account.")
    enrolled: bool = Field(description="This request enrolled the learner in the course.")


class AttemptItem(BaseModel):
    """One attempt at one of the course's assignments."""

    session_id: str = Field(description="The attempt's session public id.")
    assignment_id: str
    learner_id: str
    external_ids: list[ExternalId] = Field(description="The learner's ids in other systems.")
    attempt: int = Field(description="1, 2... per learner and assignment.")
    status: AttemptStatus
    started_at: datetime
    submitted_at: datetime | None
    deadline_at: datetime | None = Field(description="When the server ends it by itself.")
    score: float | None = Field(description="Points: each question is worth 1.")
    max_score: int = Field(description="The attempt's number of questions.")
    percent: float | None = Field(description="The score in percent of the marks.")
    grade: float | None = Field(description="The percent less any late penalty.")
    late: bool
