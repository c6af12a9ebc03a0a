"""The API tokens page (/account/tokens): list, create (the secret shown once), revoke; and a
course's allowed origins, set from its settings. The same services as app.tokens.api."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.accounts.web import sign_in_first
from app.core.bounds import PublicId
from app.core.deps import SessionDep
from app.core.errors import AppError
from app.core.forms import field_problems
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.courses import service as courses
from app.courses.deps import SignedInDep
from app.learners.deps import CsrfProtected, MaybeAccountDep
from app.learners.sessions import Account
from app.tokens import service
from app.tokens.api import forget, the_user
from app.tokens.schemas import TokenIn
from app.tokens.scopes import SCOPES

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
FormText = Annotated[str, Form()]
NOTICES = {"revoked": "The token is revoked: it is refused from now on."}


def _page(
    request: Request,
    db: Session,
    account: Account,
    *,
    values: dict[str, Any] | None = None,
    problems: dict[str, str] | None = None,
    created: service.NewToken | None = None,
    status: int = 200,
) -> Response:
    teaching, _ = courses.my_courses(db, account.user_id)
    context = {
        "tokens": service.tokens_of(db, account.user_id),
        "scopes": SCOPES,
        "courses": [row.course for row in teaching if row.roles.content == "owner"],
        "values": values or {"name": "", "scopes": [], "expires_in_days": "90", "course": ""},
        "problems": problems or {},
        "created": created,
        "notice": NOTICES.get(request.query_params.get("done", "")),
    }
    headers = {"Cache-Control": "no-store"} if created else None
    return render_page(request, "tokens/tokens.html", context, status_code=status, headers=headers)


@router.get("/account/tokens")
def tokens_page(request: Request, db: SessionDep, account: MaybeAccountDep) -> Response:
    if account is None:
        return sign_in_first("/account/tokens")
    return _page(request, db, account)


@router.post("/account/tokens", dependencies=[CsrfProtected])
def create_token_form(
    request: Request,
    db: SessionDep,
    account: SignedInDep,
    name: FormText = "",
    scopes: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    expires_in_days: FormText = "",
    course: FormText = "",
    allowed_origins: FormText = "",
) -> Response:
    values: dict[str, Any] = {
        "name": name,
        "scopes": scopes,
        "expires_in_days": expires_in_days.strip(),
        "course": course.strip(),
        "allowed_origins": allowed_origins,
    }
    try:
        parsed = TokenIn.model_validate(
            {
                **values,
                "expires_in_days": values["expires_in_days"] or None,
                "course": values["course"] or None,
                "allowed_origins": values["allowed_origins"].split(),
            }
        )
    except ValidationError as exc:
        return _page(request, db, account, values=values, problems=field_problems(exc), status=422)
    try:
        created = service.create(db, the_user(db, account.user_id), parsed.request())
    except AppError as exc:
        problems = {exc.field or "form": exc.message}
        return _page(request, db, account, values=values, problems=problems, status=exc.status)
    request.app.state.origins.changed()
    return _page(request, db, account, created=created, status=201)


@router.post("/account/tokens/{public_id}/revoke", dependencies=[CsrfProtected])
def revoke_token_form(
    public_id: PublicId, request: Request, db: SessionDep, account: SignedInDep
) -> Response:
    service.revoke(db, account.user_id, public_id)
    forget(request, public_id)
    url = request.url_for("tokens_page").include_query_params(done="revoked")
    return RedirectResponse(url, status_code=303)
