"""`torchquiz serve` as a real process: a graceful stop on SIGTERM (draining: /readyz at 503
while a request in flight finishes, exit status 0), and its log, JSON lines that carry the
request id. One process for both: a server's start costs seconds."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.servers import log_of, ready, serve, stop
from tests.test_cli import free_port

SESSION = json.dumps({"topic": "birnn", "mode": "practice"}).encode()


def slowly(body: bytes, seconds: float) -> Iterator[bytes]:
    """A request body that takes `seconds` to arrive: a request still in flight meanwhile."""
    half = len(body) // 2
    yield body[:half]
    time.sleep(seconds)
    yield body[half:]


def test_sigterm_drains_then_stops_cleanly_and_every_log_line_is_json_naming_its_request(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "TORCHQUIZ_DRAIN_SECONDS": "1.5",
        "TORCHQUIZ_LOG_FORMAT": "json",
        "TORCHQUIZ_ACCESS_LOG": "true",
    }
    process = serve(tmp_path, port, f"sqlite:///{tmp_path / 'db.sqlite3'}", env=env)
    try:
        ready(url, process)
        answers: list[httpx.Response] = []
        in_flight = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    f"{url}/api/v1/sessions",
                    content=slowly(SESSION, 2.5),
                    headers={"content-type": "application/json"},
                    timeout=20,
                )
            )
        )
        in_flight.start()
        time.sleep(0.5)
        told = time.monotonic()
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        readiness = httpx.get(f"{url}/readyz", timeout=5)  # still listening: draining
        status = process.wait(timeout=20)
        took = time.monotonic() - told
        in_flight.join(timeout=20)
    finally:
        stop(process)

    assert readiness.status_code == 503
    assert readiness.json()["status"] == "shutting down"
    assert [answer.status_code for answer in answers] == [201], log_of(process)
    assert status == 0, log_of(process)
    assert took < 10, log_of(process)
    assert "Traceback" not in log_of(process), log_of(process)
    # The log: one JSON object a line (the CLI's own echo lines aside), the request named.
    served = [line for line in log_of(process).splitlines() if line.startswith("{")]
    lines = [json.loads(line) for line in served]
    assert all({"time", "level", "logger", "message", "request_id"} <= set(one) for one in lines)
    assert any(one["message"] == "Application startup complete." for one in lines)
    (posted,) = [one for one in lines if one.get("path") == "/api/v1/sessions"]
    assert posted["logger"] == "uvicorn.access"
    assert posted["request_id"] == answers[0].headers["x-request-id"]
    assert (posted["method"], posted["status"]) == ("POST", 201)


def test_with_several_workers_any_worker_answers_metrics_for_all(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    process = serve(tmp_path, port, database, "--workers", "2")
    try:
        ready(url, process, timeout=180)
        for _ in range(20):  # a connection each: the kernel spreads them over the workers
            assert httpx.get(f"{url}/api/v1/topics", timeout=10).status_code == 200
        scrapes = [httpx.get(f"{url}/metrics", timeout=10).text for _ in range(6)]
        files = sorted(p.name for p in (tmp_path / "instance" / "metrics").iterdir())
    finally:
        stop(process)

    line = 'http_requests_total{handler="/api/v1/topics",method="GET",status="2xx"} 20.0'
    assert all(line in text.splitlines() for text in scrapes), scrapes[0]
    assert len({name.rsplit("_", 1)[-1] for name in files if name.startswith("counter_")}) == 2
