"""The route class of every router: a sync route is one unit of work in one worker thread.

FastAPI runs a sync route in a worker thread, then (back on the event loop) closes its
dependencies and, for a returned model, validates it in a second worker thread. Committing in
the session dependency would hold the database connection across those hand-offs; with SQLite's
single writer that serialises every request behind event-loop and GIL latency, and when all
workers wait for the connection the second hop never starts at all. So the wrapper below
commits (or rolls back) and serialises in the route's own thread: the one place that ends a
transaction. Async routes must not touch the database.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, get_type_hints

from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from sqlalchemy.orm import Session
from starlette.responses import Response


class UnitOfWorkRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _unit_of_work(endpoint, kwargs.get("status_code") or 200)
        super().__init__(path, endpoint, **kwargs)


def _unit_of_work(endpoint: Callable[..., Any], status_code: int) -> Callable[..., Any]:
    @functools.cache
    def adapter() -> TypeAdapter[Any]:
        return TypeAdapter(get_type_hints(endpoint)["return"])

    @functools.wraps(endpoint)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        sessions = [v for v in kwargs.values() if isinstance(v, Session)]
        try:
            result = endpoint(*args, **kwargs)
            for session in sessions:
                session.commit()
        except BaseException:
            for session in sessions:
                session.rollback()
            raise
        finally:
            for session in sessions:
                session.close()
        if isinstance(result, Response):
            return result
        body = adapter().dump_json(result)
        return Response(body, status_code=status_code, media_type="application/json")

    return wrapper
