"""The dynamic registration page an LMS opens (LTI DR 1.0): a site administrator confirms,
we register, and the page tells the LMS it may close it (`org.imsglobal.lti.close`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from app.core.deps import DatabaseDep
from app.core.errors import AppError
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.learners.deps import AdminDep, CsrfProtected, MaybeAccountDep
from app.lti import registration
from app.lti.deps import platforms_changed, tool_urls

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
URL_MAX = 2000
TOKEN_MAX = 4000


@router.get("/lti/register", name="lti_register_page")
def register_page(
    request: Request,
    account: MaybeAccountDep,
    openid_configuration: str = "",
    registration_token: str = "",
) -> Response:
    """What the LMS opens: the confirmation, for a signed-in site administrator."""
    values = {
        "openid_configuration": openid_configuration,
        "registration_token": registration_token,
    }
    if not openid_configuration:
        return _page(request, values, "the LMS sent no openid_configuration", 400)
    if account is not None and not account.is_admin:
        return _page(request, values, "registering an LMS needs a site administrator", 403)
    return _page(request, values, None, 200)


@router.post("/lti/register", dependencies=[CsrfProtected])
async def register_form(
    request: Request,
    database: DatabaseDep,
    admin: AdminDep,
    openid_configuration: Annotated[str, Form(max_length=URL_MAX)],
    registration_token: Annotated[str, Form(max_length=TOKEN_MAX)] = "",
) -> Response:
    """Register with the LMS, as the page's administrator confirmed."""
    values = {
        "openid_configuration": openid_configuration,
        "registration_token": registration_token,
    }
    token = registration_token or None
    try:
        configuration = await registration.fetch_configuration(openid_configuration, token)
        client_id, deployment = await registration.register_tool(
            configuration, token, tool_urls(request)
        )
        done = await database.run(registration.store, configuration, client_id, deployment)
    except AppError as exc:
        return _page(request, values, exc.message, exc.status)
    platforms_changed(request)
    return render_page(request, "lti/registered.html", {"registered": done})


def _page(request: Request, values: dict[str, str], problem: str | None, status: int) -> Response:
    context = {"values": values, "problem": problem, "here": str(request.url)}
    return render_page(request, "lti/register.html", context, status_code=status)
