"""/readyz covers Redis when it is configured: a Redis that stops answering makes the replica
not ready (503, naming Redis) while /healthz (liveness) stays ok, and ready again by itself once
Redis is back. A Redis server of the test's own, on a free port, stopped and started again."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from starlette.testclient import TestClient

from app.main import create_app
from tests.conftest import make_settings
from tests.test_cli import free_port


def redis_server(port: int, folder: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with redis.Redis(port=port, socket_timeout=1) as probe:
                if probe.ping():
                    return process
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)


def until(condition: Callable[[], bool], timeout: float = 10) -> float:
    """Seconds until `condition` holds (fails past `timeout`)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[int, list[subprocess.Popen[bytes]]]]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is needed (the project's machines have it)")
    port = free_port()
    servers = [redis_server(port, tmp_path)]
    yield port, servers
    for server in servers:
        server.kill()
        server.wait()


def test_readyz_follows_redis_down_and_back_while_healthz_stays_ok(
    own_redis: tuple[int, list[subprocess.Popen[bytes]]], tmp_path: Path
) -> None:
    port, servers = own_redis
    settings = make_settings(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        tmp_path,
        runner_url="off",
        redis_url=f"redis://127.0.0.1:{port}/0",
    )
    with TestClient(create_app(settings)) as client:

        def ready() -> bool:
            return bool(client.get("/readyz").status_code == 200)

        until(ready)
        assert client.get("/readyz").json()["redis"] == "ok"

        servers[0].kill()
        servers[0].wait()
        until(lambda: not ready(), timeout=5)
        down = client.get("/readyz")
        alive = client.get("/healthz")

        servers.append(redis_server(port, tmp_path))
        back_after = until(ready, timeout=10)

    assert down.status_code == 503
    assert down.json()["status"] == "unavailable"
    assert down.json()["redis"].startswith("unreachable: ")
    assert down.json()["database"] == "ok"
    assert alive.status_code == 200 and alive.json() == {"status": "ok"}
    assert back_after < 5


def test_readyz_says_nothing_of_redis_when_none_is_configured(client: TestClient) -> None:
    answer = client.get("/readyz")

    assert answer.status_code == 200
    assert "redis" not in answer.json()


def test_a_draining_replica_is_not_ready_and_its_outbox_stops_taking_messages(
    tmp_path: Path,
) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path, runner_url="off")
    app = create_app(settings)
    with TestClient(app) as client:
        until(lambda: client.get("/readyz").status_code == 200)
        assert app.state.outbox._task is not None  # delivering
        assert client.portal is not None
        client.portal.call(app.state.draining.start)  # as SIGTERM does (app.core.shutdown)
        until(lambda: app.state.outbox._task is None, timeout=5)
        draining = client.get("/readyz")
        alive = client.get("/healthz")

    assert draining.status_code == 503
    assert draining.json()["status"] == "shutting down"
    assert "retry-after" not in draining.headers  # not coming back: no hint to wait for it
    assert alive.status_code == 200
