"""What the webhook API takes and answers; the pages parse their forms with the same models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.core.bounds import storable_text
from app.core.db import as_utc
from app.outbox.models import OutboxMessage, OutboxTry
from app.webhooks.models import DESCRIPTION_LENGTH, URL_LENGTH, WebhookSubscription
from app.webhooks.service import url_problem

Event = Literal["attempt.submitted", "assignment.completed", "question.reported"]


def _receivable(url: str) -> str:
    if problem := url_problem(url):
        raise ValueError(problem)
    return url


Url = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=URL_LENGTH),
    AfterValidator(_receivable),
]
Description = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=DESCRIPTION_LENGTH),
    AfterValidator(storable_text),
]
Events = Annotated[list[Event], Field(min_length=1, max_length=3)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookIn(Strict):
    url: Url = Field(description="Where to POST: an http:// or https:// URL.")
    events: Events = Field(
        description="attempt.submitted, assignment.completed (a learner's last allowed attempt "
        "is in; never for unlimited attempts), question.reported."
    )
    description: Description = ""


class WebhookPatch(Strict):
    url: Url | None = None
    events: Events | None = None
    description: Description | None = None
    active: bool | None = Field(None, description="false pauses it: events are not sent.")


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    active: bool
    description: str
    created_at: datetime

    @classmethod
    def of(cls, subscription: WebhookSubscription) -> WebhookOut:
        return cls(
            id=subscription.public_id,
            url=subscription.url,
            events=list(subscription.events),
            active=subscription.active,
            description=subscription.description,
            created_at=as_utc(subscription.created_at),
        )


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description='The signing secret ("whsec_..."), in this answer only: verify each '
        "delivery's webhook-signature with it (Standard Webhooks)."
    )


class TryOut(BaseModel):
    at: datetime
    outcome: str = Field(description="delivered, retry, refused or dead.")
    status: int | None = Field(description="The receiver's HTTP status, if it answered.")
    error: str | None
    duration_ms: int

    @classmethod
    def of(cls, row: OutboxTry) -> TryOut:
        return cls(
            at=as_utc(row.at),
            outcome=row.outcome,
            status=row.status,
            error=row.error,
            duration_ms=row.duration_ms,
        )


class DeliveryOut(BaseModel):
    id: int = Field(description="The delivery's own id (a replay is a new delivery).")
    webhook_id: str | None = Field(description="The webhook-id header: kept by a replay.")
    event: str
    status: str = Field(description="pending, delivered, refused or dead.")
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="While pending: the next try.")
    delivered_at: datetime | None
    tries: list[TryOut]

    @classmethod
    def of(cls, message: OutboxMessage, tries: list[OutboxTry]) -> DeliveryOut:
        return cls(
            id=message.id,
            webhook_id=message.key,
            event=str(message.payload.get("body", {}).get("type", "")),
            status=message.status,
            attempts=message.attempts,
            last_status=message.last_status,
            last_error=message.last_error,
            created_at=as_utc(message.created_at),
            next_attempt_at=as_utc(message.next_attempt_at)
            if message.status == "pending"
            else None,
            delivered_at=as_utc(message.delivered_at) if message.delivered_at else None,
            tries=[TryOut.of(t) for t in tries],
        )
