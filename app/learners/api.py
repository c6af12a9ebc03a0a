"""Who am I: the anonymous learner's id and a bearer token for API clients."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from app.core.routing import UnitOfWorkRoute
from app.learners.deps import IdentityDep, TokensDep

router = APIRouter(tags=["learners"], route_class=UnitOfWorkRoute)


class Me(BaseModel):
    learner_id: str
    token: str


@router.get("/me", response_model=Me)
def me(identity: IdentityDep, tokens: TokensDep) -> Response:
    """Send `token` as `Authorization: Bearer <token>` to act as this learner without cookies."""
    body = Me(learner_id=identity.public_id, token=tokens.issue(identity.public_id))
    # The token is a credential: no cache, shared or the browser's, may keep it.
    headers = {"Cache-Control": "no-store"}
    return Response(body.model_dump_json(), media_type="application/json", headers=headers)
