"""A database that stops answering gives 503 with the error shape and Retry-After on the API and
the pages, /readyz says why, /healthz (liveness) stays ok, and service resumes by itself.

For real: on PostgreSQL the database stops accepting connections and the app's are terminated
(as in a restart or a failover); on SQLite another process holds the write lock past the busy
timeout (as a backup or a long migration would).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from app.core.handlers import DATABASE_RETRY_SECONDS
from app.main import create_app
from tests.conftest import POSTGRES_ADMIN_URL, make_settings, own_database


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A database of this module's own: it is the one that goes down."""
    yield from own_database(request.param, tmp_path_factory, "outage")


# The app's SQLite connection waits 5 s for the lock before it gives up (app.core.db). Every
# outage here outlasts the wait, whatever its length: a shorter one gives the same 503s sooner.
BUSY_TIMEOUT_MS = 250


@pytest.fixture(scope="module")
def client(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = make_settings(database_url, tmp_path_factory.mktemp("instance"), runner_url="off")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        if database_url.startswith("sqlite"):
            shorter_busy_timeout(client.app.state.database.sessions.kw["bind"])  # type: ignore[attr-defined]
        yield client


def shorter_busy_timeout(engine: Engine) -> None:
    """Set after the app's own pragmas on each new connection; the pooled one is replaced."""

    @event.listens_for(engine, "connect")
    def _busy_timeout(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    engine.dispose()


@contextlib.contextmanager
def outage(database_url: str) -> Iterator[None]:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        holder = sqlite3.connect(str(url.database), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.rollback()
            holder.close()
        return
    with psycopg.connect(
        make_url(POSTGRES_ADMIN_URL).render_as_string(hide_password=False), autocommit=True
    ) as admin:
        name = url.database
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
        )
        try:
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == str(DATABASE_RETRY_SECONDS)


def test_an_outage_gives_503_with_retry_after_on_the_api_and_the_pages(
    client: TestClient, database_url: str
) -> None:
    assert client.get("/api/v1/progress").status_code == 200  # up, and connected

    with outage(database_url):
        api = client.get("/api/v1/progress")
        page = client.get("/progress")

    assert_unavailable(api)
    assert api.json() == {
        "status": 503,
        "code": "database_unavailable",
        "message": "the database is not answering; try again in a few seconds",
        "field": None,
    }
    assert_unavailable(page)
    assert page.headers["content-type"].startswith("text/html")
    assert "the database is not answering" in page.text


def test_readyz_says_why_while_healthz_stays_ok(client: TestClient, database_url: str) -> None:
    with outage(database_url):
        ready = client.get("/readyz")
        alive = client.get("/healthz")

    assert ready.status_code == 503
    why = ready.json()["database"]
    if database_url.startswith("sqlite"):
        assert why == "unreachable: OperationalError: database is locked"
    else:
        assert why.startswith("unreachable: OperationalError: ")
        assert "is not currently accepting connections" in why
    assert alive.status_code == 200
    assert alive.json() == {"status": "ok"}


def test_the_app_serves_again_once_the_database_is_back(
    client: TestClient, database_url: str
) -> None:
    with outage(database_url):
        assert_unavailable(
            client.post("/api/v1/sessions", json={"topic": "birnn", "mode": "practice"})
        )

    assert (
        client.post("/api/v1/sessions", json={"topic": "birnn", "mode": "practice"}).status_code
        == 201
    )
    assert client.get("/progress").status_code == 200
    assert client.get("/readyz").json()["database"] == "ok"
