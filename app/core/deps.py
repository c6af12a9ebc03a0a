"""Request dependencies of the core, named so that route signatures read like prose.
Each feature keeps its own beside its code (app/<feature>/deps.py)."""

from __future__ import annotations

import random
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.core.db import Database


async def get_database(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


DatabaseDep = Annotated[Database, Depends(get_database)]


async def database_of(request: Request) -> Database:
    """The request's Database for code that needs it only sometimes (so cannot declare it):
    the same as DatabaseDep, a test's override of get_database included."""
    provider = request.app.dependency_overrides.get(get_database)
    if provider is None:
        return await get_database(request)
    return provider()  # type: ignore[no-any-return]


async def get_db(database: DatabaseDep) -> Session:
    """A session per request. Its route ends the transaction (app.core.routing), which is why
    only def routes may ask for one; async routes use `await database.run(...)`."""
    return database.session()


SessionDep = Annotated[Session, Depends(get_db)]


async def get_rng() -> random.Random:
    return random.Random()  # noqa: S311 - drawing test questions, not secrets


RngDep = Annotated[random.Random, Depends(get_rng)]
