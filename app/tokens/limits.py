"""Each API token's rate limit: its `rate_per_minute` at once, then as many a minute
(app.core.limiting: one window of a minute per token, shared by every app process when Redis
is configured)."""

from __future__ import annotations

from app.core.errors import AppError
from app.core.limiting import Limits, Rule, retry_after


class TokenRateLimitedError(AppError):
    status = 429
    code = "rate_limited"


class TokenLimits:
    def __init__(self, limits: Limits | None = None) -> None:
        self._limits = limits or Limits()

    async def take(self, key: str, per_minute: int) -> None:
        """Spend one request of the token `key`; TokenRateLimitedError with Retry-After when
        its minute is spent (a refused request spends nothing)."""
        if not (wait := await self._limits.hit(Rule(per_minute, per_minute), "token", key)):
            return
        seconds = retry_after(wait)
        error = TokenRateLimitedError(
            f"this API token may make {per_minute} requests a minute: try again in {seconds} s"
        )
        error.headers = {"Retry-After": seconds}
        raise error
