"""`Idempotency-Key`: an API client's retried POST gets the first answer, not a second attempt.

An LMS that times out on "start an attempt" sends it again; without this, the learner would
get a second attempt. A POST under the API carrying the header is remembered by its caller
(the Authorization header's hash, else the learner or account cookie's identity) and key for
24 hours, with what it asked (method, path, an HMAC-SHA256 of its body under the server's
secret: a sign-in's body holds a password, and a plain hash of it would be a guessing oracle
for whoever reads the table) and what it was answered:
- the same request again: the first answer, replayed, with `Idempotent-Replayed: true`;
- another request (body or path) under the same key: 422, the key names the first one;
- the same key while the first is still running: 409 with Retry-After: 1.
Only answers a retry would get again are kept: 2xx and 4xx, but not 401 (nobody was
identified), 409 or 429 (the state or the rate may change). A 5xx is forgotten, so a retry
runs for real. An answer holding a credential (`Cache-Control: no-store`: a new API token
or webhook secret) or setting a cookie (a sign-in) is never kept either: the table would hold
the secret, and a replay could not set the cookie; a retry of those runs again.

A claim is held while its request runs: renewed every RENEW_SECONDS, it lapses ABANDONED after
the last renewal, so a retry after the holding process was killed runs again within seconds
instead of meeting 409 for minutes (measured under load with two replicas, tests/scale). An
answer that cannot be recorded at once (the database restarting) is tried again for a few
seconds, so the retry gets it replayed.

Pure ASGI middleware, inside the learner cookie middleware (which identifies the caller):
BaseHTTPMiddleware would run every request in a task of its own (app.core.security).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
from sqlalchemy import JSON, Integer, LargeBinary, String, Text, UniqueConstraint, delete, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Mapped, Session, mapped_column
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.db import Base, Database, add_once, utcnow
from app.core.deps import database_of
from app.core.errors import AppError
from app.core.handlers import DATABASE_DOWN, DATABASE_RETRY_SECONDS
from app.core.problems import Problem

log = logging.getLogger("torchquiz")

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEY_LENGTH = 255
CALLER_LENGTH = 64  # a sha256 hex digest
LIFETIME = timedelta(hours=24)
ABANDONED = timedelta(seconds=20)  # four renewals missed: the holding process died
RENEW_SECONDS = 5.0
SETTLE_TRIES = (0.5, 1.0, 2.0, 4.0, 8.0)  # waits between tries to record an answer
MAX_STORED_BODY = 1024 * 1024  # a larger answer is not kept (none of ours is near it)
KEPT_HEADERS = (b"content-type", b"location")
NOT_KEPT = frozenset({401, 409, 429})


class IdempotencyKey(Base):
    """A POST made under a key: what it asked, and once it has finished, what it answered
    (`status` is None while it runs)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("caller", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    caller: Mapped[str] = mapped_column(String(CALLER_LENGTH))
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(Text)  # with its query string, as sent
    body_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[list[list[str]] | None] = mapped_column(JSON)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


@dataclass(frozen=True)
class KeyedRequest:
    caller: str
    key: str
    method: str
    path: str
    body_hash: str

    def same_as(self, earlier: Earlier) -> bool:
        return (self.method, self.path, self.body_hash) == (
            earlier.method,
            earlier.path,
            earlier.body_hash,
        )


@dataclass(frozen=True)
class Earlier:
    """The request that holds the key: still running (`status` None), or its answer."""

    method: str
    path: str
    body_hash: str
    status: int | None
    headers: list[list[str]]
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[list[str]]
    body: bytes


def caller_of(scope: Scope) -> str:
    """Who is asking, hashed: the Authorization header (an API or learner token), else the
    identity the learner middleware found (an account's learner, or an anonymous one)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return _sha256(b"authorization:" + value)
    identity = scope.get("state", {}).get("identity")
    return _sha256(f"learner:{getattr(identity, 'public_id', '')}".encode())


def claim(db: Session, request: KeyedRequest, now: datetime) -> Earlier | None:
    """Take the key for this request (None), or the request that holds it. Expired keys, and
    a claim whose request never finished, are cleared first."""
    db.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
    db.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.caller == request.caller,
            IdempotencyKey.key == request.key,
            IdempotencyKey.status.is_(None),
            IdempotencyKey.created_at <= now - ABANDONED,
        )
    )
    row = IdempotencyKey(
        caller=request.caller,
        key=request.key,
        method=request.method,
        path=request.path,
        body_hash=request.body_hash,
        created_at=now,
        expires_at=now + LIFETIME,
    )
    if add_once(db, row):  # two at once: the unique key lets one through
        return None
    found = db.scalars(
        select(IdempotencyKey).where(
            IdempotencyKey.caller == request.caller, IdempotencyKey.key == request.key
        )
    ).one()
    return Earlier(
        found.method,
        found.path,
        found.body_hash,
        found.status,
        found.headers or [],
        found.body or b"",
    )


def renew(db: Session, request: KeyedRequest, now: datetime) -> None:
    """The claim still held: its request is running (`created_at` is the last renewal)."""
    db.execute(
        sql_update(IdempotencyKey)
        .where(
            IdempotencyKey.caller == request.caller,
            IdempotencyKey.key == request.key,
            IdempotencyKey.status.is_(None),
        )
        .values(created_at=now)
    )


def settle(db: Session, request: KeyedRequest, answer: Answer | None) -> None:
    """Keep the answer under the key, or (None: not one to replay) give the key up."""
    mine = (IdempotencyKey.caller == request.caller, IdempotencyKey.key == request.key)
    if answer is None:
        db.execute(delete(IdempotencyKey).where(*mine, IdempotencyKey.status.is_(None)))
        return
    db.execute(
        sql_update(IdempotencyKey)
        .where(*mine, IdempotencyKey.status.is_(None))
        .values(status=answer.status, headers=answer.headers, body=answer.body)
    )


class Idempotency:
    """The middleware: POSTs under `prefix` with an Idempotency-Key header; others pass."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        prefix: str = "/api/v1/",
        verify: Callable[[Request], Awaitable[None]] | None = None,
    ) -> None:
        self.app = app
        self.prefix = prefix
        # Asked before a stored answer is replayed: the caller is still who they were (an API
        # token not revoked, a session not ended); raises AppError when not.
        self.verify = verify
        self._secret: bytes | None = None

    def body_hash(self, scope: Scope, body: bytes) -> str:
        """HMAC-SHA256 of the body under the app's signing key (app.state.settings), read once;
        an app without settings (a test's) hashes with an empty key."""
        if self._secret is None:
            settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
            self._secret = settings.signing_key().encode() if settings else b""
        return hmac.new(self._secret, body, hashlib.sha256).hexdigest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key") if _applies(scope, self.prefix) else None
        if key is None:
            await self.app(scope, receive, send)
            return
        if not _valid_key(key):
            await _problem(422, "validation_error", _KEY_RULE, field=HEADER)(scope, receive, send)
            return
        try:
            body, replay = await _read_body(receive)
        except HTTPException as exc:  # app.core.security.BodyLimit: too large
            await _problem(exc.status_code, "content_too_large", str(exc.detail))(
                scope, receive, send
            )
            return
        request = KeyedRequest(
            caller_of(scope),
            key.decode("ascii"),
            scope["method"],
            _path(scope),
            self.body_hash(scope, body),
        )
        database = await database_of(Request(scope))
        try:
            earlier = await database.run(claim, request, utcnow())
        except DATABASE_DOWN:
            await _problem(*_DOWN, headers={"Retry-After": str(DATABASE_RETRY_SECONDS)})(
                scope, receive, send
            )
            return
        if earlier is not None and await self._still_valid(scope):
            await _answer_for(request, earlier)(scope, receive, send)
            return
        if earlier is not None:  # the app refuses the caller itself (401, 429), as it would
            await self.app(scope, replay, send)
            return
        recorder = _Recorder(send)
        # A task, not a task group: the app's own exceptions pass through unwrapped.
        holding = asyncio.create_task(_keep_claim(database, request))
        try:
            await self.app(scope, replay, recorder.send)
        finally:
            holding.cancel()
            with anyio.CancelScope(shield=True):  # a client gone mid-request: give it up still
                await _settle(database, request, recorder.answer())

    async def _still_valid(self, scope: Scope) -> bool:
        if self.verify is None:
            return True
        try:
            await self.verify(Request(scope))
        except AppError:
            return False
        return True


