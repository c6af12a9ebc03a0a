"""One error shape for the API (status, code, message, field, errors); a page for browsers."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.errors import AppError
from app.core.templating import render_page

log = logging.getLogger("torchquiz")

_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    401: "unauthorized",
    413: "content_too_large",
}
# A database that does not answer (down, restarting, refusing connections, its pool exhausted,
# SQLite's file locked past the busy timeout) is a 503 the client may retry, not a 500.
# sqlite3's own error: SQLite's BEGIN IMMEDIATE is sent from an engine event (app.core.db),
# where SQLAlchemy does not wrap what the driver raises.
DATABASE_DOWN: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    sqlite3.OperationalError,
)
DATABASE_RETRY_SECONDS = 5


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_response(
    request: Request,
    *,
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> Response:
    if wants_json(request):
        body: dict[str, Any] = {"status": status, "code": code, "message": message, "field": field}
        if errors:
            body["errors"] = errors
        return JSONResponse(body, status_code=status)
    context = {"status": status, "code": code, "message": message}
    return render_page(request, "error.html", context, status_code=status)


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if part not in ("body", "query", "path", "form"))


async def app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    response = error_response(
        request, status=exc.status, code=exc.code, message=exc.message, field=exc.field
    )
    response.headers.update(exc.headers)
    return response


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _field(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
    first = errors[0] if errors else {"field": None, "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" if first["field"] else str(first["message"])
    return error_response(
        request,
        status=422,
        code="validation_error",
        message=message,
        field=first["field"] or None,
        errors=errors,
    )


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404 and message == "Not Found":
        message = f"nothing at {request.url.path}"
    response = error_response(request, status=exc.status_code, code=code, message=message)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


def database_problem(exc: BaseException) -> str:
    """What the driver said, first line only (psycopg adds hints below): for /readyz and logs.
    Never the URL: drivers name the host and port, not the password."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__


async def database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable on %s: %s", request.url.path, database_problem(exc))
    response = error_response(
        request,
        status=503,
        code="database_unavailable",
        message="the database is not answering; try again in a few seconds",
    )
    response.headers["Retry-After"] = str(DATABASE_RETRY_SECONDS)
    return response


# A value the database refuses (an integer past its column, NUL in text): the request's fault,
# that a bound at the edge (app.core.bounds) missed. SQLite's driver raises a plain
# OverflowError for an integer past 64 bits, which SQLAlchemy does not wrap.
BAD_VALUES = (sa_exc.DataError, psycopg.DataError, OverflowError)


async def bad_value(request: Request, exc: Exception) -> Response:
    """A 422 naming what the database said; the route's transaction is already rolled back
    (app.core.routing.in_transaction), so nothing of the request is written."""
    problem = database_problem(exc)
    log.warning("a value the database refused on %s: %s", request.url.path, problem)
    message = f"a value in this request cannot be stored ({problem})"
    return error_response(request, status=422, code="invalid_value", message=message)


def register(app: FastAPI) -> None:
    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for error in DATABASE_DOWN:
        app.add_exception_handler(error, database_unavailable)
    for error in BAD_VALUES:
        app.add_exception_handler(error, bad_value)
