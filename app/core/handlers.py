"""One error shape for the API (status, code, message, field, errors); a page for browsers."""

from __future__ import annotations

import logging
import sqlite3

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core import problems
from app.core.errors import AppError
from app.core.problems import Problem
from app.core.templating import render_page

log = logging.getLogger("torchquiz")

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


def error_response(request: Request, problem: Problem) -> Response:
    """The problem as JSON for the API, as a page for a browser; with its headers."""
    if wants_json(request):
        return JSONResponse(problem.body(), status_code=problem.status, headers=problem.headers)
    context = {"status": problem.status, "code": problem.code, "message": problem.message}
    response = render_page(request, "error.html", context, status_code=problem.status)
    response.headers.update(problem.headers)
    return response


async def app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return error_response(request, problems.of_app_error(exc))


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(request, problems.of_validation(exc))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(request, problems.of_http(request, exc))


def database_problem(exc: BaseException) -> str:
    """What the driver said, first line only (psycopg adds hints below): for /readyz and logs.
    Never the URL: drivers name the host and port, not the password."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__


def log_failed_round(logger: logging.Logger, what: str, exc: Exception) -> None:
    """A background loop's round that raised: one line naming the cause when the database is
    away (expected: a restart, a failover; the next round tries again), the traceback for
    anything else, which is a bug."""
    if isinstance(exc, DATABASE_DOWN):
        logger.warning("%s: the database is not answering: %s", what, database_problem(exc))
    else:
        logger.error("%s", what, exc_info=exc)


async def database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable on %s: %s", request.url.path, database_problem(exc))
    message = "the database is not answering; try again in a few seconds"
    retry = {"Retry-After": str(DATABASE_RETRY_SECONDS)}
    return error_response(request, Problem(503, "database_unavailable", message, headers=retry))


# A value the database refuses (an integer past its column, NUL in text): the request's fault,
# that a bound at the edge (app.core.bounds) missed. SQLite's driver raises a plain
# OverflowError for an integer past 64 bits, which SQLAlchemy does not wrap.
BAD_VALUES = (sa_exc.DataError, psycopg.DataError, OverflowError)


async def bad_value(request: Request, exc: Exception) -> Response:
    """A 422 naming what the database said; the route's transaction is already rolled back
    (app.core.db.transaction), so nothing of the request is written."""
    problem = database_problem(exc)
    log.warning("a value the database refused on %s: %s", request.url.path, problem)
    message = f"a value in this request cannot be stored ({problem})"
    return error_response(request, Problem(422, "invalid_value", message))


def register(app: FastAPI) -> None:
    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for error in DATABASE_DOWN:
        app.add_exception_handler(error, database_unavailable)
    for error in BAD_VALUES:
        app.add_exception_handler(error, bad_value)
