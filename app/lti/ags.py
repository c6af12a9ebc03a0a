"""Calling a platform's LTI Advantage services: the service token (OAuth 2 client credentials
with a signed JWT assertion, RFC 7523) and Assignment and Grade Services (line items, scores).

Every call is async httpx. A platform often fetches our JWKS (a request to this very server)
while we wait on its token endpoint: a blocking call there would deadlock a one-worker server.
Tokens are cached in the process per (platform, scopes) until 30 s before they expire; a 401
from a service drops the cached token and the call is tried once more with a fresh one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from app.lti.keys import ToolKey

AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
SCOPE_LINEITEM = AGS + "lineitem"
SCOPE_LINEITEM_READ = AGS + "lineitem.readonly"
SCOPE_SCORE = AGS + "score"
SCOPE_RESULT_READ = AGS + "result.readonly"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"

LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 300  # seconds: the client assertion's exp
EARLY = 30  # seconds before a token's expiry at which it is no longer used
DEFAULT_TOKEN_LIFETIME = 3600  # when the token answer gives no expires_in
TAG = "torchquiz"  # our line items' tag, to tell them from the platform's own
SCORE_MAXIMUM = 100


class ServiceError(Exception):
    """A platform's service answered other than expected: its status (None: no answer) and
    what it said, for the outbox's log."""

    def __init__(self, message: str, status: int | None = None, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.permanent = permanent  # asking again will not help (the platform said no for good)


@dataclass(frozen=True)
class Platform:
    """What the service calls need of a registered platform (a plain value, usable outside
    the database session it was read in)."""

    id: int
    issuer: str
    client_id: str
    token_url: str
    token_audience: str | None = None


Signer = Callable[[], Awaitable[ToolKey]]  # our current key (app.lti.keys), read when needed


@dataclass
class _Token:
    value: str
    expires: float  # time.monotonic() after which it is not used


class TokenCache:
    """Access tokens by (token URL, client id, scopes): in process, never stored."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str, frozenset[str]], _Token] = {}

    def get(self, key: tuple[str, str, frozenset[str]]) -> str | None:
        token = self._tokens.get(key)
        if token is None or time.monotonic() >= token.expires:
            return None
        return token.value

    def put(self, key: tuple[str, str, frozenset[str]], value: str, lifetime: float) -> None:
        self._tokens[key] = _Token(value, time.monotonic() + max(lifetime - EARLY, 0))

    def drop(self, key: tuple[str, str, frozenset[str]]) -> None:
        self._tokens.pop(key, None)

    def clear(self) -> None:
        self._tokens.clear()


TOKENS = TokenCache()  # the process's tokens


def client_assertion(platform: Platform, key: ToolKey, now: float | None = None) -> str:
    """The JWT we authenticate with at the token endpoint (RFC 7523, LTI Security 4.1)."""
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": platform.client_id,
        "sub": platform.client_id,
        "aud": platform.token_audience or platform.token_url,
        "iat": issued,
        "exp": issued + ASSERTION_LIFETIME,
        "jti": str(uuid.uuid4()),
    }
    return key.sign(claims)


class Services:
    """One platform's services, called with tokens of the scopes each call needs."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        platform: Platform,
        signer: Signer,
        tokens: TokenCache = TOKENS,
    ) -> None:
        self.http, self.platform, self.signer, self.tokens = http, platform, signer, tokens

    def _key(self, scopes: Iterable[str]) -> tuple[str, str, frozenset[str]]:
        return (self.platform.token_url, self.platform.client_id, frozenset(scopes))

    async def token(self, scopes: Iterable[str]) -> str:
        """A token of these scopes: the cached one, or a new one from the token endpoint."""
        key = self._key(scopes)
        if (cached := self.tokens.get(key)) is not None:
            return cached
        assertion = client_assertion(self.platform, await self.signer())
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
            "scope": " ".join(sorted(key[2])),
        }
        try:
            answer = await self.http.post(self.platform.token_url, data=form)
        except httpx.HTTPError as exc:
            raise ServiceError(f"the token endpoint did not answer: {exc!r}") from exc
        if answer.status_code != 200:
            raise ServiceError(
                f"the token endpoint refused: {_said(answer)}", status=answer.status_code
            )
        body = _json(answer)
        value = body.get("access_token")
        if not isinstance(value, str) or not value:
            raise ServiceError("the token endpoint's answer has no access_token", 502)
        lifetime = body.get("expires_in", DEFAULT_TOKEN_LIFETIME)
        lifetime = lifetime if isinstance(lifetime, int | float) else DEFAULT_TOKEN_LIFETIME
        self.tokens.put(key, value, lifetime)
        return value

    async def request(
        self, method: str, url: str | httpx.URL, scopes: Iterable[str], **kwargs: Any
    ) -> httpx.Response:
        """A service call with a bearer token; on a 401, once more with a fresh token.
        Network failures raise ServiceError (status None)."""
        scopes = frozenset(scopes)
        extra = dict(kwargs.pop("headers", {}))
        for fresh in (False, True):
            if fresh:
                self.tokens.drop(self._key(scopes))
            headers = {**extra, "Authorization": f"Bearer {await self.token(scopes)}"}
            try:
                answer = await self.http.request(method, url, headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                raise ServiceError(f"{method} {url} failed: {exc!r}") from exc
            if answer.status_code != 401:
                break
        return answer


# --- Assignment and Grade Services ---------------------------------------------------------


@dataclass(frozen=True)
class LinkServices:
    """A resource link's AGS claim, as its last launch gave it."""

    resource_link_id: str
    lineitem: str | None
    lineitems: str | None
    scopes: tuple[str, ...]


def scores_url(lineitem: str) -> str:
    """`<lineitem>/scores`, the path extended before any query string (Moodle's line item
    URLs carry `?type_id=...`)."""
    parts = urlsplit(lineitem)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


async def find_or_create_line_item(
    services: Services, link: LinkServices, *, label: str, resource_id: str
) -> tuple[str, bool]:
    """The line item the link's scores go to, and whether we created it. The launch's own
    `lineitem` when given: with no `lineitems` that is all a platform offers (Open edX) and
    nothing is ever created. Else the platform's item for the link, created when none."""
    if link.lineitem:
        return link.lineitem, False
    if not link.lineitems:
        raise ServiceError("the platform offers no line item for this link", permanent=True)
    read = _pick(link.scopes, SCOPE_LINEITEM, SCOPE_LINEITEM_READ)
    query = {"resource_link_id": link.resource_link_id}
    url = httpx.URL(link.lineitems).copy_merge_params(query)
    answer = await services.request("GET", url, [read], headers={"Accept": LINEITEMS_TYPE})
    _expect(answer, "listing line items")
    items = [i for i in _json_list(answer) if i.get("resourceLinkId") == link.resource_link_id]
    if items:
        ours = [i for i in items if i.get("tag") == TAG]
        return str((ours or items)[0]["id"]), False
    if SCOPE_LINEITEM not in link.scopes:
        raise ServiceError(
            "the platform does not let us create line items for this link", permanent=True
        )
    item = {
        "label": label,
        "scoreMaximum": SCORE_MAXIMUM,
        "resourceLinkId": link.resource_link_id,
        "resourceId": resource_id,
        "tag": TAG,
    }
    answer = await services.request(
        "POST",
        link.lineitems,
        [SCOPE_LINEITEM],
        json=item,
        headers={"Content-Type": LINEITEM_TYPE, "Accept": LINEITEM_TYPE},
    )
    _expect(answer, "creating a line item")
    created = _json(answer).get("id")
    if not isinstance(created, str) or not created:
        raise ServiceError("the platform created a line item without an id", 502)
    return created, True


def score_body(subject: str, score: float, timestamp: datetime) -> dict[str, Any]:
    """An AGS score: the learner's final grade, out of 100, completed and fully graded."""
    assert timestamp.tzinfo is not None, "an AGS timestamp must carry its zone"
    return {
        "userId": subject,
        "scoreGiven": score,
        "scoreMaximum": SCORE_MAXIMUM,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": timestamp.astimezone(UTC).isoformat(timespec="seconds"),
    }


async def post_score(services: Services, lineitem: str, body: dict[str, Any]) -> httpx.Response:
    """POST the score; the answer as given (the caller classifies it)."""
    return await services.request(
        "POST",
        scores_url(lineitem),
        [SCOPE_SCORE],
        json=body,
        headers={"Content-Type": SCORE_TYPE},
    )


def _pick(granted: Iterable[str], *wanted: str) -> str:
    granted = set(granted)
    return next((scope for scope in wanted if scope in granted), wanted[-1])


def _expect(answer: httpx.Response, doing: str) -> None:
    if not answer.is_success:
        raise ServiceError(f"{doing}: {_said(answer)}", status=answer.status_code)


def _said(answer: httpx.Response) -> str:
    """What the platform said, short enough for a log line."""
    return f"{answer.status_code} {answer.text[:300]}".strip()


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        raise ServiceError(f"not JSON: {_said(answer)}", status=502) from None
    if not isinstance(body, dict):
        raise ServiceError(f"not a JSON object: {_said(answer)}", status=502)
    return body


def _json_list(answer: httpx.Response) -> list[dict[str, Any]]:
    try:
        body = answer.json()
    except ValueError:
        raise ServiceError(f"not JSON: {_said(answer)}", status=502) from None
    if not isinstance(body, list):
        raise ServiceError(f"not a JSON list: {_said(answer)}", status=502)
    return [item for item in body if isinstance(item, dict) and item.get("id")]
