"""The route class of every router: a sync route is one transaction, ended before it returns.

How transactions go, in one place:
- A `def` route that asks for the database (`SessionDep`) is one transaction. This class ends
  it (app.core.db.transaction) as the route returns, before FastAPI serialises the response, so
  the connection is never held across the hand-offs between worker threads and the event loop
  that follow (with SQLite's single writer, holding it serialised every request behind them).
- An `async def` route never asks for a session. It awaits the code runner, so its database
  work goes in `await database.run(fn, ...)` (`DatabaseDep`): one transaction before the runner
  is asked, one after it answered, never one held open across that wait.
- Work outside a request (start-up, the lab's background recording) uses the same Database.

Where a sync route runs follows its session (`session.info["run_in_threads"]`, see
app.core.db.Database): in a worker thread for a server database, on the event loop for SQLite
and for routes without a session.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, get_args, get_type_hints

from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.core.db import transaction


class UnitOfWorkRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        # An async generator streams (server-sent events): async too, never a session.
        if not (inspect.iscoroutinefunction(endpoint) or inspect.isasyncgenfunction(endpoint)):
            endpoint = _dispatched(_one_transaction(endpoint))
        elif _uses_session(endpoint):
            raise TypeError(
                f"{endpoint.__name__}: an async route uses `await database.run(...)`, "
                "a route asking for a session must be a def"
            )
        super().__init__(path, endpoint, **kwargs)


def _uses_session(endpoint: Callable[..., Any]) -> bool:
    hints = get_type_hints(endpoint, include_extras=True).values()
    return any(Session in (hint, *get_args(hint)) for hint in hints)


def _dispatched(route: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(route)
    async def dispatch(*args: Any, **kwargs: Any) -> Any:
        sessions = (v for v in kwargs.values() if isinstance(v, Session))
        if any(session.info.get("run_in_threads") for session in sessions):
            return await run_in_threadpool(route, *args, **kwargs)
        return route(*args, **kwargs)

    return dispatch


def _one_transaction(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)
    def route(*args: Any, **kwargs: Any) -> Any:
        sessions = [v for v in kwargs.values() if isinstance(v, Session)]
        if not sessions:
            return endpoint(*args, **kwargs)
        (session,) = sessions  # one per request: FastAPI caches the dependency
        with transaction(session):
            return endpoint(*args, **kwargs)

    return route
