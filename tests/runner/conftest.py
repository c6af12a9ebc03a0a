"""A real runner for these tests: started the embedded way (Unix socket, as `torchquiz serve`
does) and as a separate service over TCP with a token; the same tests run against both."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from app.core.config import PROJECT_DIR
from app.main import create_app
from app.runner.embedded import wait_until_ready
from app.runner.protocol import RunResult
from tests.conftest import make_settings

# Tight limits keep the hostile suite fast; every snippet must still be contained by them.
TEST_LIMITS = {
    "cpu_seconds": 1,
    "wall_seconds": 3,
    "memory_mb": 256,
    "output_bytes": 8192,
    "processes": 32,
    "open_files": 64,
    "file_size_mb": 4,
    "tmp_size_mb": 16,
}
TOKEN = "test-runner-token"
UID_BASE = 60000


@dataclass
class Runner:
    url: str
    token: str

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if self.url.startswith("unix://"):
            transport = httpx.HTTPTransport(uds=self.url.removeprefix("unix://"))
            return httpx.Client(
                transport=transport, base_url="http://runner", headers=headers, timeout=60
            )
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def post(self, code: str, **limits: Any) -> httpx.Response:
        body: dict[str, Any] = {"code": code, "limits": {**TEST_LIMITS, **limits}}
        with self.client() as client:
            return client.post("/v1/runs", json=body)

    def run(self, code: str, **limits: Any) -> RunResult:
        response = self.post(code, **limits)
        assert response.status_code == 200, response.text
        return RunResult.model_validate_json(response.content)


def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("the runner tests need root: the sandbox is built from kernel namespaces")


@pytest.fixture(scope="session")
def embedded(runner_url: str) -> Runner:
    """The suite's runner (tests/conftest.py), started as `torchquiz serve` starts its own."""
    return Runner(runner_url, "")


@pytest.fixture(scope="session")
def service() -> Iterator[Runner]:
    _require_root()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"PATH": os.environ["PATH"], "TORCHQUIZ_RUNNER_TOKEN": TOKEN}
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "runner", "--port", str(port), "--uid-base", "61000"],
        env=env,
        cwd=PROJECT_DIR,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, 180)
        yield Runner(url, TOKEN)
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
def app_client(embedded: Runner, tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'runs.sqlite3'}", tmp_path, runner_url=embedded.url
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(params=["embedded", "service"])
def runner(request: pytest.FixtureRequest) -> Runner:
    """Each test runs against the embedded runner and against the separate service."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def sandbox_processes() -> list[int]:
    """Processes on this machine running as one of the sandbox's users."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            uid = entry.stat().st_uid
        except FileNotFoundError:
            continue
        if UID_BASE <= uid < UID_BASE + 2000:
            found.append(int(entry.name))
    return found
