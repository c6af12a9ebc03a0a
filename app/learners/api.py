"""Who am I: the anonymous learner's id and a bearer token for API clients."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from app.core.deps import IdentityDep, TokensDep
from app.core.routing import UnitOfWorkRoute

router = APIRouter(tags=["learners"], route_class=UnitOfWorkRoute)


class Me(BaseModel):
    learner_id: str
    token: str


@router.get("/me")
def me(identity: IdentityDep, tokens: TokensDep) -> Me:
    """Send `token` as `Authorization: Bearer <token>` to act as this learner without cookies."""
    return Me(learner_id=identity.public_id, token=tokens.issue(identity.public_id))
