from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from app.core.deps import SessionDep, get_db
from app.core.routing import UnitOfWorkRoute


def test_async_route_asking_for_the_database_is_refused() -> None:
    router = APIRouter(route_class=UnitOfWorkRoute)
    with pytest.raises(TypeError, match="must be a def"):

        @router.get("/x")
        async def uses_db(db: SessionDep) -> dict[str, str]:
            return {}


def test_async_route_without_the_database_is_allowed() -> None:
    router = APIRouter(route_class=UnitOfWorkRoute)

    @router.get("/y")
    async def fine() -> dict[str, str]:
        return {}

    assert [r.path for r in router.routes] == ["/y"]


def test_plain_session_annotation_counts_too() -> None:
    router = APIRouter(route_class=UnitOfWorkRoute)
    with pytest.raises(TypeError):

        @router.get("/z")
        async def uses_db(db: Annotated[Session, Depends(get_db)]) -> None:
            return None
