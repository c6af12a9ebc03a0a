"""The account page's "Your data" section posts here: delete the account and everything about
it, once confirmed (the section's download link is the API's GET /api/v1/me/export)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from app.core.deps import SessionDep
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.learners.deps import CsrfProtected, MaybeAccountDep
from app.privacy.web import delete_own, forget_browser
from app.questions.deps import CatalogDep

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)


@router.post("/account/delete", dependencies=[CsrfProtected])
def delete_account_form(
    request: Request,
    db: SessionDep,
    account: MaybeAccountDep,
    catalog: CatalogDep,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    if account is None:
        return RedirectResponse("/account/sign-in?next=/account", 303)
    if confirm != "yes":
        problems = {"confirm": "Tick the box to confirm: this cannot be undone."}
        context = {"account": account, "topics": catalog.topics, "problems": problems}
        return render_page(request, "accounts/account.html", context, status_code=400)
    delete_own(request, db)
    response = RedirectResponse(request.url_for("home"), 303)
    forget_browser(response)
    return response
