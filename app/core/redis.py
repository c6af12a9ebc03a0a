"""The one way this app reaches Redis (TORCHQUIZ_REDIS_URL): an asyncio client per process,
and key names under the site's prefix (TORCHQUIZ_REDIS_PREFIX), so that several sites, or
several test runs, share one Redis without meeting."""

from __future__ import annotations

import redis.asyncio as aioredis

# A Redis that does not answer in this long is down: a request waiting on it answers 503
# instead of hanging (the operations' own timeouts are set per call where they block).
CONNECT_TIMEOUT_SECONDS = 2.0


def connect(url: str) -> aioredis.Redis:
    """A client with its own connection pool; answers decoded to str. Connecting is lazy: the
    first command connects (and raises redis.exceptions.ConnectionError if it cannot)."""
    return aioredis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        health_check_interval=30,
    )


class Keys:
    """Key names under one prefix: `Keys("torchquiz:")("jobs", "snippet")` is
    "torchquiz:jobs:snippet"."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, *parts: object) -> str:
        return self.prefix + ":".join(str(part) for part in parts)
