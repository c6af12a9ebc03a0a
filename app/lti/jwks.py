"""The platforms' public keys (their JWK Sets), fetched over HTTP and cached by URL.

A token whose `kid` we do not hold makes us fetch the set again once (the platform rotated
its key), but at most once per `refetch_seconds` per URL: a flood of launches with made-up
kids must not make us hammer the platform. The first fetch of a URL, and one after the cache
aged out, do not count against that limit. All async (httpx): a platform may be slow, and a
one-worker server must go on serving meanwhile.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
from jwt import PyJWK
from jwt.exceptions import PyJWKError

log = logging.getLogger("torchquiz.lti")
FETCH_TIMEOUT_SECONDS = 5.0
CACHE_SECONDS = 3600.0
REFETCH_SECONDS = 10.0
MAX_KEYS = 50


class KeyFetchError(Exception):
    """The platform's JWK Set could not be fetched or read (the message says why)."""


@dataclass
class _Entry:
    keys: dict[str, PyJWK]
    fetched_at: float
    refetched_at: float = -1e9  # the last refetch for an unknown kid


class PlatformKeys:
    """A process's cache of platform keys: `await keys.key(url, kid)`."""

    def __init__(
        self,
        *,
        refetch_seconds: float = REFETCH_SECONDS,
        cache_seconds: float = CACHE_SECONDS,
        timeout: float = FETCH_TIMEOUT_SECONDS,
    ) -> None:
        self.refetch_seconds = refetch_seconds
        self.cache_seconds = cache_seconds
        self.timeout = timeout
        self._entries: dict[str, _Entry] = {}
        self.fetches = 0  # how many times a set was fetched (tests, the log)

    async def key(self, url: str, kid: str) -> PyJWK | None:
        """The key `kid` of the set at `url`, fetching the set when needed; None when the
        platform does not publish it (after the one refetch allowed)."""
        entry = self._entries.get(url)
        now = time.monotonic()
        if entry is None or now - entry.fetched_at > self.cache_seconds:
            entry = await self._fetch(url, entry)
        if kid in entry.keys:
            return entry.keys[kid]
        # Marked before the await: launches arriving meanwhile do not fetch again.
        if time.monotonic() - entry.refetched_at >= self.refetch_seconds:
            entry.refetched_at = time.monotonic()
            log.info("unknown kid %r: fetching the platform's keys again from %s", kid, url)
            await self._fetch(url, entry)
        return entry.keys.get(kid)

    def forget(self, url: str | None = None) -> None:
        """Drop the cached set of `url` (every set when None)."""
        if url is None:
            self._entries.clear()
        else:
            self._entries.pop(url, None)

    async def _fetch(self, url: str, entry: _Entry | None) -> _Entry:
        self.fetches += 1
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                answer = await client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            message = f"the platform's keys at {url} could not be fetched: {exc!r}"
            raise KeyFetchError(message) from exc
        if answer.status_code != 200:
            raise KeyFetchError(
                f"the platform's keys at {url} could not be fetched: HTTP {answer.status_code}"
            )
        keys = _parse_set(url, answer)
        if entry is None:
            entry = _Entry(keys=keys, fetched_at=time.monotonic())
            self._entries[url] = entry
        else:
            entry.keys, entry.fetched_at = keys, time.monotonic()
        return entry


def _parse_set(url: str, answer: httpx.Response) -> dict[str, PyJWK]:
    try:
        body: Any = answer.json()
    except ValueError as exc:
        raise KeyFetchError(f"the platform's keys at {url} are not JSON") from exc
    listed = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(listed, list):
        raise KeyFetchError(f"the platform's keys at {url} are not a JWK Set (no `keys` list)")
    keys: dict[str, PyJWK] = {}
    for jwk in listed[:MAX_KEYS]:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            continue  # a key without a kid cannot be chosen by a token's header
        if jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig":
            continue
        try:
            keys[jwk["kid"]] = PyJWK(jwk, algorithm="RS256")
        except PyJWKError:
            log.warning("skipping an unreadable key %r in %s", jwk.get("kid"), url)
    return keys
