"""The route class of every router: a sync route is one unit of work, run in one go.

FastAPI runs a sync route in a worker thread, then (back on the event loop) closes its
dependencies and, for a returned model, validates it in a second worker thread. Committing in
the session dependency would hold the database connection across those hand-offs; with SQLite's
single writer that serialises every request behind event-loop and GIL latency, and when all
workers wait for the connection the second hop never starts at all. So the wrapper below
commits (or rolls back) and serialises in the same call: the one place that ends a
transaction. Async routes must not touch the database.

Where that call runs follows the route's database session (`session.info["run_in_threads"]`,
set by app.core.db.session_factory): in a worker thread for a server database, whose queries
wait on the network; on the event loop for SQLite, whose queries are sub-millisecond local
calls, and for routes without a session. Measured with bench/http_load.py, CPU-bound route work
in a worker thread cost several times its own time in GIL hand-offs with the event loop.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar, get_args, get_type_hints

from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

T = TypeVar("T")
P = ParamSpec("P")


class UnitOfWorkRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _dispatched(_unit_of_work(endpoint, kwargs.get("status_code") or 200))
        elif _uses_database(endpoint):
            raise TypeError(f"{endpoint.__name__}: a route using the database must be a def")
        super().__init__(path, endpoint, **kwargs)


def _uses_database(endpoint: Callable[..., Any]) -> bool:
    hints = get_type_hints(endpoint, include_extras=True).values()
    return any(Session in (hint, *get_args(hint)) for hint in hints)


def _dispatched(unit_of_work: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(unit_of_work)
    async def dispatch(*args: Any, **kwargs: Any) -> Any:
        sessions = (v for v in kwargs.values() if isinstance(v, Session))
        if any(session.info.get("run_in_threads") for session in sessions):
            return await run_in_threadpool(unit_of_work, *args, **kwargs)
        return unit_of_work(*args, **kwargs)

    return dispatch


def _unit_of_work(endpoint: Callable[..., Any], status_code: int) -> Callable[..., Any]:
    @functools.cache
    def adapter() -> TypeAdapter[Any]:
        return TypeAdapter(get_type_hints(endpoint)["return"])

    @functools.wraps(endpoint)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        sessions = [v for v in kwargs.values() if isinstance(v, Session)]
        result = in_transaction(sessions, endpoint, *args, **kwargs)
        if isinstance(result, Response):
            return result
        body = adapter().dump_json(result)
        return Response(body, status_code=status_code, media_type="application/json")

    return wrapper


def in_transaction(sessions: list[Session], work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """The one place a request's transaction ends: commit, or roll back on any error; close."""
    try:
        result = work(*args, **kwargs)
        for session in sessions:
            session.commit()
    except BaseException:
        for session in sessions:
            session.rollback()
        raise
    finally:
        for session in sessions:
            session.close()
    return result


class UnitOfWork:
    """For async routes (those that also await the runner): `await uow(fn, *args)` runs
    fn(session, *args) as one transaction, where the session's routes run (loop or thread)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def __call__(
        self, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        def run() -> T:
            return in_transaction([self.session], work, self.session, *args, **kwargs)

        if self.session.info.get("run_in_threads"):
            return await run_in_threadpool(run)
        return run()
