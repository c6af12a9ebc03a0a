"""The course-bank API's bodies and answers (app.authoring.api)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from app.authoring.service import BankItem, State, VerifyState
from app.core.bounds import INT32_MAX, Count, RowId, Slug, Tag, Text
from app.core.db import as_utc
from app.questions.models import QuestionVersion, Verification

Message = Annotated[Text, StringConstraints(max_length=500)]
# A bulk action names at most a course's worth of questions.
BULK_LIMIT = 1000


class SaveIn(BaseModel):
    """A new version of a question: its content as JSON (`question`) or as YAML (`yaml`)."""

    base_version_id: RowId = Field(description="The version this edit began from.")
    message: Message = Field(default="", description="Why it changed, for the history.")
    question: dict[str, Any] | None = Field(default=None, description="The question as JSON.")
    yaml: str | None = Field(default=None, description="The question as its YAML source.")


class CopyIn(BaseModel):
    shipped_id: Slug = Field(description="The shipped bank's question to copy.")
    new_id: Slug | None = Field(
        default=None, description="Its id in the course (the same if none)."
    )


class RevertIn(BaseModel):
    number: Annotated[int, Field(ge=1, le=INT32_MAX)] = Field(
        description="The version to make the newest again."
    )


class BulkIn(BaseModel):
    action: Literal["tag", "retire", "verify"]
    ids: list[Slug] = Field(min_length=1, max_length=BULK_LIMIT)
    add_tags: list[Tag] = Field(default=[], max_length=50, description="For `tag`.")
    remove_tags: list[Tag] = Field(default=[], max_length=50, description="For `tag`.")


class VersionOut(BaseModel):
    id: int
    number: int
    content_hash: str
    author_id: int | None
    message: str | None
    created_at: datetime

    @classmethod
    def of(cls, version: QuestionVersion) -> VersionOut:
        return cls(
            id=version.id,
            number=version.number,
            content_hash=version.content_hash,
            author_id=version.author_id,
            message=version.message,
            created_at=as_utc(version.created_at),
        )


class ClaimOut(BaseModel):
    field: str = Field(description="Where the question makes the claim: `options[2].outcome`.")
    claims: str = Field(description="What the question claims, in words.")
    observed: str = Field(description="What torch (or the grader, or the renderer) really did.")
    passed: bool
    seed: int | None = Field(description="The variant's seed; None without variants.")
    values: dict[str, int] = Field(description="The variant's parameters.")
    message: str


class VerifyOut(BaseModel):
    """A verify run of one version against real torch."""

    id: int
    version_id: int
    passed: bool
    seeds: int
    torch_version: str
    run_by: int | None
    created_at: datetime
    claims: list[ClaimOut]

    @classmethod
    def of(cls, row: Verification) -> VerifyOut:
        return cls(
            id=row.id,
            version_id=row.version_id,
            passed=row.passed,
            seeds=row.seeds,
            torch_version=row.torch_version,
            run_by=row.run_by,
            created_at=as_utc(row.created_at),
            claims=[ClaimOut.model_validate(claim) for claim in row.claims],
        )


class BankItemOut(BaseModel):
    id: str
    type: str
    difficulty: str
    tags: list[str]
    status: State
    unpublished_changes: bool = Field(description="The newest version is not the published one.")
    current_version: int
    current_version_id: int
    published_version: int | None
    verify: VerifyState = Field(description="The newest version's latest verify.")
    open_reports: int = Field(description="Learners' problem reports on it with status open.")

    @classmethod
    def of(cls, item: BankItem) -> BankItemOut:
        return cls(
            id=item.slug,
            type=item.type,
            difficulty=item.difficulty,
            tags=item.tags,
            status=item.status,
            unpublished_changes=item.unpublished_changes,
            current_version=item.current_version,
            current_version_id=item.current_version_id,
            published_version=item.published_version,
            verify=item.verify,
            open_reports=item.open_reports,
        )


class QuestionList(BaseModel):
    questions: list[BankItemOut]
    count: Count


class QuestionOut(BaseModel):
    """A course question: its newest version (as JSON and YAML), where it stands, and the
    latest verify of that version."""

    id: str
    status: State
    unpublished_changes: bool
    published_version: int | None
    version: VersionOut
    question: dict[str, Any]
    yaml: str
    verify: VerifyOut | None


class VersionDetail(BaseModel):
    version: VersionOut
    question: dict[str, Any]
    yaml: str


class HistoryOut(BaseModel):
    versions: list[VersionOut] = Field(description="Newest first.")


class DiffOut(BaseModel):
    from_version: int
    to_version: int
    diff: list[str] = Field(description="A unified diff of the two versions' YAML.")


class BulkOut(BaseModel):
    action: str
    changed: list[str] = Field(description="The questions the action changed.")
    verifications: list[VerifyOut] = Field(default=[], description="For `verify`, in order.")