async def _keep_claim(database: Database, request: KeyedRequest) -> None:
    """Renew the claim while the request runs; a failed renewal waits for the next."""
    while True:
        await asyncio.sleep(RENEW_SECONDS)
        try:
            await database.run(renew, request, utcnow())
        except Exception as exc:  # the database away for a moment
            log.warning("could not renew an Idempotency-Key's claim: %s", exc)


async def _settle(database: Database, request: KeyedRequest, answer: Answer | None) -> None:
    """Record the answer (or give the key up), trying again while the database is away; the
    claim lapses after ABANDONED if every try fails. The answer itself has gone out."""
    for wait in (0.0, *SETTLE_TRIES):
        await asyncio.sleep(wait)
        try:
            await database.run(settle, request, answer)
            return
        except DATABASE_DOWN as exc:
            log.warning("could not record the answer to an Idempotency-Key yet: %s", exc)
        except Exception:
            log.exception("could not record the answer to an Idempotency-Key")
            return


_KEY_RULE = f"{HEADER} must be 1 to {KEY_LENGTH} printable ASCII characters"
_DOWN = (503, "database_unavailable", "the database is not answering; try again in a few seconds")


def _applies(scope: Scope, prefix: str) -> bool:
    path: str = scope.get("path", "")
    return scope["type"] == "http" and scope["method"] == "POST" and path.startswith(prefix)


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    return next((value for name, value in scope["headers"] if name == wanted), None)


