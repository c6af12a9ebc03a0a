"""Fixtures for the LTI tests: the emulated platform (tests/lti/emulator.py), the tool driven
through TestClient at https://testserver (so its Secure cookies are kept), and the tool live on
a free port of 127.0.0.1 (real HTTP both ways: the platform fetches the tool's JWKS while the
tool waits on the platform's token endpoint)."""

from __future__ import annotations

import contextlib
import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.testclient import TestClient

from app.core.config import Settings
from app.core.db import Database, create_db_engine, migrate_database
from app.main import create_app
from tests.lti.emulator import Platform, served

TOOL = "https://testserver"
DRAIN_PATH = "/__test__/outbox/drain"


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    """The emulated LMS, one per test module, on a free port."""
    with Platform() as lms:
        yield lms


def register(db: Session, lms: Platform) -> Any:
    """The platform registered with the tool, as its administrator would (D's service)."""
    from app.lti import platforms
    from app.lti.schemas import PlatformIn

    return platforms.create_platform(db, PlatformIn(**lms.registration()))


@pytest.fixture
def tool(app: FastAPI, db: Session, platform: Platform) -> Iterator[TestClient]:
    """A browser at the tool (TestClient over https, so Secure cookies are kept), the platform
    registered with it in the test's rolled-back transaction."""
    platform.use_tool(TOOL)
    register(db, platform)
    db.commit()
    client = TestClient(app, base_url=TOOL, follow_redirects=False)
    yield client
    client.close()


# --- the tool, live ---


@dataclass
class LiveTool:
    """The tool served over real HTTP, with its own SQLite database."""

    url: str
    app: FastAPI

    def transaction(self) -> contextlib.AbstractContextManager[Session]:
        """The live app's database, for arranging and inspecting (`with tool.transaction()`)."""
        return self.app.state.database.transaction()  # type: ignore[no-any-return]

    def drain(self) -> int:
        """Deliver every outbox message due now, on the server's own event loop (where its
        HTTP client lives); how many tries were made."""
        request = urllib.request.Request(self.url + DRAIN_PATH, method="POST")
        with urllib.request.urlopen(request, timeout=60) as answer:
            return int(json.load(answer)["tries"])


def with_test_routes(app: FastAPI, axe: tuple[str, str] | None = None) -> FastAPI:
    """The tool, answering DRAIN_PATH and, for the browser, axe's source at `axe[0]`."""

    async def drain(request: Request) -> Response:
        tries = await request.app.state.outbox.drain()
        return JSONResponse({"tries": tries})

    app.add_route(DRAIN_PATH, drain, methods=["POST"], include_in_schema=False)
    if axe is not None:
        path, source = axe

        async def axe_js(request: Request) -> Response:
            headers = {"cache-control": "max-age=3600"}
            return Response(source, media_type="text/javascript", headers=headers)

        app.add_route(path, axe_js, include_in_schema=False)
    return app


@contextlib.contextmanager
def live_tool_at(
    folder: Path,
    runner_url: str,
    platforms: tuple[Platform, ...] = (),
    axe: tuple[str, str] | None = None,
    database_url: str = "",
) -> Iterator[LiveTool]:
    """The real app on a free port of 127.0.0.1 until the block ends (ready: /readyz), with
    `platforms` registered before it starts (so its first CSP already lists them). Its
    database: `database_url`, or a SQLite file in `folder`."""
    settings = Settings(
        environment="test",
        database_url=database_url or f"sqlite:///{folder / 'tool.sqlite3'}",
        instance_dir=folder / "instance",
        secret_key="lti-test-secret-key-not-for-production",
        runner_url=runner_url,
    )
    engine = create_db_engine(settings.database_url)
    try:
        migrate_database(settings.database_url, engine)
        with Database.on(engine).transaction() as db:
            for lms in platforms:
                register(db, lms)
    finally:
        engine.dispose()
    app = with_test_routes(create_app(settings), axe)
    with served(app, ready_path="/readyz", host_name="127.0.0.1") as url:
        for lms in platforms:
            lms.use_tool(url)
        yield LiveTool(url, app)


@pytest.fixture(scope="module")
def live_tool(
    tmp_path_factory: pytest.TempPathFactory, runner_url: str, platform: Platform
) -> Iterator[LiveTool]:
    """The tool live, the module's platform registered with it and told where it is."""
    with live_tool_at(tmp_path_factory.mktemp("lti-tool"), runner_url, (platform,)) as live:
        yield live


# --- a browser over real HTTP ---


class Browser:
    """httpx with a cookie jar per host that keeps Secure cookies over http (as Chromium does
    on loopback; the standard library's jar sends them over https only), redirects followed
    by hand so that each hop's cookies are seen."""

    def __init__(self) -> None:
        self.http = httpx.Client(timeout=60, follow_redirects=False)
        self.jar: dict[str, dict[str, str]] = {}

    def close(self) -> None:
        self.http.close()

    def cookies(self, url: str) -> dict[str, str]:
        return self.jar.setdefault(httpx.URL(url).netloc.decode(), {})

    def request(
        self, method: str, url: str, *, follow: bool = True, **kwargs: Any
    ) -> httpx.Response:
        for _ in range(10):
            jar = self.cookies(url)
            headers = dict(kwargs.pop("headers", None) or {})
            if jar:
                headers["cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
            answer = self.http.request(method, url, headers=headers, **kwargs)
            for line in answer.headers.get_list("set-cookie"):
                pair, *attributes = (part.strip() for part in line.split(";"))
                name, _, value = pair.partition("=")
                if not value or any(a.lower() in ("max-age=0", "max-age=-1") for a in attributes):
                    jar.pop(name, None)
                else:
                    jar[name] = value
            if not (follow and answer.is_redirect):
                return answer
            url = str(answer.url.join(answer.headers["location"]))
            method, kwargs = "GET", {}
        raise AssertionError(f"more than 10 redirects from {url}")

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


@pytest.fixture
def browser_http() -> Iterator[Browser]:
    b = Browser()
    yield b
    b.close()
