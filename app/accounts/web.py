"""What the pages and the API share about a signed-in browser: its cookies, where to go next,
and the settings-derived limits."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from app.accounts import service
from app.accounts.service import SignedIn, SignInLimits
from app.core.config import Settings
from app.core.db import Database
from app.core.mail import send_mail
from app.learners.identity import (
    ACCOUNT_COOKIE,
    COOKIE,
    ONE_YEAR,
    clear_cookie,
    cookie_header,
    partitioned_cookie_header,
)


def session_lifetime(request: Request) -> timedelta:
    settings: Settings = request.app.state.settings
    return timedelta(days=settings.account_session_days)


def sign_in_limits(request: Request) -> SignInLimits:
    limits: SignInLimits = request.app.state.sign_in_limits
    return limits


def _secure(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    return settings.environment == "production" or request.url.scheme == "https"


def set_signed_in(request: Request, response: Response, signed: SignedIn) -> None:
    """The account cookie, and a new anonymous learner cookie underneath it: signing out
    leaves a fresh visitor, never a cookie that names the account's learner."""
    tokens = request.app.state.tokens
    secure, lifetime = _secure(request), int(session_lifetime(request).total_seconds())
    account = tokens.issue_account(signed.session_token, signed.learner_public_id)
    response.headers.append(
        "set-cookie", cookie_header(ACCOUNT_COOKIE, account, lifetime, secure=secure)
    )
    anonymous = tokens.issue(str(uuid.uuid4()))
    response.headers.append("set-cookie", cookie_header(COOKIE, anonymous, ONE_YEAR, secure=secure))
    response.headers["cache-control"] = "no-store"


def end_browser_session(request: Request, db: Session, response: Response) -> None:
    """End this browser's session, here and in this process's cache of live sessions."""
    if token := request.state.identity.account_token:
        service.end_session(db, token)
        request.app.state.live_sessions.forget(token)
    response.headers.append("set-cookie", clear_cookie(ACCOUNT_COOKIE))
    # An LTI launch signed the browser in with a partitioned cookie (inside the LMS's frame):
    # only a partitioned Set-Cookie reaches that one.
    response.headers.append("set-cookie", partitioned_cookie_header(ACCOUNT_COOKIE, "", 0))


async def reset_with_token(
    request: Request, database: Database, token: str, password: str
) -> SignedIn:
    """A new password: every session of the account ends, none stays live in this process's
    cache either, and this browser is signed in afresh."""
    signed = await service.reset_password(database, token, password, session_lifetime(request))
    request.app.state.live_sessions.forget_user(signed.user_id)
    return signed


def sign_in_first(next_path: str) -> RedirectResponse:
    """A page that needs an account sends a visitor to sign in, and back afterwards."""
    return RedirectResponse(f"/account/sign-in?next={quote(local_path(next_path), safe='/')}", 303)


def local_path(next_path: str | None, default: str = "/") -> str:
    """Where to go after signing in: a path on this site only, never another site's URL
    (`//evil.example`, `/\\evil.example` and `https://...` fall back to `default`)."""
    if (
        not next_path
        or not next_path.startswith("/")
        or next_path.startswith(("//", "/\\"))
        or any(c in next_path for c in "\r\n\t\x00")
    ):
        return default
    return next_path


def send_reset(request: Request, db: Session, email: str) -> None:
    """Mail a reset link if the address has an account; the page says the same either way."""
    found = service.request_reset(db, email)
    if found is None:
        return
    address, token = found
    link = str(request.url_for("reset_page", token=token))
    body = (
        "Someone (we hope you) asked to reset the password of your torchquiz account.\n\n"
        f"Set a new password here within an hour: {link}\n\n"
        "If it was not you, ignore this message: your password stays as it is."
    )
    send_mail(request.app.state.settings, address, "Reset your torchquiz password", body)
