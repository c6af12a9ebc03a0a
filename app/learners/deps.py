"""Request dependencies for who is asking: the learner's identity, the learner row (made on
first need), and the CSRF proof of the learner's forms."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Form, Request
from sqlalchemy.orm import Session

from app.core.clients import client_address
from app.core.deps import SessionDep
from app.core.errors import ForbiddenError, UnauthorizedError
from app.learners.identity import Identity, LearnerTokens
from app.learners.models import Learner
from app.learners.service import NewLearnerLimit, find_learner, get_or_create_learner


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
