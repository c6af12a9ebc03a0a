"""A course's webhooks over the API: subscriptions, their delivery log, replay and a test
ping. Every route asks `course:manage` (an API token: `courses:manage`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from app.core.bounds import INT32_MAX, PublicId
from app.core.deps import SessionDep
from app.core.pagination import Limit, Offset, Page
from app.core.routing import UnitOfWorkRoute
from app.courses.deps import ManageDep
from app.webhooks import service
from app.webhooks.models import WebhookSubscription
from app.webhooks.schemas import DeliveryOut, WebhookCreated, WebhookIn, WebhookOut, WebhookPatch

router = APIRouter(prefix="/courses", tags=["webhooks"], route_class=UnitOfWorkRoute)
HOOKS = "/{slug}/webhooks"
ONE = HOOKS + "/{wid}"
MessageId = Annotated[int, Path(ge=1, le=INT32_MAX, description="A delivery's id.")]


def _subscription(db: SessionDep, access: ManageDep, wid: PublicId) -> WebhookSubscription:
    return service.get(db, access.course.id, wid)


SubscriptionDep = Annotated[WebhookSubscription, Depends(_subscription)]


@router.get(HOOKS, summary="The course's webhooks", name="api_webhooks")
def list_webhooks(db: SessionDep, access: ManageDep) -> list[WebhookOut]:
    """Every subscription of the course, oldest first; never their secrets."""
    return [WebhookOut.of(s) for s in service.subscriptions(db, access.course.id)]


@router.post(HOOKS, status_code=status.HTTP_201_CREATED, summary="Subscribe a URL")
def create_webhook(
    body: WebhookIn, response: Response, db: SessionDep, access: ManageDep
) -> WebhookCreated:
    """A new subscription; its signing secret is in this answer only."""
    made = service.create(
        db,
        access.course,
        url=body.url,
        events=list(body.events),
        description=body.description,
        created_by=access.account.user_id,
    )
    response.headers["Cache-Control"] = "no-store"  # the answer holds a secret
    return WebhookCreated(**WebhookOut.of(made).model_dump(), secret=made.secret)


@router.get(ONE, summary="One webhook")
def get_webhook(db: SessionDep, subscription: SubscriptionDep) -> WebhookOut:
    """Its URL, events and state; never its secret."""
    return WebhookOut.of(subscription)


@router.patch(ONE, summary="Change a webhook")
def update_webhook(body: WebhookPatch, db: SessionDep, subscription: SubscriptionDep) -> WebhookOut:
    """Change its URL, events, description, or pause it (`active`: false)."""
    changed = service.update(
        db,
        subscription,
        url=body.url,
        events=list(body.events) if body.events is not None else None,
        description=body.description,
        active=body.active,
    )
    return WebhookOut.of(changed)


@router.delete(ONE, status_code=status.HTTP_204_NO_CONTENT, summary="Delete a webhook")
def delete_webhook(db: SessionDep, subscription: SubscriptionDep) -> Response:
    """Its deliveries not yet made are dropped (refused as deleted)."""
    service.delete(db, subscription)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(ONE + "/deliveries", summary="A webhook's delivery log")
def deliveries(
    db: SessionDep, subscription: SubscriptionDep, limit: Limit = 50, offset: Offset = 0
) -> Page[DeliveryOut]:
    """Its deliveries, newest first, each with its tries (when, the receiver's status, the
    error, how long it took)."""
    rows, total, tries = service.deliveries(db, subscription, limit=limit, offset=offset)
    items = [DeliveryOut.of(row, tries[row.id]) for row in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.post(
    ONE + "/deliveries/{message_id}/replay",
    status_code=status.HTTP_201_CREATED,
    summary="Send a delivery again",
)
def replay(
    message_id: MessageId,
    db: SessionDep,
    subscription: SubscriptionDep,
) -> DeliveryOut:
    """A new delivery of the same message: the same webhook-id and body, signed anew."""
    copy = service.replay(db, subscription, message_id)
    return DeliveryOut.of(copy, [])


@router.post(ONE + "/test", status_code=status.HTTP_201_CREATED, summary="Send a test ping")
def test_webhook(db: SessionDep, access: ManageDep, subscription: SubscriptionDep) -> DeliveryOut:
    """A new delivery of a `webhook.test` event to this URL, sent at once in the background:
    its outcome shows in the delivery log."""
    return DeliveryOut.of(service.send_test(db, access.course, subscription), [])
