"""The registered platforms' origins, for the CSP's frame-ancestors on every response (an LMS
shows our pages in its frame). Read from the database at most every few seconds per process;
a change is seen on the next request, in every process (`invalidate`: app.core.refreshed)."""

from __future__ import annotations

import logging

from starlette.types import Scope

from app.core.invalidations import Invalidations
from app.core.refreshed import Refreshed
from app.lti.platforms import active_origins

log = logging.getLogger("torchquiz.lti")
REFRESH_SECONDS = 10.0


class PlatformOrigins:
    """app.core.security.SecurityHeaders' `extra_ancestors`: awaited once per response."""

    def __init__(
        self, seconds: float = REFRESH_SECONDS, *, shared: Invalidations | None = None
    ) -> None:
        self._origins: Refreshed[tuple[str, ...]] = Refreshed(
            active_origins, (), seconds, shared=shared, topic="lti-origins"
        )

    async def __call__(self, scope: Scope) -> tuple[str, ...]:
        if "app" not in scope:
            return self._origins.last
        try:
            return await self._origins.get(scope)
        except Exception as exc:  # a database outage must not fail every response's headers
            log.warning("could not read the LTI platforms' origins: %r", exc)
            return self._origins.last

    def invalidate(self) -> None:
        """The platforms changed: read them again on the next response."""
        self._origins.invalidate()
