"""Security headers on every response, trusted Host names, and a request body size limit.

Pure ASGI middleware: BaseHTTPMiddleware would run every request in a task of its own and
pass the response through a stream, a cost on each request (bench/http_load.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import Settings

CSP = b"content-security-policy"
ONE_YEAR = 365 * 24 * 3600
# More frame-ancestors sources, known at run time (the LMSs registered for LTI): given the
# request's scope, answered from a cache (the app's own, refreshed every few seconds).
ExtraAncestors = Callable[[Scope], Awaitable[Sequence[str]]]


def install(
    app: FastAPI, settings: Settings, extra_ancestors: ExtraAncestors | None = None
) -> None:
    """Each layer added goes outside the last: SecurityHeaders ends up outermost, so its headers
    go on every response, a refused Host's and a 413 included."""
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_body_bytes, upload_bytes=settings.max_upload_bytes
    )
    app.add_middleware(TrustedHosts, hosts=settings.trusted_hosts())
    app.add_middleware(SecurityHeaders, settings=settings, extra_ancestors=extra_ancestors)


def content_security_policy(frame_ancestors: Iterable[str], *, script_nonce: str = "") -> str:
    """Scripts and styles from this origin only: no inline script, style or event handler
    (templates link static/js and static/css). `script_nonce` lets one page's own inline
    script run (the API docs)."""
    script = f"'self' 'nonce-{script_nonce}'" if script_nonce else "'self'"
    directives = {
        "default-src": "'self'",
        "script-src": script,
        "style-src": "'self'",
        "img-src": "'self' data:",  # Swagger UI's icons are data: URLs in its CSS
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": " ".join(frame_ancestors) or "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class SecurityHeaders:
    """CSP, nosniff and Referrer-Policy on every response, HSTS in production. A response that
    sets its own Content-Security-Policy (a page with a script nonce) keeps it. Never
    X-Frame-Options: an LMS shows our pages in its frame (LTI); frame-ancestors says who may."""

    def __init__(
        self, app: ASGIApp, *, settings: Settings, extra_ancestors: ExtraAncestors | None = None
    ) -> None:
        self.app = app
        self.frame_ancestors = tuple(settings.frame_ancestors)
        self.extra_ancestors = extra_ancestors
        policy = content_security_policy(self.frame_ancestors)
        self.headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
        ]
        if settings.environment == "production":
            self.headers.append((b"strict-transport-security", f"max-age={ONE_YEAR}".encode()))
        self.csp = (CSP, policy.encode())
        self._extra_csp: tuple[tuple[str, ...], tuple[bytes, bytes]] = ((), self.csp)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(self.headers)
                if not any(name == CSP for name, _ in headers):
                    headers.append(await self._policy(scope))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _policy(self, scope: Scope) -> tuple[bytes, bytes]:
        """The CSP header, with the extra ancestors of the moment (built again only when they
        change: they rarely do)."""
        if self.extra_ancestors is None:
            return self.csp
        extra = tuple(await self.extra_ancestors(scope))
        if extra != self._extra_csp[0]:
            sources = dict.fromkeys((*self.frame_ancestors, *extra))  # in order, once each
            policy = content_security_policy(sources)
            self._extra_csp = (extra, (CSP, policy.encode()))
        return self._extra_csp[1]


class TrustedHosts:
    """Answer only to known Host names, so that a page reached through another name (DNS
    rebinding, a poisoned absolute URL) gets 400 with the error shape instead."""

    def __init__(self, app: ASGIApp, *, hosts: list[str]) -> None:
        self.app = app
        self.any = "*" in hosts
        self.exact = frozenset(h for h in hosts if not h.startswith("*"))
        self.suffixes = tuple(h[1:] for h in hosts if h.startswith("*."))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.any or scope["type"] != "http":  # the app has no WebSocket routes
            await self.app(scope, receive, send)
            return
        host = host_name(scope)
        if host in self.exact or (self.suffixes and host.endswith(self.suffixes)):
            await self.app(scope, receive, send)
            return
        message = f"this server does not answer to the host name {host!r} (TORCHQUIZ_ALLOWED_HOSTS)"
        body = {"status": 400, "code": "invalid_host", "message": message, "field": None}
        await JSONResponse(body, status_code=400)(scope, receive, send)


def host_name(scope: Scope) -> str:
    """The Host header's name, without port, in lower case; "" when there is none."""
    for name, value in scope["headers"]:
        if name == b"host":
            host: str = value.decode("latin-1").strip().lower()
            if host.startswith("["):  # an IPv6 literal: [::1]:8000
                return host[1 : host.find("]")]
            return host.partition(":")[0].rstrip(".")
    return ""


class BodyLimit:
    """Refuse request bodies over `max_bytes` with 413, whether the client declares the size
    (Content-Length) or streams it (chunked): the count is kept while the body is read.

    The refusal is raised from `receive`, inside the route that reads the body, so the app's
    handler answers it: the error shape for the API, an error page for a form.

    A question bank's upload (a path ending in `/import` or `/imports`) may be larger,
    `upload_bytes`: a 500-question Moodle file is about 2 MB. What it holds is judged after,
    by app.bank.formats.safety.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, upload_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes or max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = _declared_size(scope) if scope["type"] == "http" else None
        if not declared:  # no body (no Content-Length nor Transfer-Encoding), or an empty one
            await self.app(scope, receive, send)
            return
        uploading = scope["path"].rstrip("/").endswith(("/import", "/imports"))
        limit = self.upload_bytes if uploading else self.max_bytes
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if declared > limit:
                raise self.too_large(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise self.too_large(limit)
            return message

        await self.app(scope, limited_receive, send)

    @staticmethod
    def too_large(limit: int) -> HTTPException:
        return HTTPException(413, f"the request body is larger than the limit of {_size(limit)}")


def _declared_size(scope: Scope) -> int | None:
    """Content-Length; -1 for a body of unknown size (chunked); None without a body."""
    size = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1  # the server refuses it before it gets here; count anyway
        if name == b"transfer-encoding":
            size = -1
    return size


def _size(count: int) -> str:
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if count >= scale and count % scale == 0:
            return f"{count // scale:,} {unit} ({count:,} bytes)"
    return f"{count:,} bytes"
