"""A course's webhook pages: the list, a new one (its secret shown once), one webhook with
its settings and delivery log (a Replay button per delivery), a test ping. Thin faces over
app.webhooks.service, which the API calls too; every page asks `course:manage`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.core.bounds import INT32_MAX, Count, PublicId
from app.core.deps import SessionDep
from app.core.forms import field_problems
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.courses.deps import CourseAccess, ManageDep
from app.learners.deps import CsrfProtected
from app.webhooks import service
from app.webhooks.models import WebhookSubscription
from app.webhooks.schemas import DeliveryOut, WebhookIn, WebhookPatch

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
HOOKS = "/courses/{slug}/webhooks"
ONE = HOOKS + "/{wid}"
FormText = Annotated[str, Form()]
FormList = Annotated[list[str], Form()]
LOG_PAGE = 25
EVENT_HINTS = {
    "attempt.submitted": "every submitted attempt at one of the course's assignments",
    "assignment.completed": "a learner's last allowed attempt is in (with the final grade); "
    "never for an assignment with unlimited attempts",
    "question.reported": "a learner reported a problem with one of the course's questions",
}
NOTICES = {
    "saved": "Saved.",
    "deleted": "The webhook is deleted.",
    "test": "A webhook.test ping is on its way: its delivery shows below in a moment.",
    "replayed": "The delivery is sent again: the new try shows at the top of the log.",
}


def _parse(model: type[BaseModel], values: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    try:
        return model.model_validate(values), {}
    except ValidationError as exc:
        return None, field_problems(exc)


def _go(request: Request, name: str, done: str, **params: Any) -> RedirectResponse:
    url = request.url_for(name, **params).include_query_params(done=done)
    return RedirectResponse(url, status_code=303)


@router.get(HOOKS, name="webhooks_page")
def webhooks_page(request: Request, db: SessionDep, access: ManageDep) -> Response:
    context = {
        "course": access.course,
        "webhooks": service.subscriptions(db, access.course.id),
        "notice": NOTICES.get(request.query_params.get("done", "")),
    }
    return render_page(request, "webhooks/list.html", context)


def _new_page(
    request: Request,
    access: CourseAccess,
    values: dict[str, Any] | None = None,
    problems: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context = {
        "course": access.course,
        "events": EVENT_HINTS,
        "values": values or {"url": "", "events": list(service.EVENTS), "description": ""},
        "problems": problems or {},
    }
    return render_page(request, "webhooks/new.html", context, status_code=status)


@router.get(HOOKS + "/new", name="webhook_new_page")
def new_page(request: Request, db: SessionDep, access: ManageDep) -> Response:
    return _new_page(request, access)


@router.post(HOOKS, dependencies=[CsrfProtected], name="create_webhook_form")
def create_form(
    request: Request,
    db: SessionDep,
    access: ManageDep,
    url: FormText = "",
    events: FormList = [],  # noqa: B006 - FastAPI copies defaults
    description: FormText = "",
) -> Response:
    values = {"url": url, "events": events, "description": description}
    form, problems = _parse(WebhookIn, values)
    if form is None:
        return _new_page(request, access, values, problems, status=422)
    made = service.create(
        db,
        access.course,
        url=form.url,
        events=list(form.events),
        description=form.description,
        created_by=access.account.user_id,
    )
    return _webhook_page(request, db, access, made, secret=made.secret, status=201)


def _webhook_page(
    request: Request,
    db: Session,
    access: CourseAccess,
    subscription: WebhookSubscription,
    *,
    secret: str | None = None,
    offset: int = 0,
    values: dict[str, Any] | None = None,
    problems: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rows, total, tries = service.deliveries(db, subscription, limit=LOG_PAGE, offset=offset)
    context = {
        "course": access.course,
        "webhook": subscription,
        "secret": secret,
        "events": EVENT_HINTS,
        "values": values
        or {
            "url": subscription.url,
            "events": subscription.events,
            "description": subscription.description,
            "active": subscription.active,
        },
        "problems": problems or {},
        "deliveries": [DeliveryOut.of(row, tries[row.id]) for row in rows],
        "total": total,
        "offset": offset,
        "limit": LOG_PAGE,
        "notice": NOTICES.get(request.query_params.get("done", "")),
    }
    headers = {"Cache-Control": "no-store"} if secret else None
    return render_page(
        request, "webhooks/webhook.html", context, status_code=status, headers=headers
    )


@router.get(ONE, name="webhook_page")
def webhook_page(
    wid: PublicId,
    request: Request,
    db: SessionDep,
    access: ManageDep,
    offset: Annotated[Count, Query()] = 0,
) -> Response:
    subscription = service.get(db, access.course.id, wid)
    return _webhook_page(request, db, access, subscription, offset=offset)


@router.post(ONE, dependencies=[CsrfProtected], name="update_webhook_form")
def update_form(
    slug: str,
    wid: PublicId,
    request: Request,
    db: SessionDep,
    access: ManageDep,
    url: FormText = "",
    events: FormList = [],  # noqa: B006 - FastAPI copies defaults
    description: FormText = "",
    active: FormText = "",
) -> Response:
    subscription = service.get(db, access.course.id, wid)
    values = {"url": url, "events": events, "description": description, "active": active == "on"}
    form, problems = _parse(WebhookPatch, values)
    if form is None:
        return _webhook_page(
            request, db, access, subscription, values=values, problems=problems, status=422
        )
    service.update(
        db,
        subscription,
        url=form.url,
        events=list(form.events),
        description=form.description,
        active=form.active,
    )
    return _go(request, "webhook_page", "saved", slug=slug, wid=wid)


@router.post(ONE + "/delete", dependencies=[CsrfProtected], name="delete_webhook_form")
def delete_form(
    slug: str, wid: PublicId, request: Request, db: SessionDep, access: ManageDep
) -> Response:
    service.delete(db, service.get(db, access.course.id, wid))
    return _go(request, "webhooks_page", "deleted", slug=slug)


@router.post(ONE + "/test", dependencies=[CsrfProtected], name="test_webhook_form")
def test_form(
    slug: str, wid: PublicId, request: Request, db: SessionDep, access: ManageDep
) -> Response:
    service.send_test(db, access.course, service.get(db, access.course.id, wid))
    return _go(request, "webhook_page", "test", slug=slug, wid=wid)


@router.post(
    ONE + "/deliveries/{message_id}/replay",
    dependencies=[CsrfProtected],
    name="replay_delivery_form",
)
def replay_form(
    slug: str,
    wid: PublicId,
    message_id: Annotated[int, Path(ge=1, le=INT32_MAX)],
    request: Request,
    db: SessionDep,
    access: ManageDep,
) -> Response:
    service.replay(db, service.get(db, access.course.id, wid), message_id)
    return _go(request, "webhook_page", "replayed", slug=slug, wid=wid)
