"""CORS for the JSON API: off until someone lists an origin, and then only for those origins.

Which origins may call is the features' business (an API token's list, a course's list, kept
by app.tokens.origins); this module only speaks the protocol, through the `OriginPolicy` the
app gives it (app.core imports no feature). Pure ASGI middleware, as app.core.security's.

- A preflight (OPTIONS with Origin and Access-Control-Request-Method) under the API prefix is
  answered here: 204 with the allow headers when some list holds the origin; 403 (the error
  shape, no allow headers) when lists exist but none holds it. With no list anywhere, CORS is
  off and the request goes on as if this middleware were not there (405, as before).
- An actual request's response echoes its Origin in Access-Control-Allow-Origin when the
  policy says so (the request's token lists the origin, or the path's course does).
- Access-Control-Allow-Credentials is never sent: the API is called with bearer tokens, never
  with cookies, so a page of another site can never act with a browser's session. "*" in a
  list means any origin, and is answered as "*".
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ANY = "*"
ORIGIN_LENGTH = 200
ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE"
ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, If-None-Match, If-Match"
EXPOSE_HEADERS = "Retry-After, ETag, Link, Idempotent-Replayed"
MAX_AGE = "600"


def parse_origin(value: str) -> str:
    """An origin as a browser sends it (`https://lms.example.edu`, `http://localhost:8080`), in
    lower case, or "*"; ValueError saying what is wrong otherwise (a path, a missing scheme)."""
    value = value.strip()
    if value == ANY:
        return ANY
    if len(value) > ORIGIN_LENGTH or not value.isascii() or not value.isprintable():
        raise ValueError(f"an origin is at most {ORIGIN_LENGTH} printable ASCII characters")
    try:
        parts = urlsplit(value.lower())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(f"{value!r} is not an origin such as https://lms.example.edu") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an origin: it needs http:// or https:// and a host")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"{value!r} is not an origin: only scheme, host and port (no path)")
    return f"{parts.scheme}://{parts.netloc}"


class OriginPolicy(Protocol):
    """Who may call, as the app knows it."""

    async def preflight(self, scope: Scope, origin: str) -> str | None:
        """The Access-Control-Allow-Origin value (the origin, or "*") for a preflight; "" when
        refused; None when CORS is off (no origin listed anywhere)."""

    async def actual(self, scope: Scope, origin: str) -> str | None:
        """The Access-Control-Allow-Origin value for this request's response; "" when not
        allowed; None when CORS is off."""


class CorsMiddleware:
    def __init__(self, app: ASGIApp, *, policy: OriginPolicy, prefix: str = "/api/") -> None:
        self.app = app
        self.policy = policy
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if not origin:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            allowed = await self.policy.preflight(scope, origin)
            if allowed is not None:
                await _preflight_answer(origin, allowed)(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        allowed = await self.policy.actual(scope, origin)

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                if allowed is not None:  # on: a cache must tell origins apart
                    out.add_vary_header("Origin")
                if allowed:
                    out["access-control-allow-origin"] = allowed
                    out["access-control-expose-headers"] = EXPOSE_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_cors)


def _preflight_answer(origin: str, allowed: str) -> Response:
    if not allowed:
        message = (
            f"the origin {origin} may not call this API: list it on an API token or in the "
            "course's settings (allowed origins)"
        )
        body = {"status": 403, "code": "origin_not_allowed", "message": message, "field": None}
        return JSONResponse(body, status_code=403, headers={"Vary": "Origin"})
    headers = {
        "Access-Control-Allow-Origin": allowed,
        "Access-Control-Allow-Methods": ALLOW_METHODS,
        "Access-Control-Allow-Headers": ALLOW_HEADERS,
        "Access-Control-Max-Age": MAX_AGE,
        "Vary": "Origin",
    }
    return Response(status_code=204, headers=headers)
