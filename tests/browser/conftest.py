"""Real-browser fixtures: a live uvicorn server, Debian's headless Chromium, and axe.

Every page a test visits is checked with axe-core in light and dark; see browser_support.py.
Nothing is downloaded: Chromium comes from the system and axe-core from `npm ci`.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from browser_support import AXE_PATH, Browsing, CheckedPage
from fastapi import FastAPI
from playwright.sync_api import Browser, Playwright, sync_playwright
from starlette.requests import Request
from starlette.responses import Response

from app.core.config import PROJECT_DIR, Settings
from app.main import create_app

CHROMIUM = Path(os.environ.get("TORCHQUIZ_TEST_CHROMIUM", "/usr/bin/chromium"))
AXE_JS = PROJECT_DIR / "node_modules" / "axe-core" / "axe.min.js"


# --- the live server ---


@pytest.fixture(scope="session")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, runner_url: str, axe_source: str
) -> Iterator[str]:
    """The real app on a free port of 127.0.0.1, with its own SQLite database, and axe's source
    at AXE_PATH; yields its URL."""
    tmp = tmp_path_factory.mktemp("browser")
    settings = Settings(
        environment="test",
        database_url=f"sqlite:///{tmp / 'browser.sqlite3'}",
        instance_dir=tmp / "instance",
        secret_key="browser-test-secret-key-not-for-production",
        runner_url=runner_url,
    )
    config = uvicorn.Config(
        with_axe(create_app(settings), axe_source),
        lifespan="on",
        ws="none",
        log_level="warning",
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    # Bind first and hand the socket over: no window in which another process takes the port.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True
    )
    thread.start()
    url = f"http://127.0.0.1:{port}"
    _wait_until_healthy(url, thread)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def with_axe(app: FastAPI, axe_source: str) -> FastAPI:
    """The app, answering AXE_PATH with axe's source, cacheable: a context's pages then load it
    from the browser's cache, compiled."""
    headers = {"cache-control": "max-age=3600"}

    async def axe(request: Request) -> Response:
        return Response(axe_source, media_type="text/javascript", headers=headers)

    app.add_route(AXE_PATH, axe, include_in_schema=False)
    return app


def _wait_until_healthy(url: str, thread: threading.Thread) -> None:
    """Until /readyz: pages answer at once, but the tests also run code and answer
    parameterised questions, which wait for the runner."""
    deadline = time.monotonic() + 60  # start-up migrates the database and syncs the bank
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not thread.is_alive():
            pytest.fail("the live server stopped during start-up; see the log above")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if json.load(response)["status"] == "ready":
                    return
        except urllib.error.HTTPError as exc:  # 503 while warming up
            exc.close()  # it holds the response open
            last_error = exc
        except OSError as exc:  # no answer yet
            last_error = exc
        time.sleep(0.1)
    pytest.fail(f"the live server at {url} was not ready (/readyz) in 60 s: {last_error}")


# --- the browser ---


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_JS.is_file():
        pytest.fail(
            f"axe-core is not installed ({AXE_JS} is missing): run `npm ci` in {PROJECT_DIR}",
            pytrace=False,
        )
    return AXE_JS.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    pw = sync_playwright().start()
    try:
        yield pw
    finally:
        pw.stop()


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: install Debian's package with "
            "`apt-get install chromium` (the tests never download a browser), "
            "or point TORCHQUIZ_TEST_CHROMIUM at a Chromium binary",
            pytrace=False,
        )
    b = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def browsing(browser: Browser, live_server: str) -> Iterator[Browsing]:
    """Fresh contexts (one learner each) and checked pages; fails on a page axe never saw."""
    b = Browsing(browser, live_server)
    try:
        yield b
        b.assert_all_checked()
    finally:
        b.close()


@pytest.fixture
def checked_page(browsing: Browsing) -> CheckedPage:
    """A page in a fresh context: a new learner, light scheme, JavaScript on."""
    return browsing.new_page()
