"""The one error shape, `{"status", "code", "message", "field"}` (with "errors" for a request
that does not validate), built from what went wrong. Shared by the app's handlers
(app.core.handlers, which also render pages) and the runner's (app.runner.handlers, JSON only)."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.errors import AppError

HTTP_CODES = {
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "content_too_large",
}


@dataclasses.dataclass
class Problem:
    status: int
    code: str
    message: str
    field: str | None = None
    errors: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)  # AppError.extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "field": self.field,
        }
        if self.errors:
            body["errors"] = self.errors
        return body | self.extra


def of_app_error(exc: AppError) -> Problem:
    return Problem(
        exc.status,
        exc.code,
        exc.message,
        exc.field,
        list(exc.errors),
        headers=dict(exc.headers),
        extra=dict(exc.extra),
    )


def of_validation(exc: RequestValidationError) -> Problem:
    """The first problem in the message, every problem in "errors", by field."""
    errors = [{"field": _field(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
    first = errors[0] if errors else {"field": None, "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" if first["field"] else str(first["message"])
    return Problem(422, "validation_error", message, first["field"] or None, errors)


def of_http(request: Request, exc: StarletteHTTPException) -> Problem:
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404 and message == "Not Found":
        message = f"nothing at {request.url.path}"
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return Problem(exc.status_code, code, message, headers=dict(exc.headers or {}))


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if part not in ("body", "query", "path", "form"))
