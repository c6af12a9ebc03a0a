"""A clock tests move by hand, and a deliverer of a test kind that posts its payload to the
URL it names: the outbox's own behaviour, apart from any feature's deliverer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI

from app.core.db import Database, utcnow
from app.core.deps import get_database
from app.outbox.delivery import (
    Delivered,
    DeliveryContext,
    Outbox,
    Outcome,
    Refused,
    Retry,
    register,
)

KIND = "test.post"


class Clock:
    """Now, as the outbox sees it: moved forward instead of sleeping through a backoff."""

    def __init__(self) -> None:
        # A second ahead of the real time: what the test enqueues next is due at once.
        self.now = utcnow() + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def post(context: DeliveryContext, payload: dict[str, Any]) -> Outcome:
    """2xx delivered, 422 refused for good, anything else retried."""
    answer = await context.http.post(payload["url"], json=payload)
    if answer.is_success:
        return Delivered(answer.status_code)
    if answer.status_code == 422:
        return Refused("the receiver refused it", answer.status_code)
    return Retry(f"answered {answer.status_code}", status=answer.status_code)


register(KIND, post)


def isolated_database(app: FastAPI) -> Database:
    """The Database the app's routes use in this test: its rolled-back connection."""
    return app.dependency_overrides[get_database]()  # type: ignore[no-any-return]


def outbox_on(app: FastAPI, clock: Clock, **options: Any) -> Outbox:
    # One delivery at a time: the test's database is one connection, which two threads
    # must not use at once (the app's own database has a pool).
    return Outbox(isolated_database(app), app.state.settings, clock=clock, concurrency=1, **options)
