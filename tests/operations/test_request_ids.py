"""The request id: made here for every request and returned in X-Request-ID; a trusted proxy's
own id kept when it looks like one; and in every JSON log line written for the request."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from pathlib import Path

from fastapi import FastAPI
from starlette.testclient import TestClient

from app.core import request_ids
from app.core.logs import JsonFormatter
from app.main import create_app
from app.runner.client import RunnerClient
from tests.conftest import make_settings

OURS = re.compile(r"[0-9a-f]{32}")
PROXY = ("10.1.2.3", 40000)


def proxied_app(tmp_path: Path, database_url: str) -> FastAPI:
    """An app behind a proxy at 10.0.0.0/8 (not started: /healthz needs nothing of it)."""
    return create_app(make_settings(database_url, tmp_path, trusted_proxies=["10.0.0.0/8"]))


def test_every_response_carries_a_fresh_request_id(client: TestClient) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/api/v1/questions/no-such-question").headers["x-request-id"]

    assert OURS.fullmatch(first) and OURS.fullmatch(second)
    assert first != second


def test_an_id_sent_by_a_client_that_is_no_trusted_proxy_is_ignored(client: TestClient) -> None:
    answer = client.get("/healthz", headers={"X-Request-ID": "chosen-by-the-client"})

    assert OURS.fullmatch(answer.headers["x-request-id"])


def test_a_trusted_proxys_request_id_is_kept(tmp_path: Path, database_url: str) -> None:
    behind = TestClient(proxied_app(tmp_path, database_url), client=PROXY)

    answer = behind.get("/healthz", headers={"X-Request-ID": "Root=1-67a8e0c1-abc.def_9"})

    assert answer.headers["x-request-id"] == "Root=1-67a8e0c1-abc.def_9"


def test_a_trusted_proxys_malformed_or_overlong_id_is_replaced(
    tmp_path: Path, database_url: str
) -> None:
    behind = TestClient(proxied_app(tmp_path, database_url), client=PROXY)

    for bad in ('a" "b', "x" * 129, "new\tline", ""):
        answer = behind.get("/healthz", headers={"X-Request-ID": bad})
        assert OURS.fullmatch(answer.headers["x-request-id"]), bad
    # A peer outside the trusted networks, behind the same app: its header is not believed.
    outsider = TestClient(behind.app, client=("192.0.2.1", 40000))
    assert OURS.fullmatch(
        outsider.get("/healthz", headers={"X-Request-ID": "abc"}).headers["x-request-id"]
    )


def test_a_json_log_line_names_its_request_and_carries_the_traceback() -> None:
    token = request_ids.current.set("req-42")
    try:
        try:
            raise ValueError("the database said no")
        except ValueError:
            record = logging.LogRecord(
                "torchquiz", logging.ERROR, __file__, 1, "failed: %s", ("x",), sys.exc_info()
            )
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_ids.current.reset(token)

    assert line["request_id"] == "req-42"
    assert (line["level"], line["logger"], line["message"]) == ("ERROR", "torchquiz", "failed: x")
    assert "ValueError: the database said no" in line["exception"]
    assert line["time"].endswith("+00:00")


def test_a_log_line_outside_a_request_has_no_request_id() -> None:
    record = logging.LogRecord("torchquiz", logging.INFO, __file__, 1, "started", (), None)

    line = json.loads(JsonFormatter().format(record))

    assert line["request_id"] is None and "exception" not in line


def test_a_call_to_the_code_runner_carries_the_request_id_the_runner_keeps(
    runner_url: str,
) -> None:
    async def ask(request_id: str | None) -> str:
        request_ids.current.set(request_id)
        client = RunnerClient(runner_url)
        try:
            answer = await client._client.get("/healthz")  # the client's own connection
        finally:
            await client.aclose()
        return answer.headers["x-request-id"]

    assert asyncio.run(ask("proxy-id-42")) == "proxy-id-42"
    assert OURS.fullmatch(asyncio.run(ask(None)))  # none to carry: the runner makes one
