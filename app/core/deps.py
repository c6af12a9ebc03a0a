"""Request dependencies, named so that route signatures read like prose."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.core.db import transaction
from app.core.errors import ForbiddenError, UnauthorizedError
from app.learners.identity import Identity, LearnerTokens
from app.learners.models import Learner
from app.learners.service import find_learner, get_or_create_learner
from app.questions.catalog import Catalog


def get_db(request: Request) -> Iterator[Session]:
    yield from transaction(request.app.state.session_factory)


# scope="function": commit before the response goes out, so a client never reads stale data.
SessionDep = Annotated[Session, Depends(get_db, scope="function")]


def get_catalog(request: Request) -> Catalog:
    return request.app.state.catalog  # type: ignore[no-any-return]


CatalogDep = Annotated[Catalog, Depends(get_catalog)]


def get_tokens(request: Request) -> LearnerTokens:
    return request.app.state.tokens  # type: ignore[no-any-return]


TokensDep = Annotated[LearnerTokens, Depends(get_tokens)]


def get_identity(request: Request) -> Identity:
    identity: Identity = request.state.identity
    if identity.forged_bearer:
        raise UnauthorizedError("the bearer token is not valid: its signature does not match")
    return identity


IdentityDep = Annotated[Identity, Depends(get_identity)]


def current_learner(db: SessionDep, identity: IdentityDep) -> Learner:
    return get_or_create_learner(db, identity.public_id)


LearnerDep = Annotated[Learner, Depends(current_learner)]


def optional_learner_id(db: SessionDep, identity: IdentityDep) -> int | None:
    """For read-only views: a visitor who never answered has no row and no progress."""
    learner = find_learner(db, identity.public_id)
    return learner.id if learner else None


LearnerIdDep = Annotated[int | None, Depends(optional_learner_id)]


def get_rng() -> random.Random:
    return random.Random()  # noqa: S311 - drawing test questions, not secrets


RngDep = Annotated[random.Random, Depends(get_rng)]


def check_csrf(tokens: LearnerTokens, identity: Identity, token: str) -> None:
    if not tokens.csrf_ok(identity.public_id, token):
        raise ForbiddenError(
            "this form has expired or came from another site; reload the page and try again",
            field="csrf_token",
        )
