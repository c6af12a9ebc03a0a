"""An app of its own per backend whose requests commit, as in production: the lab writes its
runs from sessions of its own, outside any test transaction, and the fuzzers post forms and
JSON at random. Shared by the tests of this folder that need one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from app.main import create_app
from app.runner.client import TooManyRunsError
from tests.conftest import BACKENDS, _scratch_postgres, make_settings, until_ready


@pytest.fixture(scope="package", params=BACKENDS)
def live_client(
    request: pytest.FixtureRequest, runner_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """A client of that app. A 500 is a response here, not an exception, so a test sees it."""
    folder = tmp_path_factory.mktemp("hardening")
    sqlite = iter([f"sqlite:///{folder / 'hardening.sqlite3'}"])
    urls = sqlite if request.param == "sqlite" else _scratch_postgres()
    app = create_app(make_settings(next(urls), folder, runner_url=runner_url))
    with TestClient(app, raise_server_exceptions=False) as client:
        until_ready(client)
        # The lab's page would measure its reference runs (fifteen trainings) in the
        # background, taking the cores from every test here: none of them reads the figures.
        app.state.lab.measure_references = lambda: None
        yield client
    next(urls, None)  # drops a scratch PostgreSQL database


class QueueFull:
    """The lab's runner while requests are fuzzed: each run it is asked for is refused as if
    its queue were full. What comes before (the checks, the stored run, then its removal or
    its failure) is the app's own; a valid request would otherwise train a model for tens of
    seconds. Real training is tested in tests/lab."""

    async def lab_submit(self, *args: Any, **kwargs: Any) -> int:
        raise TooManyRunsError("the lab queue is full (fuzzing: nothing trains)")

    async def run_streamed(self, *args: Any, **kwargs: Any) -> Any:
        raise TooManyRunsError("the lab queue is full (fuzzing: nothing trains)")


@pytest.fixture
def lab_queue_full(live_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_client.app.state.lab, "_client", QueueFull)  # type: ignore[attr-defined]
