"""Domain errors carry their HTTP status; one handler renders them for the API or a page."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class AppError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers: dict[str, str] = {}
        # Every problem by field (a 422 naming several), and fields the body carries besides
        # the usual ones (a stale save's `diff`): both rendered by app.core.problems.
        self.errors: list[dict[str, str]] = []
        self.extra: dict[str, Any] = {}


class NotFoundError(AppError):
    status = 404
    code = "not_found"


class ConflictError(AppError):
    status = 409
    code = "conflict"


class AnswerFormatError(AppError):
    """The answer cannot be read (not a wrong answer): it is reported, not recorded."""

    status = 422
    code = "invalid_answer"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="answer")


class UnauthorizedError(AppError):
    status = 401
    code = "unauthorized"


class ForbiddenError(AppError):
    status = 403
    code = "forbidden"


class FieldProblem(BaseModel):
    field: str = Field(description="The field at fault, dotted (`answer.code`); may be empty.")
    message: str


class ErrorBody(BaseModel):
    """The body of every API error, 4xx and 5xx alike (app.core.handlers.error_response)."""

    status: int = Field(description="The HTTP status, repeated.")
    code: str = Field(
        description="Stable and machine-readable: not_found, validation_error, "
        "content_too_large, rate_limited, database_unavailable, runner_warming..."
    )
    message: str = Field(description="For people: what went wrong, naming the field or limit.")
    field: str | None = Field(description="The field at fault, dotted, if one is.")
    errors: list[FieldProblem] = Field(
        default=[], description="Every problem found, one per field (validation errors)."
    )
    diff: list[str] | None = Field(
        default=None,
        description="A stale save (409) only: the unified diff of the question's YAML, from the "
        "version the edit began on to the newest.",
    )
    current_version_id: int | None = Field(
        default=None, description="A stale save (409) only: the question's newest version."
    )
