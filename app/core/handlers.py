"""One error shape for the API (status, code, message, field, errors); a page for browsers."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.errors import AppError
from app.core.templating import render_page

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}


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


def register(app: FastAPI) -> None:
    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
