"""Your API tokens over the API, for a signed-in browser only (app.learners.deps refuses an
API token here: a leaked token cannot mint more)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.orm import Session

from app.core.bounds import PublicId
from app.core.deps import SessionDep
from app.core.errors import UnauthorizedError
from app.core.routing import UnitOfWorkRoute
from app.learners.deps import AccountDep
from app.learners.models import User
from app.tokens import service
from app.tokens.schemas import TokenCreated, TokenIn, TokenOut

router = APIRouter(prefix="/account/tokens", tags=["tokens"], route_class=UnitOfWorkRoute)


@router.get("")
def list_tokens(db: SessionDep, account: AccountDep) -> list[TokenOut]:
    """Your tokens, newest first, revoked ones included; never their secrets."""
    return [TokenOut.of(t, slug) for t, slug in service.tokens_of(db, account.user_id)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_token(
    body: TokenIn, request: Request, response: Response, db: SessionDep, account: AccountDep
) -> TokenCreated:
    """A new token; its secret is in this answer only."""
    new = service.create(db, the_user(db, account.user_id), body.request())
    request.app.state.origins.changed()
    response.headers["Cache-Control"] = "no-store"  # the answer holds a credential
    out = TokenOut.of(new.row, body.course)
    return TokenCreated(**out.model_dump(), token=new.secret)


@router.delete("/{public_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(
    public_id: PublicId, request: Request, db: SessionDep, account: AccountDep
) -> Response:
    """Revoke a token: refused from the next request on (in other processes within seconds)."""
    service.revoke(db, account.user_id, public_id)
    forget(request, public_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def the_user(db: Session, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:  # deleted since the session was checked
        raise UnauthorizedError("sign in first: this needs an account")
    return user


def forget(request: Request, public_id: str) -> None:
    request.app.state.api_tokens.forget(public_id)
    request.app.state.origins.changed()
