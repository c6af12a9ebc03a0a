"""Each API token's rate limit: a token bucket per token in this process, its burst and its
refill both the token's `rate_per_minute`. (Several processes each allow that much; a shared
store is issue 15's.)"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from app.core.errors import AppError


class TokenRateLimitedError(AppError):
    status = 429
    code = "rate_limited"


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenLimits:
    def __init__(self, *, most: int = 100_000) -> None:
        self._most = most
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str, per_minute: int) -> None:
        """Spend one request of the token `key`; TokenRateLimitedError with Retry-After when
        its bucket is empty (a refused request spends nothing)."""
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._most:
                self._buckets.clear()  # forgetting is only lenient
            bucket = self._buckets[key] = _Bucket(float(per_minute), now)
        rate = per_minute / 60
        bucket.tokens = min(per_minute, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return
        wait = max(1, math.ceil((1 - bucket.tokens) / rate))
        error = TokenRateLimitedError(
            f"this API token may make {per_minute} requests a minute: try again in {wait} s"
        )
        error.headers = {"Retry-After": str(wait)}
        raise error
