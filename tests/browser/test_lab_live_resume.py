"""A run's page in a real browser when its server starts shutting down mid-run: the stream ends
with a retry hint, htmx's sse extension (its EventSource) reconnects on its own with the
Last-Event-ID, and the page goes on to the end in the same status line, no epoch lost."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, expect
from starlette.requests import Request
from starlette.responses import Response

from app.core.draining import Draining
from app.main import create_app
from tests.conftest import make_settings
from tests.lab.sse import slow_run

pytestmark = pytest.mark.browser

EPOCHS = 16


class Replica:
    """The app on a free port, with two test hooks: GET /test/drain starts its draining and,
    a moment later, stands for the replica the browser reconnects to (draining no more); and
    every request for a run's live events has its Last-Event-ID noted."""

    def __init__(self, tmp: Path, runner_url: str) -> None:
        self.app = create_app(
            make_settings(f"sqlite:///{tmp / 'live.sqlite3'}", tmp, runner_url=runner_url)
        )
        self.resumed_from: list[str | None] = []
        self.app.add_route("/test/drain", self._drain, include_in_schema=False)
        config = uvicorn.Config(
            self._noting,
            interface="asgi3",
            lifespan="on",
            ws="none",
            log_config=None,
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    async def _noting(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/live"):
            self.resumed_from.append(
                dict(scope["headers"]).get(b"last-event-id", b"").decode() or None
            )
        await self.app(scope, receive, send)

    async def _drain(self, request: Request) -> Response:
        request.app.state.draining.start()
        asyncio.get_running_loop().call_later(
            0.3, setattr, request.app.state, "draining", Draining()
        )
        return Response("draining")

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert self.thread.is_alive(), "the replica stopped during start-up: see the log"
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("the replica was not ready")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def replica(tmp_path: Path, runner_url: str) -> Iterator[Replica]:
    made = Replica(tmp_path, runner_url)
    made.start()
    try:
        yield made
    finally:
        made.stop()


def test_a_run_page_resumes_its_events_after_its_server_begins_draining(
    browser: Browser, replica: Replica
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{replica.url}/lab/runs/none")  # a 404 page: the learner's cookie is set
        token = page.request.get(f"{replica.url}/api/v1/me").json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        started = httpx.post(
            f"{replica.url}/api/v1/lab/runs",
            json=slow_run(EPOCHS, seed=7),
            headers=auth,
            timeout=30,
        )
        assert started.status_code == 202, started.text
        page.goto(f"{replica.url}/lab/runs/{started.json()['id']}")
        page.evaluate("window.statusLine = document.getElementById('run-status')")
        status = page.locator("#run-status")
        expect(status).to_contain_text("Training: epoch", timeout=30_000)

        with urllib.request.urlopen(f"{replica.url}/test/drain", timeout=10) as answer:
            assert answer.status == 200
        deadline = time.monotonic() + 10
        while len(replica.resumed_from) < 2:
            assert time.monotonic() < deadline, "the browser did not reconnect"
            time.sleep(0.05)
        first, again = replica.resumed_from[:2]
        assert first is None and again is not None and again.endswith("-0"), replica.resumed_from
        assert int(again.split("-")[0]) >= 2, "it had seen an epoch: it resumes after it"

        expect(status).to_contain_text("Finished", timeout=60_000)
        expect(page.locator("#run-progress")).to_have_attribute("value", str(EPOCHS))
        expect(page.locator(".cancel-form")).to_have_count(0)
        assert page.evaluate("document.getElementById('run-status') === window.statusLine")
        assert len(replica.resumed_from) == 2, "one reconnection, then the stream ran to its end"
    finally:
        context.close()
