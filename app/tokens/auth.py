"""API tokens on each request: which account a bearer token acts as, kept for a few seconds in
this process (as app.learners.sessions.LiveSessions keeps browser sessions), so a busy LMS
costs a lookup every few seconds rather than one a request; forgotten at once on revoke, in
every process of the site (app.core.invalidations)."""

from __future__ import annotations

from app.core.db import Database
from app.core.invalidations import Invalidations
from app.core.limiting import Limits
from app.learners.sessions import Account, Kept
from app.tokens.limits import TokenLimits
from app.tokens.service import Resolved, authenticate, refuse_if_ended

TOKEN_CACHE_SECONDS = 5.0


class ApiTokens:
    """What app.learners.deps.verify_account asks (as `request.app.state.api_tokens`)."""

    def __init__(
        self,
        seconds: float = TOKEN_CACHE_SECONDS,
        most: int = 50_000,
        *,
        shared: Invalidations | None = None,
        limits: Limits | None = None,
    ) -> None:
        fields = {"token": lambda resolved: resolved.public_id}
        self._kept: Kept[Resolved] = Kept(
            seconds, most, shared=shared, topic="api-tokens", fields=fields
        )
        self.limits = TokenLimits(limits)

    async def verify(self, database: Database, secret: str) -> tuple[Account, str]:
        """(the account the token acts as, its learner's public id); 401 for a token that is
        not live, 429 with Retry-After past its rate limit."""
        resolved = self._kept.get(secret)
        if resolved is None:
            resolved = await database.run(authenticate, secret)
            self._kept.keep(secret, resolved)
        else:
            refuse_if_ended(None, resolved.expires_at)
        await self.limits.take(resolved.public_id, resolved.rate_per_minute)
        return resolved.account, resolved.learner_public_id

    def forget(self, public_id: str) -> None:
        """A revoked token: refused from the next request on, in every process."""
        self._kept.forget_by("token", public_id)
