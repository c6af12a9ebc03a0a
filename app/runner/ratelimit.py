"""Token buckets: a burst of runs, then a steady rate; one bucket per learner, and one per
client address as a second layer (a client that drops its cookie is a new learner each time)."""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

from app.runner.errors import RateLimitedError

# One client address: sized for a classroom of about 30 behind one NAT, who may all press Run
# within a few seconds and then run about 4 snippets a minute each. One learner alone may
# start 10 at once, then 30 a minute (TORCHQUIZ_RUNNER_BURST, TORCHQUIZ_RUNNER_PER_MINUTE).
ADDRESS_BURST = 30
ADDRESS_PER_MINUTE = 120


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
        return self._wait(bucket.tokens)

    def wait(self, key: str) -> float:
        """What `take` would answer, without spending anything."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        tokens = min(self.burst, bucket.tokens + (time.monotonic() - bucket.updated) * self.rate)
        return 0.0 if tokens >= 1 else self._wait(tokens)

    def _wait(self, tokens: float) -> float:
        return round((1 - tokens) / self.rate, 1)

    def times(self, factor: int) -> RateLimiter:
        return RateLimiter(burst=self.burst * factor, per_minute=self.per_minute * factor)

    def describe(self) -> str:
        return f"{self.burst} at once, then {self.per_minute} a minute"


def address_key(address: str) -> str:
    """The bucket an address draws from: an IPv4 address its own; an IPv6 address its /64,
    since one home or one school is given a whole /64 and can use any address in it; anything
    else (a test client's name, "unknown") as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


class RunLimits:
    """The runs one learner may start, and the runs one client address may start. Both must
    allow a run, and a refused run spends from neither."""

    def __init__(self, learner: RateLimiter, address: RateLimiter, *, what: str = "runs") -> None:
        self.learner, self.address, self.what = learner, address, what

    def scaled(self, factor: int, what: str) -> RunLimits:
        """The same limits `factor` times over (the playground: cheap, and no learner code)."""
        return RunLimits(self.learner.times(factor), self.address.times(factor), what=what)

    def take(self, *, learner: str | None, address: str | None) -> None:
        """Spend one run from each bucket; when one is empty, RateLimitedError naming the limit,
        with the seconds to wait."""
        network = address_key(address) if address else None
        layers = [
            (self.learner, learner, "you", "learner"),
            (self.address, network, "your network address", "address"),
        ]
        found = [(limiter, key, who, bucket) for limiter, key, who, bucket in layers if key]
        for limiter, key, who, bucket in found:
            if wait := limiter.wait(key):
                why = f"too many {self.what} from {who} ({limiter.describe()})"
                message = f"{why}; try again in {wait:g} s"
                raise RateLimitedError(message, retry_after=wait, field=bucket)
        for limiter, key, _, _ in found:
            limiter.take(key)
