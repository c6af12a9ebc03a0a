"""A course with a webhook subscribed over the API, the outbox that delivers in the test's
transaction, and a check of Standard Webhooks signatures written apart from the library the
app signs with (hmac and base64 by hand, as the spec describes it)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session

from tests.assignments.support import Class, make_class
from tests.courses.support import Visitor
from tests.in_thread import run_coroutine
from tests.outbox.receiver import Received
from tests.outbox.support import Clock, outbox_on

EVERY_EVENT = ["attempt.submitted", "assignment.completed", "question.reported"]


def hooks_url(klass: Class) -> str:
    return f"/api/v1/courses/{klass.course.slug}/webhooks"


def subscribe(owner: Visitor, klass: Class, url: str, events: list[str] | None = None) -> Any:
    """A new webhook over the API, as the course's owner; its JSON (with the secret)."""
    body = {"url": url, "events": events or EVERY_EVENT, "description": "the LMS"}
    made = owner.client.post(hooks_url(klass), json=body)
    assert made.status_code == 201, made.text
    return made.json()


def deliver_all(app: FastAPI, clock: Clock | None = None, *, advance: float = 0) -> int:
    """Drain the outbox once (the clock moved by `advance` first); how many tries it made."""
    clock = clock or Clock()

    async def drain() -> int:
        outbox = outbox_on(app, clock)
        clock.advance(advance)
        try:
            return await outbox.drain()
        finally:
            await outbox.stop()

    return run_coroutine(drain)


def verified(secret: str, request: Received, tolerance: int = 300) -> dict[str, Any]:
    """The body, once its signature is checked by hand: HMAC-SHA256 under the secret's
    base64-decoded bytes of "{id}.{timestamp}.{body}", sent base64 after "v1,"."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    webhook_id = request.headers["webhook-id"]
    timestamp = request.headers["webhook-timestamp"]
    assert abs(time.time() - int(timestamp)) < tolerance, "a fresh timestamp"
    signed = f"{webhook_id}.{timestamp}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    sent = [s.removeprefix("v1,") for s in request.headers["webhook-signature"].split(" ")]
    assert any(hmac.compare_digest(expected, s) for s in sent), "the signature matches"
    return request.json()  # type: ignore[no-any-return]


def course(db: Session, prefix: str = "wh") -> Class:
    return make_class(db, learners=2, prefix=prefix)
