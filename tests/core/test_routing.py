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


@pytest.mark.parametrize("in_threads", [True, False])
def test_route_runs_where_its_session_says(in_threads: bool) -> None:
    import threading

    from fastapi import FastAPI
    from starlette.testclient import TestClient

    app = FastAPI()
    router = APIRouter(route_class=UnitOfWorkRoute)
    loop_thread: list[int] = []

    async def session() -> Session:
        loop_thread.append(threading.get_ident())
        return Session(info={"run_in_threads": in_threads})

    @router.get("/where")
    def where(db: Annotated[Session, Depends(session)]) -> dict[str, bool]:
        return {"on_loop": threading.get_ident() == loop_thread[0]}

    app.include_router(router)
    with TestClient(app) as client:
        assert client.get("/where").json() == {"on_loop": not in_threads}
