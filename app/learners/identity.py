"""Who is asking: an anonymous learner, known by a signed cookie (browsers) or the same token
as a bearer (API); or a signed-in account, whose cookie carries its session token and its
learner's id.

The middleware only reads and issues ids, and checks signatures; the learner row is created on
first write, so a crawler reading pages leaves nothing behind, and an account's session is
checked against the database only where a route needs it (app.learners.deps).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "tq_learner"
ACCOUNT_COOKIE = "tq_account"
ONE_YEAR = 365 * 24 * 3600
API_TOKEN_PREFIXES = ("tqp_", "tqs_")  # app.tokens: personal and service tokens


@dataclass(frozen=True)
class Identity:
    public_id: str
    is_new: bool
    # A bearer token that failed its signature: the API answers 401 instead of starting afresh.
    forged_bearer: bool = False
    # A signed-in browser's session token (app.learners.accounts); None when anonymous.
    account_token: str | None = None
    # An API token (`tqp_`/`tqs_`, app.tokens) as sent: app.learners.deps.verify_account
    # checks it and puts its user's learner here, or marks it `without_practice`.
    api_token: str | None = None
    without_practice: bool = False


class LearnerTokens:
    def __init__(self, secret: str, *, account_max_age: int = 30 * 24 * 3600) -> None:
        self._serializer = URLSafeSerializer(secret, salt="torchquiz.learner")
        self._accounts = URLSafeTimedSerializer(secret, salt="torchquiz.account")
        self.account_max_age = account_max_age
        self._csrf_key = hashlib.sha256(f"csrf:{secret}".encode()).digest()

    def issue(self, public_id: str) -> str:
        return self._serializer.dumps(public_id)

    def read(self, token: str) -> str | None:
        try:
            value = self._serializer.loads(token)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None

    def issue_account(self, session_token: str, learner_public_id: str) -> str:
        return self._accounts.dumps([session_token, learner_public_id])

    def read_account(self, value: str) -> tuple[str, str] | None:
        """(session token, learner id) from a signed, unexpired account cookie."""
        try:
            pair = self._accounts.loads(value, max_age=self.account_max_age)
        except BadSignature:  # SignatureExpired is one
            return None
        ok = isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
        return (pair[0], pair[1]) if ok else None

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
            if auth[7:].lstrip().startswith(API_TOKEN_PREFIXES):  # checked in verify_account
                return Identity(str(uuid.uuid4()), is_new=False, api_token=auth[7:].strip())
            public_id = self.tokens.read(auth[7:].strip())
            if public_id is None:
                return Identity(str(uuid.uuid4()), is_new=False, forged_bearer=True)
            return Identity(public_id, is_new=False)
        if (account := conn.cookies.get(ACCOUNT_COOKIE)) and (
            pair := self.tokens.read_account(account)
        ):
            return Identity(pair[1], is_new=False, account_token=pair[0])
        cookie = conn.cookies.get(COOKIE)
        public_id = self.tokens.read(cookie) if cookie else None
        if public_id is None:
            # No cookie, or one we did not sign: a fresh anonymous learner, nothing lost.
            return Identity(str(uuid.uuid4()), is_new=True)
        return Identity(public_id, is_new=False)

    def _cookie(self, public_id: str) -> str:
        return cookie_header(COOKIE, self.tokens.issue(public_id), ONE_YEAR, secure=self.secure)


def clear_cookie(name: str) -> str:
    return f"{name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"


def partitioned_cookie_header(name: str, value: str, max_age: int, *, path: str = "/") -> str:
    """A Set-Cookie value for a cookie that must reach us inside another site's frame (an LMS
    showing our pages, LTI): SameSite=None (so Secure), and Partitioned (CHIPS), kept in a jar
    of that top-level site only. Written by hand: Python 3.11's http.cookies knows no
    Partitioned."""
    parts = [f"{name}={value}", f"Path={path}", f"Max-Age={max_age}", "HttpOnly", "Secure"]
    return "; ".join([*parts, "SameSite=None", "Partitioned"])


def cookie_header(name: str, value: str, max_age: int, *, secure: bool) -> str:
    """A Set-Cookie value for our cookies: HttpOnly, SameSite=Lax, Secure over https;
    `max_age` 0 with an empty value removes the cookie."""
    parts = [f"{name}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)
