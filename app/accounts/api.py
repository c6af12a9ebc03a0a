"""Accounts over the API: the same service as the pages. A browser's session lives in the
`tq_account` cookie (HttpOnly); these bodies are JSON only, which another site cannot send
without a CORS preflight this API never grants, so they need no CSRF token."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel

from app.accounts import service
from app.accounts.forms import PasswordForm, ResetRequest, SignInForm, SignUpForm
from app.accounts.web import (
    end_browser_session,
    reset_with_token,
    send_reset,
    session_lifetime,
    set_signed_in,
    sign_in_limits,
)
from app.core.clients import client_address
from app.core.deps import DatabaseDep, SessionDep
from app.core.routing import UnitOfWorkRoute
from app.learners.deps import AccountDep, learner_public_id

router = APIRouter(prefix="/account", tags=["accounts"], route_class=UnitOfWorkRoute)


class AccountOut(BaseModel):
    email: str | None  # None for an account an LMS made (LTI launch): it has no password either
    display_name: str | None
    site_role: str
    learner_id: str | None = None  # the account's learner (its history), when known


class Accepted(BaseModel):
    message: str


def _signed_in(request: Request, response: Response, signed: service.SignedIn) -> AccountOut:
    set_signed_in(request, response, signed)
    return AccountOut(
        email=signed.email,
        display_name=signed.display_name,
        site_role=signed.site_role,
        learner_id=signed.learner_public_id,
    )


@router.post("/sign-up", status_code=status.HTTP_201_CREATED)
async def sign_up(
    body: SignUpForm, request: Request, response: Response, database: DatabaseDep
) -> AccountOut:
    """A new account that keeps this browser's (or bearer token's) anonymous history."""
    await request.app.state.new_learners.admit_async(client_address(request))
    signed = await service.sign_up(
        database,
        body.email,
        body.password,
        body.display_name,
        learner_public_id(request),
        session_lifetime(request),
    )
    return _signed_in(request, response, signed)


@router.post("/sign-in", responses={429: {"description": "Too many failed sign-ins"}})
async def sign_in(
    body: SignInForm, request: Request, response: Response, database: DatabaseDep
) -> AccountOut:
    signed = await service.sign_in(
        database,
        body.email,
        body.password,
        learner_public_id(request),
        limits=sign_in_limits(request),
        address=client_address(request),
        lifetime=session_lifetime(request),
    )
    return _signed_in(request, response, signed)


@router.post("/sign-out", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(request: Request, db: SessionDep) -> Response:
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    end_browser_session(request, db, response)
    return response


@router.get("")
def me(account: AccountDep) -> AccountOut:
    return AccountOut(
        email=account.email, display_name=account.display_name, site_role=account.site_role
    )


@router.post("/password-reset", status_code=status.HTTP_202_ACCEPTED)
def request_reset(body: ResetRequest, request: Request, db: SessionDep) -> Accepted:
    """Mails a one-time link (valid an hour) if the address has an account; the answer is
    the same either way."""
    send_reset(request, db, body.email)
    return Accepted(message=f"if {body.email} has an account, a reset link is on its way")


@router.post("/password-reset/{token}", responses={409: {"description": "Used or expired"}})
async def reset_password(
    token: str, body: PasswordForm, request: Request, response: Response, database: DatabaseDep
) -> AccountOut:
    """A new password; every other session of the account ends."""
    signed = await reset_with_token(request, database, token, body.password)
    return _signed_in(request, response, signed)
