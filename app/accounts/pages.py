"""Account pages: sign up, sign in, sign out, your account, and password resets by email."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from app.accounts import service
from app.accounts.forms import PasswordForm, ResetRequest, SignInForm, SignUpForm
from app.accounts.web import (
    end_browser_session,
    local_path,
    reset_with_token,
    send_reset,
    session_lifetime,
    set_signed_in,
    sign_in_first,
    sign_in_limits,
)
from app.core.clients import client_address
from app.core.deps import DatabaseDep, SessionDep
from app.core.errors import AppError
from app.core.forms import field_problems
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.learners.deps import CsrfProtected, MaybeAccountDep, learner_public_id
from app.questions.deps import CatalogDep

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)

FormField = Annotated[str, Form()]
OptionalField = Annotated[str, Form()]


def _form_page(
    request: Request,
    template: str,
    values: dict[str, str],
    problems: dict[str, str] | None = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    context = {"values": values, "problems": problems or {}}
    return render_page(request, template, context, status_code=status, headers=headers)


def _refused(request: Request, template: str, values: dict[str, str], exc: AppError) -> Response:
    problems = {exc.field or "form": exc.message}
    return _form_page(request, template, values, problems, status=exc.status, headers=exc.headers)


def _parse(
    model: type[BaseModel], values: dict[str, str]
) -> tuple[BaseModel | None, dict[str, str]]:
    try:
        return model.model_validate(values), {}
    except ValidationError as exc:
        return None, field_problems(exc)


def _go(request: Request, signed: service.SignedIn, next_path: str) -> Response:
    response = RedirectResponse(local_path(next_path), 303)
    set_signed_in(request, response, signed)
    return response


@router.get("/account/sign-up")
def sign_up_page(request: Request, next: str = "/") -> Response:
    return _form_page(request, "accounts/sign_up.html", {"next": local_path(next)})


@router.post("/account/sign-up", dependencies=[CsrfProtected])
async def sign_up_form(
    request: Request,
    database: DatabaseDep,
    email: FormField = "",
    password: FormField = "",
    display_name: OptionalField = "",
    next: OptionalField = "/",
) -> Response:
    values = {"email": email, "display_name": display_name, "next": local_path(next)}
    parsed, problems = _parse(
        SignUpForm, {"email": email, "password": password, "display_name": display_name}
    )
    if not isinstance(parsed, SignUpForm):
        return _form_page(request, "accounts/sign_up.html", values, problems, status=422)
    try:
        await request.app.state.new_learners.admit_async(client_address(request))
        signed = await service.sign_up(
            database,
            parsed.email,
            parsed.password,
            parsed.display_name,
            learner_public_id(request),
            session_lifetime(request),
        )
    except AppError as exc:
        return _refused(request, "accounts/sign_up.html", values, exc)
    return _go(request, signed, values["next"])


@router.get("/account/sign-in")
def sign_in_page(request: Request, next: str = "/") -> Response:
    return _form_page(request, "accounts/sign_in.html", {"next": local_path(next)})


@router.post("/account/sign-in", dependencies=[CsrfProtected])
async def sign_in_form(
    request: Request,
    database: DatabaseDep,
    email: FormField = "",
    password: FormField = "",
    next: OptionalField = "/",
) -> Response:
    values = {"email": email, "next": local_path(next)}
    parsed, problems = _parse(SignInForm, {"email": email, "password": password})
    if not isinstance(parsed, SignInForm):
        return _form_page(request, "accounts/sign_in.html", values, problems, status=422)
    try:
        signed = await service.sign_in(
            database,
            parsed.email,
            parsed.password,
            learner_public_id(request),
            limits=sign_in_limits(request),
            address=client_address(request),
            lifetime=session_lifetime(request),
        )
    except AppError as exc:
        return _refused(request, "accounts/sign_in.html", values, exc)
    return _go(request, signed, values["next"])


@router.post("/account/sign-out", dependencies=[CsrfProtected])
def sign_out_form(request: Request, db: SessionDep) -> Response:
    response = RedirectResponse(request.url_for("home"), 303)
    end_browser_session(request, db, response)
    return response


@router.get("/account")
def account_page(request: Request, account: MaybeAccountDep, catalog: CatalogDep) -> Response:
    if account is None:
        return sign_in_first("/account")
    context = {"account": account, "topics": catalog.topics}
    return render_page(request, "accounts/account.html", context)


@router.get("/account/reset")
def reset_request_page(request: Request) -> Response:
    return _form_page(request, "accounts/reset_request.html", {})


@router.post("/account/reset", dependencies=[CsrfProtected])
def reset_request_form(request: Request, db: SessionDep, email: FormField = "") -> Response:
    parsed, problems = _parse(ResetRequest, {"email": email})
    if not isinstance(parsed, ResetRequest):
        return _form_page(
            request, "accounts/reset_request.html", {"email": email}, problems, status=422
        )
    send_reset(request, db, parsed.email)
    return render_page(request, "accounts/reset_sent.html", {"email": parsed.email})


@router.get("/account/reset/{token}")
def reset_page(request: Request, token: str, db: SessionDep) -> Response:
    try:
        service.reset_usable(db, token)
    except AppError as exc:
        return _refused(request, "accounts/reset_request.html", {}, exc)
    return _form_page(request, "accounts/reset.html", {"token": token})


@router.post("/account/reset/{token}", dependencies=[CsrfProtected])
async def reset_form(
    request: Request, token: str, database: DatabaseDep, password: FormField = ""
) -> Response:
    parsed, problems = _parse(PasswordForm, {"password": password})
    if not isinstance(parsed, PasswordForm):
        return _form_page(request, "accounts/reset.html", {"token": token}, problems, status=422)
    try:
        signed = await reset_with_token(request, database, token, parsed.password)
    except AppError as exc:
        return _refused(request, "accounts/reset_request.html", {}, exc)
    return _go(request, signed, "/account")
