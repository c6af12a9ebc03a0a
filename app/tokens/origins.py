"""The origins CORS allows (app.core.cors asks this policy): every live API token's list and
every course's, read together and kept in this process for `seconds`, read again at once in
every process when one changes them (app.core.refreshed). A request with an Origin costs a
lookup at most every `seconds`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from starlette.datastructures import Headers
from starlette.types import Scope

from app.core.cors import ANY
from app.core.db import utcnow
from app.core.invalidations import Invalidations
from app.core.refreshed import Refreshed
from app.courses.models import Course
from app.learners.sessions import token_hash
from app.tokens.models import ApiToken

REFRESH_SECONDS = 10.0
COURSE_PATH = re.compile(r"^/api/v1/courses/([^/]+)")


@dataclass(frozen=True)
class Lists:
    by_token: dict[str, frozenset[str]] = field(default_factory=dict)  # by token hash
    by_course: dict[str, frozenset[str]] = field(default_factory=dict)  # by course slug

    @property
    def every(self) -> frozenset[str]:
        return frozenset().union(*self.by_token.values(), *self.by_course.values())


def load_lists(db: Session) -> Lists:
    """The lists that are not empty, of unrevoked, unexpired tokens and of courses."""
    now = utcnow()
    tokens = db.execute(
        select(ApiToken.token_hash, ApiToken.allowed_origins).where(
            ApiToken.revoked_at.is_(None),
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
        )
    ).all()
    courses = db.execute(
        select(Course.slug, Course.allowed_origins).where(Course.allowed_origins.is_not(None))
    ).all()
    return Lists(
        by_token={h: frozenset(o) for h, o in tokens if o},
        by_course={s: frozenset(o) for s, o in courses if o},
    )


def _answer(listed: frozenset[str], origin: str) -> str:
    if ANY in listed:
        return ANY
    return origin if origin.lower() in listed else ""


class OriginRegistry:
    """app.core.cors.OriginPolicy over the tokens' and courses' lists."""

    def __init__(
        self, seconds: float = REFRESH_SECONDS, *, shared: Invalidations | None = None
    ) -> None:
        self._lists = Refreshed(load_lists, Lists(), seconds, shared=shared, topic="origins")

    def changed(self) -> None:
        """A list changed: every process reads them again on the next request that asks."""
        self._lists.invalidate()

    async def lists(self, scope: Scope) -> Lists:
        return await self._lists.get(scope)

    async def preflight(self, scope: Scope, origin: str) -> str | None:
        every = (await self.lists(scope)).every
        return None if not every else _answer(every, origin)

    async def actual(self, scope: Scope, origin: str) -> str | None:
        lists = await self.lists(scope)
        if not lists.by_token and not lists.by_course:
            return None
        listed: frozenset[str] = frozenset()
        auth = Headers(scope=scope).get("authorization", "")
        if auth[:7].lower() == "bearer ":
            listed = lists.by_token.get(token_hash(auth[7:].strip()), listed)
        if match := COURSE_PATH.match(scope["path"]):
            listed = listed | lists.by_course.get(match.group(1), frozenset())
        return _answer(listed, origin)
