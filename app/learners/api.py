"""Who am I: the anonymous learner's id and a bearer token for API clients."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from app.core.routing import UnitOfWorkRoute
from app.learners.deps import IdentityDep, TokensDep

router = APIRouter(tags=["learners"], route_class=UnitOfWorkRoute)


class Me(BaseModel):
    learner_id: str
    token: str | None = Field(
        description="A bearer token for this anonymous learner; none for a signed-in account, "
        "whose history answers only to its session."
    )


@router.get("/me", response_model=Me)
def me(identity: IdentityDep, tokens: TokensDep) -> Response:
    """Send `token` as `Authorization: Bearer <token>` to act as this learner without cookies."""
    # An API token's caller is an account's learner too: a bearer for it would outlive the token.
    signed_in = identity.account_token is not None or identity.api_token is not None
    token = None if signed_in else tokens.issue(identity.public_id)
    body = Me(learner_id=identity.public_id, token=token)
    # The token is a credential: no cache, shared or the browser's, may keep it.
    headers = {"Cache-Control": "no-store"}
    return Response(body.model_dump_json(), media_type="application/json", headers=headers)
