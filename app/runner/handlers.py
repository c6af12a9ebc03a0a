"""The runner's errors in the app's one shape (app.core.handlers): `{"status", "code", "message",
"field"}`, with "errors" for a request that does not validate, and the error's headers. The
runner answers JSON only, and the app's client reads "code" and "message" (app.runner.client)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core import problems
from app.core.errors import AppError
from app.core.problems import Problem


def _json(problem: Problem) -> Response:
    return JSONResponse(problem.body(), status_code=problem.status, headers=problem.headers)


async def runner_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return _json(problems.of_app_error(exc))


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return _json(problems.of_validation(exc))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return _json(problems.of_http(request, exc))


def register(app: FastAPI) -> None:
    app.add_exception_handler(AppError, runner_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
