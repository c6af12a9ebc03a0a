"""A token bucket per learner: a burst of runs, then a steady rate."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self, *, burst: int = 10, per_minute: int = 30, max_learners: int = 100_000
    ) -> None:
        self.burst = burst
        self.per_minute = per_minute
        self.rate = per_minute / 60
        self.max_learners = max_learners
        self._buckets: dict[str, _Bucket] = {}

    def take(self, learner: str) -> float:
        """Spend one run; 0 if allowed, else the seconds until the next run is."""
        now = time.monotonic()
        bucket = self._buckets.get(learner)
        if bucket is None:
            if len(self._buckets) >= self.max_learners:
                self._buckets.clear()  # simple bound: forgetting all is safe, only lenient
            bucket = self._buckets[learner] = _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return round((1 - bucket.tokens) / self.rate, 1)
