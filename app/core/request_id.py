"""The request id: one per request, in every log line written for it (app.core.logs), in the
jobs it sends to a runner, and in the response's X-Request-ID, so that a learner's report, a
proxy's log and ours can be matched.

A trusted proxy's X-Request-ID (TORCHQUIZ_TRUSTED_PROXIES, decided as app.core.clients does:
by the socket's peer) is kept, so that the proxy's log and ours share the id; from anyone else
the header is ignored and an id is made here. A kept id must look like an id (bounded length,
safe characters): it goes into log lines, and a header's value must not forge one.
"""

from __future__ import annotations

import ipaddress
import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import request_ids

HEADER = b"x-request-id"
# Letters, digits and - _ . : = + / (UUIDs, nginx's $request_id, AWS' Root=1-...): no spaces,
# quotes or control characters, at most 128.
VALID = re.compile(rb"[A-Za-z0-9\-_.:=+/]{1,128}")


def new_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Pure ASGI, outermost: it must see the socket's peer before ClientAddressMiddleware puts
    the forwarded client in its place, and every response, a refused one included, gets the
    header."""

    def __init__(self, app: ASGIApp, *, trusted: list[str], everyone: bool = False) -> None:
        """`everyone`: keep any caller's well-formed id (the runner's callers are the app's
        own processes: they send the id of the request they serve)."""
        self.app = app
        self.trusted = [ipaddress.ip_network(n, strict=False) for n in trusted]
        self.everyone = everyone

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self._given(scope) or new_id()
        header = (HEADER, request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        token = request_ids.current.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_ids.current.reset(token)

    def _given(self, scope: Scope) -> str | None:
        """The proxy's id, if the peer is a trusted proxy and the id is well formed."""
        peer = scope.get("client")
        trusted = self.everyone or bool(self.trusted and peer and self._is_trusted(peer[0]))
        if not trusted:
            return None
        for name, value in scope["headers"]:
            if name == HEADER:
                return value.decode("ascii") if VALID.fullmatch(value) else None
        return None

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)
