"""A course's webhook subscriptions, and the messages each event sends them.

An event writes one outbox message (kind "webhook") per active subscription that asked for
it, in the transaction of the change it reports: the message carries the subscription, its
webhook-id (a stable message id: a replay sends it again, as the Standard Webhooks spec has
it) and the body. The deliverer (app.webhooks.sender) signs and posts it afterwards.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.errors import NotFoundError
from app.courses.models import Course
from app.outbox import service as outbox
from app.outbox.models import OutboxMessage, OutboxTry
from app.webhooks.models import URL_LENGTH, WebhookMessage, WebhookSubscription

KIND = "webhook"  # the outbox messages' kind
# What a subscription may ask for. `assignment.completed`: the attempt just submitted was the
# learner's last allowed one (an assignment with unlimited attempts never completes).
EVENTS = ("attempt.submitted", "assignment.completed", "question.reported")
TEST_EVENT = "webhook.test"
SECRET_BYTES = 32


def new_secret() -> str:
    """A signing secret in the Standard Webhooks format: "whsec_" + base64 of random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def url_problem(url: str) -> str | None:
    """Why a URL cannot receive webhooks, or None. Only the form is checked here; where it
    points (a private address) is checked at delivery, in production (app.webhooks.sender)."""
    if len(url) > URL_LENGTH:
        return f"must be at most {URL_LENGTH} characters"
    if any(ord(c) <= 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF for c in url):
        return "must not contain spaces or control characters (percent-encode them)"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        return f"is not a URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if not parts.hostname:
        return "must name a host"
    if parts.username or parts.password:
        return "must not hold a user name or password"
    return None


def envelope(event: str, data: dict[str, Any], at: datetime | None = None) -> dict[str, Any]:
    """A webhook's body, as the Standard Webhooks spec shapes it: type, timestamp, data."""
    moment = (at or utcnow()).isoformat().replace("+00:00", "Z")
    return {"type": event, "timestamp": moment, "data": data}


# --- subscriptions -------------------------------------------------------------------------


def create(
    db: Session,
    course: Course,
    *,
    url: str,
    events: list[str],
    description: str = "",
    created_by: int | None = None,
) -> WebhookSubscription:
    subscription = WebhookSubscription(
        course_id=course.id,
        url=url,
        secret=new_secret(),
        events=sorted(set(events)),
        active=True,
        description=description,
        created_by=created_by,
    )
    db.add(subscription)
    db.flush()
    return subscription


def subscriptions(db: Session, course_id: int) -> list[WebhookSubscription]:
    query = select(WebhookSubscription).where(WebhookSubscription.course_id == course_id)
    return list(db.scalars(query.order_by(WebhookSubscription.created_at, WebhookSubscription.id)))


def get(db: Session, course_id: int, public_id: str) -> WebhookSubscription:
    """One of the course's subscriptions; another course's is as unknown as a missing one."""
    found = db.scalar(
        select(WebhookSubscription).where(
            WebhookSubscription.public_id == public_id,
            WebhookSubscription.course_id == course_id,
        )
    )
    if found is None:
        raise NotFoundError(f"no webhook '{public_id}' in this course", field="webhook")
    return found


def update(
    db: Session,
    subscription: WebhookSubscription,
    *,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> WebhookSubscription:
    """Change what is given; the secret stays."""
    if url is not None:
        subscription.url = url
    if events is not None:
        subscription.events = sorted(set(events))
    if description is not None:
        subscription.description = description
    if active is not None:
        subscription.active = active
    db.flush()
    return subscription


def delete(db: Session, subscription: WebhookSubscription) -> None:
    """Its messages not yet sent are refused by the deliverer (the subscription is gone)."""
    db.delete(subscription)
    db.flush()


# --- messages ------------------------------------------------------------------------------


def _send(
    db: Session, subscription: WebhookSubscription, body: dict[str, Any], webhook_id: str
) -> OutboxMessage:
    payload = {"subscription": subscription.public_id, "body": body}
    message = outbox.enqueue(db, KIND, payload, key=webhook_id, course_id=subscription.course_id)
    db.add(WebhookMessage(message_id=message.id, subscription_id=subscription.id))
    db.flush()
    return message


def publish(
    db: Session, course_id: int, event: str, data: dict[str, Any], at: datetime | None = None
) -> list[OutboxMessage]:
    """One message per active subscription of the course that asked for `event`."""
    body = envelope(event, data, at)
    return [
        _send(db, subscription, body, new_webhook_id())
        for subscription in listening(db, course_id, event)
    ]


def _active(db: Session, course_id: int) -> list[WebhookSubscription]:
    query = select(WebhookSubscription).where(
        WebhookSubscription.course_id == course_id, WebhookSubscription.active
    )
    return list(db.scalars(query))


def listening(db: Session, course_id: int, event: str) -> list[WebhookSubscription]:
    """The course's active subscriptions that asked for `event`."""
    return [s for s in _active(db, course_id) if event in (s.events or [])]


def wanted(db: Session, course_id: int) -> set[str]:
    """Every event some active subscription of the course asked for."""
    return {event for s in _active(db, course_id) for event in s.events or []}


def send_test(db: Session, course: Course, subscription: WebhookSubscription) -> OutboxMessage:
    """A `webhook.test` ping, whatever events the subscription asked for."""
    data = {"course": course.slug, "webhook": subscription.public_id}
    return _send(db, subscription, envelope(TEST_EVENT, data), new_webhook_id())


def deliveries(
    db: Session, subscription: WebhookSubscription, *, limit: int = 50, offset: int = 0
) -> tuple[list[OutboxMessage], int, dict[int, list[OutboxTry]]]:
    """The subscription's delivery log, newest first: its messages, how many in all, and
    each listed message's tries."""
    mine = select(WebhookMessage.message_id).where(
        WebhookMessage.subscription_id == subscription.id
    )
    rows, total = outbox.messages(
        db,
        course_id=subscription.course_id,
        kind=KIND,
        where=OutboxMessage.id.in_(mine),
        limit=limit,
        offset=offset,
    )
    return rows, total, outbox.tries(db, [row.id for row in rows])


def message_of(db: Session, subscription: WebhookSubscription, message_id: int) -> OutboxMessage:
    """One message of the subscription's log; any other is unknown (404)."""
    linked = db.scalar(
        select(WebhookMessage.message_id).where(
            WebhookMessage.message_id == message_id,
            WebhookMessage.subscription_id == subscription.id,
        )
    )
    message = db.get(OutboxMessage, message_id) if linked is not None else None
    if message is None:
        raise NotFoundError(f"no delivery {message_id} of this webhook", field="message")
    return message


def replay(db: Session, subscription: WebhookSubscription, message_id: int) -> OutboxMessage:
    """Send a message again: a new pending copy with the same webhook-id and body (signed
    anew when sent, with the time of sending)."""
    original = message_of(db, subscription, message_id)
    copy = outbox.replay(db, original.id)
    db.add(WebhookMessage(message_id=copy.id, subscription_id=subscription.id))
    db.flush()
    return copy
