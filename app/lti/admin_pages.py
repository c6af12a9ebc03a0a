"""Site administrators' pages for the LTI platforms (the same service as the JSON API):
the list with our URLs to paste into an LMS, a form to register or change one, deactivation."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.core.bounds import PublicId
from app.core.deps import SessionDep, database_of
from app.core.errors import AppError
from app.core.forms import field_problems
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.learners.deps import AdminDep, CsrfProtected
from app.lti import platforms
from app.lti.deps import platforms_changed, tool_urls
from app.lti.models import LtiPlatform
from app.lti.schemas import PlatformIn, PlatformPatch

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
FIELDS = (
    "name",
    "issuer",
    "client_id",
    "deployment_ids",
    "auth_login_url",
    "token_url",
    "jwks_url",
    "token_audience",
)


@router.get("/admin/lti/platforms", name="lti_platforms_page")
def platforms_page(request: Request, db: SessionDep, admin: AdminDep) -> Response:
    context = {"platforms": platforms.list_platforms(db), "urls": tool_urls(request)}
    return render_page(request, "lti/platforms.html", context)


@router.get("/admin/lti/platforms/new", name="lti_platform_new_page")
def new_platform_page(request: Request, admin: AdminDep) -> Response:
    return _form(request, None, dict.fromkeys(FIELDS, ""))


@router.post("/admin/lti/platforms/new", dependencies=[CsrfProtected])
async def new_platform_form(request: Request, admin: AdminDep) -> Response:
    values = await _values(request)
    try:
        data = PlatformIn.model_validate(_parsed(values))
    except ValidationError as exc:
        return _form(request, None, values, field_problems(exc), status=422)
    database = await database_of(request)
    try:
        await database.run(platforms.create_platform, data)
    except AppError as exc:
        return _form(request, None, values, {exc.field or "form": exc.message}, exc.status)
    platforms_changed(request)
    return RedirectResponse("/admin/lti/platforms", 303)


@router.get("/admin/lti/platforms/{platform_id}", name="lti_platform_page")
def platform_page(
    platform_id: PublicId, request: Request, db: SessionDep, admin: AdminDep
) -> Response:
    row = platforms.get_platform(db, platform_id)
    return _form(request, row, _row_values(row))


@router.post("/admin/lti/platforms/{platform_id}", dependencies=[CsrfProtected])
async def platform_form(platform_id: PublicId, request: Request, admin: AdminDep) -> Response:
    values = await _values(request)
    database = await database_of(request)
    row = await database.run(platforms.get_platform, platform_id)
    try:
        patch = PlatformPatch.model_validate(_parsed(values))
    except ValidationError as exc:
        return _form(request, row, values, field_problems(exc), status=422)
    try:
        await database.run(_update, platform_id, patch)
    except AppError as exc:
        return _form(request, row, values, {exc.field or "form": exc.message}, exc.status)
    platforms_changed(request)
    return RedirectResponse("/admin/lti/platforms", 303)


@router.post("/admin/lti/platforms/{platform_id}/deactivate", dependencies=[CsrfProtected])
def deactivate_form(
    platform_id: PublicId, request: Request, db: SessionDep, admin: AdminDep
) -> Response:
    platforms.deactivate(db, platforms.get_platform(db, platform_id))
    platforms_changed(request)
    return RedirectResponse("/admin/lti/platforms", 303)


@router.post("/admin/lti/platforms/{platform_id}/activate", dependencies=[CsrfProtected])
def activate_form(
    platform_id: PublicId, request: Request, db: SessionDep, admin: AdminDep
) -> Response:
    row = platforms.get_platform(db, platform_id)
    platforms.update_platform(db, row, PlatformPatch(active=True))
    platforms_changed(request)
    return RedirectResponse("/admin/lti/platforms", 303)


def _update(db: Session, platform_id: str, patch: PlatformPatch) -> None:
    platforms.update_platform(db, platforms.get_platform(db, platform_id), patch)


async def _values(request: Request) -> dict[str, str]:
    form = await request.form()
    return {name: str(form.get(name) or "") for name in FIELDS}


def _parsed(values: dict[str, str]) -> dict[str, Any]:
    """The form's text as the schema takes it: deployment ids one per line (or by commas),
    the optional token audience absent when empty."""
    parsed: dict[str, Any] = dict(values)
    parsed["deployment_ids"] = [d for d in re.split(r"[\s,]+", values["deployment_ids"]) if d]
    if not values["token_audience"].strip():
        parsed["token_audience"] = None
    return parsed


def _row_values(row: LtiPlatform) -> dict[str, str]:
    values = {name: str(getattr(row, name) or "") for name in FIELDS}
    values["deployment_ids"] = "\n".join(row.deployment_ids)
    return values


def _form(
    request: Request,
    row: LtiPlatform | None,
    values: dict[str, str],
    problems: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context = {"platform": row, "values": values, "problems": problems or {}}
    return render_page(request, "lti/platform_form.html", context, status_code=status)
