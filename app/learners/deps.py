"""Request dependencies for who is asking: the learner's identity, the learner row (made on
first need), the signed-in account, and the CSRF proof of the learner's forms."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Form, Request
from sqlalchemy.orm import Session

from app.core.clients import client_address
from app.core.deps import SessionDep, database_of
from app.core.errors import ForbiddenError, UnauthorizedError
from app.learners.identity import ACCOUNT_COOKIE, Identity, LearnerTokens, clear_cookie
from app.learners.models import Learner
from app.learners.service import NewLearnerLimit, find_learner, get_or_create_learner
from app.learners.sessions import Account, LiveSessions, SignedOutError, live_account


async def get_tokens(request: Request) -> LearnerTokens:
    return request.app.state.tokens  # type: ignore[no-any-return]


TokensDep = Annotated[LearnerTokens, Depends(get_tokens)]


async def get_identity(request: Request) -> Identity:
    return _identity(request)


def learner_public_id(request: Request) -> str:
    return _identity(request).public_id


def _identity(request: Request) -> Identity:
    identity: Identity = request.state.identity
    if identity.forged_bearer:
        raise UnauthorizedError("the bearer token is not valid: its signature does not match")
    if identity.without_practice:
        raise ForbiddenError("this API token lacks the scope practice (acting as your learner)")
    return identity


IdentityDep = Annotated[Identity, Depends(get_identity)]


class CurrentLearner:
    """The learner behind the request, looked up lazily from inside the route's thread."""

    def __init__(
        self, db: Session, public_id: str, *, address: str, admit: Callable[[], None]
    ) -> None:
        self._db = db
        self.public_id = public_id
        self.address = address  # the client's (app.core.clients), for limits per address
        self._admit = admit  # asked before a new learner is stored (NewLearnerLimit)

    def get_or_create(self) -> Learner:
        return get_or_create_learner(self._db, self.public_id, admit=self._admit)

    def known_id(self) -> int | None:
        """For read-only views: a visitor who never answered has no row and no progress."""
        learner = find_learner(self._db, self.public_id)
        return learner.id if learner else None


async def current_learner(request: Request, db: SessionDep) -> CurrentLearner:
    # Reads the identity itself rather than through IdentityDep: one dependency fewer on
    # every learner request (dependency resolution is a measurable part of a request).
    limit: NewLearnerLimit = request.app.state.new_learners
    address = client_address(request)
    admit = functools.partial(limit.admit, address)
    return CurrentLearner(db, _identity(request).public_id, address=address, admit=admit)


LearnerDep = Annotated[CurrentLearner, Depends(current_learner)]


def signed_out() -> SignedOutError:
    """Ends the browser's account cookies as well: its next request is a new visitor's."""
    error = SignedOutError(
        "you are signed out (on another device, or by a password reset): sign in again"
    )
    error.headers = {"Set-Cookie": clear_cookie(ACCOUNT_COOKIE)}
    return error


async def verify_account(request: Request) -> None:
    """Every request of a signed-in browser, before its route: is the session still live?
    Its account goes on `request.state.account`; an ended session (signed out elsewhere, a
    password reset) is refused with 401, its cookie cleared, so that no route serves the
    account's history to it. An anonymous request costs nothing here.

    An API token (app.tokens, through `app.state.api_tokens`) is checked here too: its
    account, with the token's scopes, goes on `request.state.account`, and the identity
    becomes its user's learner (or one marked `without_practice`, for the learner routes to
    refuse with 403)."""
    request.state.account = None
    if request.state.identity.api_token is not None:
        await _verify_api_token(request)
        return
    token = request.state.identity.account_token
    if token is None:
        return
    live: LiveSessions = request.app.state.live_sessions
    account = live.get(token)
    if account is None:
        database = await database_of(request)
        account = await database.run(live_account, token)
        if account is None:
            raise signed_out()
        live.keep(token, account)
    request.state.account = account


# A leaked token must not mint more tokens, nor change the password: these need a browser.
ACCOUNT_PATHS = ("/api/v1/account", "/account")


async def _verify_api_token(request: Request) -> None:
    path = request.url.path
    if any(path == p or path.startswith(p + "/") for p in ACCOUNT_PATHS):
        raise ForbiddenError(
            "an API token cannot reach your account or its tokens: use a browser session"
        )
    identity: Identity = request.state.identity
    assert identity.api_token is not None
    database = await database_of(request)
    account, learner = await request.app.state.api_tokens.verify(database, identity.api_token)
    practice = account.scopes is not None and "practice" in account.scopes
    public_id = learner if practice else identity.public_id
    request.state.identity = replace(identity, public_id=public_id, without_practice=not practice)
    request.state.account = account


def current_account(request: Request) -> Account | None:
    """The signed-in account (verify_account found it), or None."""
    account: Account | None = getattr(request.state, "account", None)
    return account


def require_account(account: Annotated[Account | None, Depends(current_account)]) -> Account:
    if account is None:
        raise UnauthorizedError("sign in first: this needs an account")
    return account


def require_admin(account: Annotated[Account, Depends(require_account)]) -> Account:
    if not account.is_admin:
        raise ForbiddenError("this needs a site administrator's account")
    if account.scopes is not None:  # an API token: no scope grants site administration
        raise ForbiddenError("site administration needs a browser session, not an API token")
    return account


MaybeAccountDep = Annotated[Account | None, Depends(current_account)]
AccountDep = Annotated[Account, Depends(require_account)]
AdminDep = Annotated[Account, Depends(require_admin)]


async def require_csrf(request: Request, csrf_token: Annotated[str, Form()]) -> None:
    """Every cookie-authenticated form proves it came from one of our pages."""
    tokens: LearnerTokens = request.app.state.tokens
    # Ours are hex digits; anything else is forged (and hmac compares no other str).
    if not csrf_token.isascii() or not tokens.csrf_ok(_identity(request).public_id, csrf_token):
        raise ForbiddenError(
            "this form has expired or came from another site; reload the page and try again",
            field="csrf_token",
        )


# For a form route's decorator: `@router.post(..., dependencies=[CsrfProtected])`.
CsrfProtected = Depends(require_csrf)
