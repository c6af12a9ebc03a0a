"""The OpenAPI document tells the truth about errors and credentials.

FastAPI documents its own 422 body (HTTPValidationError) and knows nothing of the credentials
the learner middleware reads. This app answers every API error with one shape (ErrorBody) and
identifies learners by cookie or by the same token as a bearer; instructor routes take the
admin token. `install` rewrites the generated document once, when it is first asked for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, Literal

from fastapi import FastAPI

from app.core.errors import ErrorBody

# Who may call an operation: anyone, a learner (cookie, bearer token or a new anonymous one),
# or an instructor (the admin token).
Access = Literal["public", "learner", "account", "admin"]

REF = "#/components/schemas/ErrorBody"
SECURITY_SCHEMES = {
    "learnerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The `token` of GET /api/v1/me, instead of the browser's cookie. "
        "Optional: with neither, a request acts as a new anonymous learner.",
    },
    "accountSession": {
        "type": "apiKey",
        "in": "cookie",
        "name": "tq_account",
        "description": "A signed-in browser's session (POST /api/v1/account/sign-in sets it).",
    },
}
SECURITY: dict[Access, list[dict[str, list[str]]]] = {
    "public": [],
    "learner": [{"learnerToken": []}, {}],  # {}: the cookie, or nothing, does as well
    # Signing up or in needs nothing; the account's own routes need the session.
    "account": [{"accountSession": []}, {}],
    "admin": [{"accountSession": []}],  # a site administrator's
}
ACCESS_ERRORS: dict[Access, tuple[int, ...]] = {
    "public": (),
    "learner": (401,),
    "account": (401,),
    "admin": (401, 403),
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any unique string (a UUID): a retry with the same key and body gets the "
    "first answer again, with `Idempotent-Replayed: true`, instead of doing it twice. Kept 24 "
    "hours per caller; the same key with another body or path: 422; while the first request "
    "runs: 409 with Retry-After.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
}
DESCRIPTIONS = {
    400: "The request body could not be read (malformed JSON or form data)",
    401: "The bearer token is not valid",
    403: "Not allowed here",
    404: "Nothing at this path",
    409: "Conflicts with the current state",
    413: "The request body is over the size limit",
    422: "The request is invalid: `errors` lists every field at fault",
    429: "Too many runs: wait, then try again",
    503: "Unavailable for now (the database or the code runner): see Retry-After",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """For a router's or route's `responses=`: these statuses answer with ErrorBody."""
    return {
        status: {"model": ErrorBody, "description": DESCRIPTIONS.get(status) or _phrase(status)}
        for status in statuses
    }


def install(
    app: FastAPI,
    *,
    prefix: str,
    access: Mapping[tuple[str, str], Access],
    scopes: Mapping[tuple[str, str], str] | None = None,
    token_scopes: str = "",
) -> None:
    """`access`: (METHOD, path) -> who may call it, for each operation under `prefix`;
    `scopes`: (METHOD, path) -> the API token scope it needs, where a token may call it;
    `token_scopes`: the scopes described, for the apiToken scheme."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = truthful(
                generate(), prefix=prefix, access=access, scopes=scopes, token_scopes=token_scopes
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def truthful(
    document: dict[str, Any],
    *,
    prefix: str,
    access: Mapping[tuple[str, str], Access],
    scopes: Mapping[tuple[str, str], str] | None = None,
    token_scopes: str = "",
) -> dict[str, Any]:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, schema in _error_schemas().items():
        schemas.setdefault(name, schema)
    components["securitySchemes"] = {**SECURITY_SCHEMES, "apiToken": _api_token(token_scopes)}
    for path, operations in document["paths"].items():
        if path.startswith(prefix):
            for method, operation in operations.items():
                kind = access.get((method.upper(), path), "public")
                _describe(operation, path, kind, post=method == "post")
                _streams_as_31(operation)
                if scope := (scopes or {}).get((method.upper(), path)):
                    _token_security(operation, kind, scope)
    if "#/components/schemas/HTTPValidationError" not in json.dumps(document["paths"]):
        schemas.pop("HTTPValidationError", None)  # FastAPI's shape, which nothing answers
        schemas.pop("ValidationError", None)
    return document


def _streams_as_31(operation: dict[str, Any]) -> None:
    """FastAPI describes a stream's events with `itemSchema`, which OpenAPI 3.2 added; this
    document is 3.1, where a media type may not carry it. The stream's body is text: said as
    3.1 says it, and the events' format is in the operation's description."""
    for response in operation.get("responses", {}).values():
        for media in response.get("content", {}).values():
            if media.pop("itemSchema", None) is not None:
                media["schema"] = {"type": "string"}


def _describe(operation: dict[str, Any], path: str, kind: Access, *, post: bool = False) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    statuses = [*ACCESS_ERRORS[kind], *([404] if "{" in path else [])]
    if post:  # every POST may carry an Idempotency-Key (app.core.idempotency)
        operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_KEY))
        statuses += [409, 422]
    statuses += [400, 413] if "requestBody" in operation else []  # 413: core.security.BodyLimit
    statuses += [503]  # every operation may meet a database outage (core.handlers)
    for status in statuses:
        responses.setdefault(str(status), {"description": DESCRIPTIONS[status]})
    for code, response in responses.items():
        if code[0] in "45":  # FastAPI's 422 included: it is ours that answers
            response["content"] = {"application/json": {"schema": {"$ref": REF}}}
            if code == "422":
                response["description"] = DESCRIPTIONS[422]
    if SECURITY[kind]:
        operation["security"] = SECURITY[kind]


def _api_token(scopes: str) -> dict[str, Any]:
    return {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (`tqp_...` personal, `tqs_...` service: one course), made "
        "at /account/tokens or with `torchquiz tokens create`. Each operation lists the scope "
        "it needs; a token without it is refused with 403.\n\n" + scopes,
    }


def _token_security(operation: dict[str, Any], kind: Access, scope: str) -> None:
    """An API token with `scope` may call this operation too."""
    token = {"apiToken": [scope]}
    if kind == "learner":
        operation["security"] = [{"learnerToken": []}, token, {}]
    else:
        operation["security"] = [{"accountSession": []}, token]
    responses = operation.setdefault("responses", {})
    content = {"application/json": {"schema": {"$ref": REF}}}
    for status, description in ((403, DESCRIPTIONS[403]), (429, "Over the token's rate limit")):
        responses.setdefault(str(status), {"description": description, "content": content})


def _error_schemas() -> dict[str, Any]:
    schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    return {**schema.pop("$defs", {}), "ErrorBody": schema}


def _phrase(status: int) -> str:
    return HTTPStatus(status).phrase