def _valid_key(key: bytes) -> bool:
    return 1 <= len(key) <= KEY_LENGTH and all(0x20 <= byte <= 0x7E for byte in key)


def _path(scope: Scope) -> str:
    """The path and query as sent (still percent-encoded: no NUL reaches a text column)."""
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a `receive` that hands it to the app, then the client's own."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client left: the app will find out from the replay
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


def _answer_for(request: KeyedRequest, earlier: Earlier) -> Response:
    if not request.same_as(earlier):
        message = (
            f"this {HEADER} was used for another request ({earlier.method} {earlier.path}, "
            "another body or path): use a new key for a new request"
        )
        return _problem(422, "idempotency_key_reused", message, field=HEADER)
    if earlier.status is None:
        message = f"the first request with this {HEADER} is still running: retry in a second"
        return _problem(409, "idempotency_key_in_use", message, headers={"Retry-After": "1"})
    headers = {name: value for name, value in earlier.headers}
    headers[REPLAYED] = "true"
    return Response(earlier.body, status_code=earlier.status, headers=headers)


def _problem(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    errors = [{"field": field, "message": message}] if field else []
    problem = Problem(status, code, message, field, errors, headers=headers or {})
    return JSONResponse(problem.body(), status_code=status, headers=problem.headers)


class _Recorder:
    """Passes the response on as it goes, keeping a copy of one worth replaying."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 0
        self.headers: list[list[str]] = []
        self.chunks: list[bytes] = []
        self.size = 0
        self.complete = False
        self.secret = False  # the answer holds a credential or sets a cookie

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.secret = any(
                name.lower() == b"set-cookie"
                or (name.lower() == b"cache-control" and b"no-store" in value.lower())
                for name, value in message.get("headers", [])
            )
            self.headers = [
                [name.decode("latin-1"), value.decode("latin-1")]
                for name, value in message.get("headers", [])
                if name.lower() in KEPT_HEADERS
            ]
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            self.size += len(chunk)
            if self.size <= MAX_STORED_BODY:
                self.chunks.append(chunk)
            self.complete = not message.get("more_body", False)
        await self._send(message)

    def answer(self) -> Answer | None:
        keep = 200 <= self.status < 300 or (
            400 <= self.status < 500 and self.status not in NOT_KEPT
        )
        if not (keep and self.complete and not self.secret and self.size <= MAX_STORED_BODY):
            return None
        return Answer(self.status, self.headers, b"".join(self.chunks))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
