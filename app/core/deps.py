"""Request dependencies, named so that route signatures read like prose."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Form, Request
from sqlalchemy.orm import Session

from app.core.clients import client_address
from app.core.errors import ForbiddenError, UnauthorizedError
from app.core.routing import UnitOfWork
from app.learners.identity import Identity, LearnerTokens
from app.learners.models import Learner
from app.learners.service import NewLearnerLimit, find_learner, get_or_create_learner
from app.questions.catalog import Catalog
from app.runner.client import OFF_HERE, RunnerClient, RunnerOffError, RunnerState


async def get_db(request: Request) -> Session:
    """A session per request. The route commits or rolls back and closes it
    (app.core.routing.UnitOfWorkRoute), which is why only def routes may ask for one."""
    return request.app.state.session_factory()  # type: ignore[no-any-return]


SessionDep = Annotated[Session, Depends(get_db)]


async def get_unit_of_work(db: SessionDep) -> UnitOfWork:
    return UnitOfWork(db)


UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work)]


async def get_catalog(request: Request) -> Catalog:
    return request.app.state.catalog  # type: ignore[no-any-return]


CatalogDep = Annotated[Catalog, Depends(get_catalog)]


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


async def get_runner(request: Request) -> RunnerClient:
    """The runner, whatever its state: a call while it warms up is answered 503 with
    Retry-After by the runner itself (app.runner.client)."""
    runner: RunnerClient | None = request.app.state.runner
    if runner is None:
        raise RunnerOffError(request.app.state.runner_state.reason or OFF_HERE)
    return runner


RunnerDep = Annotated[RunnerClient, Depends(get_runner)]


async def get_runner_if_any(request: Request) -> RunnerClient | None:
    return request.app.state.runner  # type: ignore[no-any-return]


MaybeRunnerDep = Annotated[RunnerClient | None, Depends(get_runner_if_any)]


async def get_runner_state(request: Request) -> RunnerState:
    """Where the runner stands (warming, ready, off...): what pages show by a Run button."""
    return request.app.state.runner_state  # type: ignore[no-any-return]


RunnerStateDep = Annotated[RunnerState, Depends(get_runner_state)]


async def get_rng() -> random.Random:
    return random.Random()  # noqa: S311 - drawing test questions, not secrets


RngDep = Annotated[random.Random, Depends(get_rng)]


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
