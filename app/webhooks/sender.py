"""Posting one webhook, signed per the Standard Webhooks spec (the `standardwebhooks` package):
`webhook-id` (the message's stable id), `webhook-timestamp` (seconds, the time of this try)
and `webhook-signature` ("v1," + base64 HMAC-SHA256 of "{id}.{timestamp}.{body}" under the
secret's decoded bytes).

What the receiver answers decides the outcome: 2xx delivered; 410 Gone refused for good, and
the subscription switched off (the receiver says it is gone); anything else, a timeout or no
connection, retried by the outbox with backoff.

In production a URL whose host resolves to a private, loopback or link-local address is
refused at delivery (no webhook may reach into the server's own network); development and
test allow them, so a receiver on 127.0.0.1 works.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from app.core.db import utcnow
from app.outbox.delivery import Delivered, DeliveryContext, Outcome, Refused, Retry
from app.webhooks.models import WebhookSubscription

USER_AGENT = "torchquiz"
MOST_RETRY_AFTER = 3600
ANSWER_KEPT = 300  # characters of a receiver's answer kept in the delivery log


@dataclass(frozen=True)
class Target:
    id: int
    url: str
    secret: str
    active: bool


def target(db: Session, public_id: str) -> Target | None:
    row = db.execute(
        select(
            WebhookSubscription.id,
            WebhookSubscription.url,
            WebhookSubscription.secret,
            WebhookSubscription.active,
        ).where(WebhookSubscription.public_id == public_id)
    ).one_or_none()
    return Target(*row) if row is not None else None


def switch_off(db: Session, subscription_id: int) -> None:
    db.execute(
        update(WebhookSubscription)
        .where(WebhookSubscription.id == subscription_id)
        .values(active=False)
    )


def signed_headers(secret: str, webhook_id: str, body: bytes) -> dict[str, str]:
    now = utcnow()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


def body_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


async def private_address(url: str) -> str | None:
    """Why a URL must not be called from production (it resolves to a non-public address),
    or None. A name that does not resolve is left to the post, which retries."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None
    for *_rest, address in found:
        ip = ipaddress.ip_address(address[0])
        if not ip.is_global:
            return f"{host} resolves to {ip}, a non-public address: refused in production"
    return None


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(min(int(value), MOST_RETRY_AFTER)) if value.isdigit() else None


async def start_of(response: httpx.Response) -> str:
    """The first characters of an answer's body, for the delivery log."""
    kept = b""
    async for chunk in response.aiter_bytes():
        kept += chunk
        if len(kept) >= ANSWER_KEPT:
            break
    return kept[:ANSWER_KEPT].decode("utf-8", "replace").strip()


def outcome_of(response: httpx.Response, said: str = "") -> Outcome:
    status = response.status_code
    if 200 <= status < 300:
        return Delivered(status)
    reason = f"{status} {response.reason_phrase or 'no reason given'}"
    if said:
        reason += f": {said}"
    if status == 410:
        return Refused(f"{reason} (the receiver is gone: the webhook is switched off)", status)
    return Retry(reason, status=status, after=retry_after(response))


async def deliver(context: DeliveryContext, payload: dict[str, Any]) -> Outcome:
    """The outbox's deliverer of kind "webhook"."""
    found = await context.database.run(target, payload["subscription"])
    if found is None:
        return Refused("the webhook was deleted")
    if not found.active:
        return Refused("the webhook is switched off")
    if context.settings.environment == "production":
        problem = await private_address(found.url)
        if problem:
            return Refused(problem)
    webhook_id = context.key or f"msg_{context.message_id}"
    body = body_bytes(payload["body"])
    headers = signed_headers(found.secret, webhook_id, body)
    try:
        # Streamed: only the start of the receiver's answer is read, however long it is.
        async with context.http.stream("POST", found.url, content=body, headers=headers) as answer:
            said = "" if answer.is_success else await start_of(answer)
            outcome = outcome_of(answer, said)
    except httpx.InvalidURL as exc:
        return Refused(f"the URL cannot be called: {exc}")
    except httpx.TimeoutException:
        return Retry("the receiver did not answer in time")
    except httpx.HTTPError as exc:
        return Retry(f"could not reach the receiver: {type(exc).__name__}: {exc}")
    if isinstance(outcome, Refused):
        await context.database.run(switch_off, found.id)
    return outcome
