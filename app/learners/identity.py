"""Anonymous learners, known by a signed cookie (browsers) or the same token as a bearer (API).

The middleware only reads and issues the id; the learner row is created on first write,
so a crawler reading pages leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "tq_learner"
ONE_YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class Identity:
    public_id: str
    is_new: bool
    # A bearer token that failed its signature: the API answers 401 instead of starting afresh.
    forged_bearer: bool = False


class LearnerTokens:
    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt="torchquiz.learner")
        self._csrf_key = hashlib.sha256(f"csrf:{secret}".encode()).digest()

    def issue(self, public_id: str) -> str:
        return self._serializer.dumps(public_id)

    def read(self, token: str) -> str | None:
        try:
            value = self._serializer.loads(token)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None

    def csrf_token(self, public_id: str) -> str:
        return hmac.new(self._csrf_key, public_id.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, public_id: str, token: str) -> bool:
        return hmac.compare_digest(self.csrf_token(public_id), token)


class LearnerCookieMiddleware:
    """Put an Identity on `scope["state"]["identity"]`; set the cookie when it is new."""

    def __init__(self, app: ASGIApp, tokens: LearnerTokens, *, secure: bool) -> None:
        self.app = app
        self.tokens = tokens
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        identity = self._identify(HTTPConnection(scope))
        scope.setdefault("state", {})["identity"] = identity
        if not identity.is_new:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.append("set-cookie", self._cookie(identity.public_id))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _identify(self, conn: HTTPConnection) -> Identity:
        auth = conn.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            public_id = self.tokens.read(auth[7:].strip())
            if public_id is None:
                return Identity(str(uuid.uuid4()), is_new=False, forged_bearer=True)
            return Identity(public_id, is_new=False)
        cookie = conn.cookies.get(COOKIE)
        public_id = self.tokens.read(cookie) if cookie else None
        if public_id is None:
            # No cookie, or one we did not sign: a fresh anonymous learner, nothing lost.
            return Identity(str(uuid.uuid4()), is_new=True)
        return Identity(public_id, is_new=False)

    def _cookie(self, public_id: str) -> str:
        parts = [
            f"{COOKIE}={self.tokens.issue(public_id)}",
            "Path=/",
            f"Max-Age={ONE_YEAR}",
            "HttpOnly",
            "SameSite=Lax",
        ]
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)
