"""Fixtures: every database test runs twice, on SQLite and on PostgreSQL, each in a rolled-back
transaction on a migrated database; the app is driven through httpx (Starlette's TestClient)."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from app.core.config import Settings
from app.core.db import Database, create_db_engine
from app.core.deps import get_database, get_rng
from app.main import create_app
from app.runner.embedded import embedded_runner
from app.runner.settings import RunnerSettings
from tests.parallel import (  # noqa: F401 - hooks, registered here
    pytest_runtest_protocol,
    pytest_xdist_make_scheduler,
)

# The PostgreSQL that runs on these machines (trust auth); CI uses the same.
POSTGRES_ADMIN_URL = os.environ.get(
    "TORCHQUIZ_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]
STARTED = time.time()  # when this test run began


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, backends: Backends) -> str:
    """A fresh, empty database per backend for the whole run."""
    return backends.settings(request.param).database_url


def own_database(
    backend: str, tmp_path_factory: pytest.TempPathFactory, name: str
) -> Iterator[str]:
    """A fresh, empty database of one backend, for a module that must not share the run's."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp(name) / f'{name}.sqlite3'}"
    else:
        yield from _scratch_postgres()


def _scratch_postgres() -> Iterator[str]:
    name = f"torchquiz_test_{uuid.uuid4().hex[:10]}"
    admin = make_url(POSTGRES_ADMIN_URL)
    conninfo = (
        f"host={admin.host} port={admin.port or 5432} user={admin.username} dbname={admin.database}"
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# The suite is one client address ("testclient") creating a new learner in nearly every test,
# far faster than any classroom: the new learners' cap is lifted unless a test sets it.
UNCAPPED = {"new_learners_burst": 1_000_000, "new_learners_per_minute": 1_000_000}


def make_settings(database_url: str, instance_dir: Path, **overrides: object) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        instance_dir=instance_dir,
        secret_key="test-secret-key-not-for-production",
        **(UNCAPPED | overrides),  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def runner_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real code runner for the whole run, started the way `torchquiz serve` starts it
    (privileged as root, rootless otherwise)."""
    socket = tmp_path_factory.mktemp("runner") / "r.sock"
    with embedded_runner(socket, RunnerSettings(uid_base=worker_uid_base())) as url:
        yield url


def worker_uid_base() -> int:
    """Privileged runs have a uid per slot, and the kernel counts a uid's processes machine-wide
    (a fork bomb's 32 would leave none for a run of another runner): each test process's runner
    has uids of its own, apart from the runners' default 60000 that tests start."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # gw0, gw1...
    return 60100 + 100 * int(worker.removeprefix("gw"))


class Backends:
    """Each backend's database, settings and started app, made when a test first asks for them
    and kept until the run ends. Under pytest-xdist a process runs one file's tests after
    another's, each on both backends: pytest tears a session fixture's value down at each change
    of its parameter, and would start both apps again for every file."""

    def __init__(self, runner_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._runner_url, self._tmp = runner_url, tmp_path_factory
        self._settings: dict[str, Settings] = {}
        self._apps: dict[str, FastAPI] = {}
        self._engines: dict[str, Engine] = {}
        self._kept = contextlib.ExitStack()

    def settings(self, backend: str) -> Settings:
        if backend not in self._settings:
            if backend == "sqlite":
                url = f"sqlite:///{self._tmp.mktemp('sqlite') / 'test.sqlite3'}"
            else:
                url = self._kept.enter_context(contextlib.contextmanager(_scratch_postgres)())
            instance = self._tmp.mktemp("instance")
            self._settings[backend] = make_settings(url, instance, runner_url=self._runner_url)
        return self._settings[backend]

    def started_app(self, settings: Settings) -> FastAPI:
        if settings.database_url not in self._apps:
            started = self._kept.enter_context(_started(settings))
            self._apps[settings.database_url] = started
        return self._apps[settings.database_url]

    def engine(self, settings: Settings) -> Engine:
        """The tests' own engine of the database, its connections kept between tests (a new
        engine per test made each PostgreSQL test wait some 20 ms for a new server process)."""
        if settings.database_url not in self._engines:
            engine = create_db_engine(settings.database_url)
            self._kept.callback(engine.dispose)  # before the database is dropped
            self._engines[settings.database_url] = engine
        return self._engines[settings.database_url]

    def close(self) -> None:
        """Stops the apps, then drops the scratch PostgreSQL database."""
        self._kept.close()


@pytest.fixture(scope="session")
def backends(runner_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backends]:
    kept = Backends(runner_url, tmp_path_factory)
    yield kept
    kept.close()


@pytest.fixture(scope="session")
def settings(database_url: str, backends: Backends) -> Settings:
    return backends.settings(make_url(database_url).get_backend_name())


def until_ready(client: TestClient, timeout: float = 180.0) -> None:
    """Start-up serves before the runner is warm: wait until /readyz says all is in place (the
    runner ready, the parameterised questions' variants computed)."""
    deadline = time.monotonic() + timeout
    while (answer := client.get("/readyz")).status_code != 200:
        assert time.monotonic() < deadline, f"not ready in {timeout:g} s: {answer.json()}"
        time.sleep(0.05)


@pytest.fixture(scope="session")
def started_app(settings: Settings, backends: Backends) -> FastAPI:
    """The app after its start-up, ready: migrated and synced with the real question bank."""
    return backends.started_app(settings)


@contextlib.contextmanager
def _started(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings)
    with TestClient(app) as client:
        until_ready(client)
        yield app


@pytest.fixture
def connection(
    started_app: FastAPI, settings: Settings, backends: Backends
) -> Iterator[Connection]:
    """One connection in an outer transaction that is rolled back after the test."""
    with backends.engine(settings).connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def db(connection: Connection) -> Iterator[Session]:
    """A session for arranging and inspecting data; its commits only release savepoints."""
    with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
        yield session


@pytest.fixture
def app(started_app: FastAPI, connection: Connection) -> Iterator[FastAPI]:
    """The started app, its database work on the test's connection: a route's commit and
    rollback only move savepoints there. Its work runs where the app's own would (PostgreSQL
    routes in threads, as in production)."""
    sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    isolated = Database(sessions, run_in_threads=started_app.state.database.run_in_threads)
    started_app.dependency_overrides[get_database] = lambda: isolated
    catalog = started_app.state.catalog
    known = set(catalog._versions)
    yield started_app
    started_app.dependency_overrides.clear()
    # The test's rows are rolled back, and SQLite gives their ids again: forget the course
    # topics and question versions the catalog learnt of, or a later test would be served a
    # stale one by its id.
    catalog = started_app.state.catalog
    catalog.course_topics.clear()
    for version_id in set(catalog._versions) - known:
        del catalog._versions[version_id]
    catalog._views = {k: v for k, v in catalog._views.items() if k[1] in known}


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A browser-like client: keeps its learner cookie between requests.

    Not entered as a context manager: that would run the app's start-up again per test."""
    c = TestClient(app, base_url="http://testserver")
    yield c
    c.close()


@pytest.fixture
def other_client(app: FastAPI) -> Iterator[TestClient]:
    """A second learner."""
    c = TestClient(app, base_url="http://testserver")
    yield c
    c.close()


@pytest.fixture
def seeded_rng(app: FastAPI) -> Iterator[None]:
    """Make test draws repeatable."""
    import random

    app.dependency_overrides[get_rng] = lambda: random.Random(1234)
    yield
    app.dependency_overrides.pop(get_rng, None)


# The Redis that runs on these machines; CI uses the same.
REDIS_URL = os.environ.get("TORCHQUIZ_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own on the shared Redis (tests run in parallel on one
    server, so none may flush it); its keys are deleted afterwards."""
    prefix = f"tqtest:{uuid.uuid4().hex[:12]}:"
    yield prefix
    delete_redis_keys(prefix)


def delete_redis_keys(prefix: str, url: str = REDIS_URL) -> None:
    """Every key under `prefix` in the Redis at `url`."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
    finally:
        client.close()
