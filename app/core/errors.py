"""Domain errors carry their HTTP status; one handler renders them for the API or a page."""

from __future__ import annotations


class AppError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers: dict[str, str] = {}


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
