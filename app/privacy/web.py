"""What the learner's own faces (the API's /me routes and the account page) share: whose data
a request is about, and forgetting the browser once it is deleted."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.errors import ForbiddenError, NotFoundError
from app.learners.deps import learner_public_id
from app.learners.identity import ACCOUNT_COOKIE, COOKIE, clear_cookie, partitioned_cookie_header
from app.privacy.service import Person, delete_person, find_person, table


def person_of(request: Request, db: Session) -> Person:
    """The signed-in account (and its learner), else the anonymous learner of the cookie or
    bearer token. Not an API token: one that leaked must not take or erase everything."""
    if request.state.identity.api_token is not None:
        raise ForbiddenError(
            "an API token cannot export or delete an account's data: use the account page"
        )
    account = request.state.account
    if account is not None:
        return find_person(db, user_id=account.user_id)
    public_id = learner_public_id(request)
    try:
        return find_person(db, public_id=public_id)
    except NotFoundError:  # a visitor who never answered: nothing stored but maybe keys
        return Person(None, public_id, None)


def delete_own(request: Request, db: Session) -> dict[str, int]:
    """Delete the caller's data; their sessions and tokens end in every process."""
    person = person_of(request, db)
    tokens: list[str] = []
    if person.user_id is not None:
        api_tokens = table("api_tokens")
        found = db.scalars(
            select(api_tokens.c.public_id).where(api_tokens.c.user_id == person.user_id)
        )
        tokens = list(found)
    counts = delete_person(db, person)
    state: Any = request.app.state
    if person.user_id is not None:
        state.live_sessions.forget_user(person.user_id)
        for public_id in tokens:
            state.api_tokens.forget(public_id)
    return counts


def forget_browser(response: Response) -> None:
    """The browser's cookies go: its next request is a new visitor's."""
    response.headers.append("set-cookie", clear_cookie(COOKIE))
    response.headers.append("set-cookie", clear_cookie(ACCOUNT_COOKIE))
    response.headers.append("set-cookie", partitioned_cookie_header(ACCOUNT_COOKIE, "", 0))
