"""A value every request may ask for but that changes rarely (the origins CORS allows, the LMSs
that may frame our pages): read from the database at most every `seconds` in this process, and
read again on the next ask in every process once one changed it (`invalidate`, announced through
app.core.invalidations: through Redis when several processes serve the site)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.types import Scope

from app.core.deps import database_of
from app.core.invalidations import SETTLING_SECONDS, Invalidations

T = TypeVar("T")
# What a session that reads a Refreshed value says it is for (Session.info["purpose"]).
PURPOSE = "refresh"


class Refreshed(Generic[T]):
    def __init__(
        self,
        load: Callable[[Session], T],
        empty: T,
        seconds: float = 10.0,
        *,
        shared: Invalidations | None = None,
        topic: str = "refreshed",
    ) -> None:
        self._load, self._value, self._seconds = load, empty, seconds
        self._until = 0.0  # the monotonic time the value is good until; 0: read it again
        # After a change, every ask reads until the change has surely committed (it is
        # announced just before its commit: app.core.invalidations).
        self._settling_until = 0.0
        self._shared, self._topic = shared or Invalidations(), topic
        self._shared.on(topic, self._heard)
        self._shared.on_reset(self._heard)

    async def get(self, scope: Scope) -> T:
        """The value, read again if it is older than `seconds`, or changed anywhere (or when a
        change might go unheard: app.core.invalidations' `trusted`); a failed read raises, and
        the next ask after `seconds` tries again (one reader at a time, roughly)."""
        now = time.monotonic()
        if now < self._until and now >= self._settling_until and self._shared.trusted:
            return self._value
        self._until = now + self._seconds
        database = await database_of(Request(scope))
        self._value = await database.run(self._read)
        return self._value

    def _read(self, db: Session) -> T:
        db.info["purpose"] = PURPOSE  # not the request's own work (tests count those)
        return self._load(db)

    @property
    def last(self) -> T:
        """The value last read (the empty one before any read)."""
        return self._value

    def invalidate(self) -> None:
        """Changed: read again on the next ask, here and in every other process."""
        self._shared.announce(self._topic)

    def _heard(self, _: str = "") -> None:
        self._until = 0.0
        self._settling_until = time.monotonic() + SETTLING_SECONDS
