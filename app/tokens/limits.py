"""Each API token's rate limit: a token bucket per token in this process, its burst and its
refill both the token's `rate_per_minute`. (Several processes each allow that much; a shared
store is issue 15's.)"""

from __future__ import annotations

import math

from app.core.errors import AppError
from app.runner.ratelimit import RateLimiter


class TokenRateLimitedError(AppError):
    status = 429
    code = "rate_limited"


class TokenLimits:
    """One token bucket per token (app.runner.ratelimit's, as sign-ins and new learners use):
    a limiter per rate in use, since each token has a rate of its own."""

    def __init__(self, *, most: int = 100_000) -> None:
        self._most = most
        self._limiters: dict[int, RateLimiter] = {}

    def take(self, key: str, per_minute: int) -> None:
        """Spend one request of the token `key`; TokenRateLimitedError with Retry-After when
        its bucket is empty (a refused request spends nothing)."""
        limiter = self._limiters.get(per_minute)
        if limiter is None:
            limiter = RateLimiter(burst=per_minute, per_minute=per_minute, max_learners=self._most)
            self._limiters[per_minute] = limiter
        if not (wait := limiter.take(key)):
            return
        seconds = max(1, math.ceil(wait))
        error = TokenRateLimitedError(
            f"this API token may make {per_minute} requests a minute: try again in {seconds} s"
        )
        error.headers = {"Retry-After": str(seconds)}
        raise error
