"""An app of its own per backend whose requests commit, as in production: the lab writes its
runs from sessions of its own, outside any test transaction, and the fuzzers post forms and
JSON at random. Its runner is a real one whose lab refuses every run (`lab_refusing_runner`),
so that no model trains while requests are fuzzed. Shared by the tests of this folder that
need one."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from app.main import create_app
from app.runner.embedded import embedded_runner
from app.runner.settings import RunnerSettings
from tests.conftest import BACKENDS, _scratch_postgres, make_settings, until_ready


@pytest.fixture(scope="package")
def lab_refusing_runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second real code runner, started as the suite's own is (tests/conftest.py,
    `runner_url`), but with no place for a lab job or a learner's lab model: each is refused
    429 queue_full by the runner itself, while snippets run as anywhere. Its uids are apart from
    every other runner's and pool's of the suite; its rate limits are lifted, so that the
    refusal a lab run meets is always the queue's. Its URL."""
    settings = RunnerSettings(
        lab_queue_depth=0,  # every job waits in the queue first: none may
        lab_code_parallel=0,  # no place to train a learner's model: every one is refused
        uid_base=63000,
        playground_workers=1,
        burst=1_000_000,
        per_minute=1_000_000,
        address_burst=1_000_000,
        address_per_minute=1_000_000,
    )
    with embedded_runner(tmp_path_factory.mktemp("lab-refusing") / "r.sock", settings) as url:
        yield url


@pytest.fixture(scope="package", params=BACKENDS)
def live_client(
    request: pytest.FixtureRequest,
    lab_refusing_runner: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TestClient]:
    """A client of that app. A 500 is a response here, not an exception, so a test sees it."""
    folder = tmp_path_factory.mktemp("hardening")
    sqlite = iter([f"sqlite:///{folder / 'hardening.sqlite3'}"])
    urls = sqlite if request.param == "sqlite" else _scratch_postgres()
    app = create_app(make_settings(next(urls), folder, runner_url=lab_refusing_runner))
    with TestClient(app, raise_server_exceptions=False) as client:
        until_ready(client)
        # The lab's page would ask for its reference runs in the background: refused here, and
        # none of these tests reads the figures.
        app.state.lab.measure_references = lambda: None
        yield client
    next(urls, None)  # drops a scratch PostgreSQL database


@pytest.fixture
def lab_queue_full(live_client: TestClient, lab_refusing_runner: str) -> None:
    """The app's lab runs go to a runner that refuses each one: everything before (the checks,
    the new learner, the cache, the one-active-run rule), the runner client, the HTTP hop and
    the runner's own refusal are real, and no model trains (that is tested in tests/lab)."""
    lab = live_client.app.state.lab  # type: ignore[attr-defined]
    assert lab.runner.url == lab_refusing_runner
    transport = httpx.HTTPTransport(uds=lab_refusing_runner.removeprefix("unix://"))
    with httpx.Client(transport=transport, base_url="http://runner") as runner:
        lane = runner.get("/healthz").json()["lanes"]["lab_code"]
    assert lane["parallel"] == 0, lane
