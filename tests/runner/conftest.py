"""Real runners for these tests, and the same tests run against both:
- the suite's own runner, started the embedded way (Unix socket, as `torchquiz serve` does), in
  the mode the kernel allows the suite (privileged when it runs as root, as CI does);
- a separate service over TCP with a token, run the way a normal user runs it: as an
  unprivileged uid, from a venv under /tmp, so in the rootless mode."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from app.core.config import PROJECT_DIR
from app.main import create_app
from app.runner.embedded import wait_until_ready
from app.runner.protocol import RunResult
from app.runner.sandbox import detect
from tests.conftest import make_settings, until_ready
from tests.unprivileged import unprivileged_user, venv_under_tmp

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
# The sandbox mode of runners this process starts itself (pools in the tests below).
MODE = detect().mode


@dataclass
class Runner:
    url: str
    token: str
    mode: str | None = None

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


@pytest.fixture(scope="session")
def embedded(runner_url: str) -> Runner:
    """The suite's runner (tests/conftest.py), started as `torchquiz serve` starts its own."""
    return Runner(runner_url, "", MODE)


@pytest.fixture(scope="session")
def users_python() -> Iterator[Path]:
    """The python of a venv under /tmp that the suite's unprivileged user can run."""
    with venv_under_tmp(unprivileged_user()) as python:
        yield python


@contextlib.contextmanager
def runner_as_user(
    python: Path, *options: str, log: int | None = None, **settings: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`torchquiz runner` over TCP with a token and these settings (TORCHQUIZ_RUNNER_<NAME>),
    started by the unprivileged user; its stderr goes to `log` (subprocess.PIPE: for the
    caller to read once it has ended it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"PATH": os.environ["PATH"], "TORCHQUIZ_RUNNER_TOKEN": TOKEN}
    env |= {f"TORCHQUIZ_RUNNER_{name.upper()}": value for name, value in settings.items()}
    process = subprocess.Popen(
        [str(python), "-m", "app.cli", "runner", "--port", str(port), *options],
        env=env,
        cwd=PROJECT_DIR,
        stderr=log,
        **unprivileged_user().popen_options(),  # type: ignore[arg-type]
    )
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.terminate()
            process.communicate(timeout=20)


@pytest.fixture(scope="session")
def service(users_python: Path) -> Iterator[Runner]:
    """The runner as a service, run the way a normal user runs it: as an unprivileged uid,
    from a venv under /tmp (the rootless sandbox, with its interpreter where a private /tmp
    would hide it)."""
    with runner_as_user(users_python, uid_base="61000") as (url, process):
        wait_until_ready(url, process, 180)
        with httpx.Client() as client:
            mode = client.get(f"{url}/healthz").json()["mode"]
        yield Runner(url, TOKEN, mode)


@pytest.fixture(scope="package")
def runner_app(embedded: Runner, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """One started app in front of the embedded runner for these tests (each a new learner of
    it), instead of an app started, migrated and synced for each test."""
    folder = tmp_path_factory.mktemp("runner-app")
    settings = make_settings(
        f"sqlite:///{folder / 'runs.sqlite3'}", folder, runner_url=embedded.url
    )
    app = create_app(settings)
    with TestClient(app) as client:
        until_ready(client)  # a new app learns that the (already warm) runner is ready
        yield app


@pytest.fixture
def app_client(runner_app: FastAPI) -> Iterator[TestClient]:
    """A new learner's client of that app. Not entered as a context manager: that would run
    the app's start-up again."""
    client = TestClient(runner_app)
    yield client
    client.close()


@pytest.fixture(params=["embedded", "service"])
def runner(request: pytest.FixtureRequest) -> Runner:
    """Each test runs against the embedded runner and against the separate service."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def processes_named(name: str) -> list[int]:
    """Processes on this machine whose command name is `name` (in every PID namespace: each
    is in ours too)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == name:
                found.append(int(entry.name))
        except OSError:  # gone, or not ours to read
            continue
    return found
