"""A value every request may ask for but that changes rarely (the origins CORS allows, the LMSs
that may frame our pages): read from the database at most every `seconds` in this process, and
read again on the next ask once this process changed it (`invalidate`). Another process sees a
change within `seconds`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.types import Scope

from app.core.deps import database_of

T = TypeVar("T")


class Refreshed(Generic[T]):
    def __init__(self, load: Callable[[Session], T], empty: T, seconds: float = 10.0) -> None:
        self._load, self._value, self._seconds = load, empty, seconds
        self._until = 0.0  # the monotonic time the value is good until; 0: read it again

    async def get(self, scope: Scope) -> T:
        """The value, read again if it is older than `seconds`; a failed read raises, and the
        next ask after `seconds` tries again (one reader at a time, roughly)."""
        if time.monotonic() < self._until:
            return self._value
        self._until = time.monotonic() + self._seconds
        database = await database_of(Request(scope))
        self._value = await database.run(self._load)
        return self._value

    @property
    def last(self) -> T:
        """The value last read (the empty one before any read)."""
        return self._value

    def invalidate(self) -> None:
        self._until = 0.0
