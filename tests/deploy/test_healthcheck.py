"""deploy/healthcheck.py, the image's and compose's health check, against a real local server."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.deploy.conftest import load_deploy_module

healthcheck = load_deploy_module("healthcheck")


class Answers(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = {"/healthz": 200, "/readyz": 503, "/ready": 200, "/warming": 200}.get(
            self.path, 404
        )
        body = {"/ready": b'{"ready": true}', "/warming": b'{"ready": false}'}.get(self.path, b"{}")
        self.send_response(status)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_2xx_answer_is_healthy_and_an_error_status_is_not(server_port: int) -> None:
    assert healthcheck.check("/healthz", server_port)
    assert not healthcheck.check("/readyz", server_port)
    assert not healthcheck.check("/missing", server_port)


def test_no_server_is_unhealthy_quickly() -> None:
    assert not healthcheck.check("/healthz", free_port(), timeout=1.0)


def test_the_port_comes_from_the_servers_own_setting(
    server_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHQUIZ_PORT", str(server_port))
    assert healthcheck.main(["healthcheck.py", "/healthz"]) == 0
    assert healthcheck.main(["healthcheck.py", "/readyz"]) == 1
    monkeypatch.setenv("TORCHQUIZ_PORT", str(free_port()))
    assert healthcheck.main(["healthcheck.py"]) == 1


def test_ready_also_asks_for_ready_true_in_the_body_as_the_runner_says_it(
    server_port: int,
) -> None:
    assert healthcheck.check("/ready", server_port, ready=True)
    assert not healthcheck.check("/warming", server_port, ready=True)
    assert healthcheck.check("/warming", server_port)  # alive, though not ready
    assert not healthcheck.check("/healthz", server_port, ready=True)  # no "ready" at all
    assert healthcheck.main(["healthcheck.py", "/ready", str(server_port), "--ready"]) == 0
    assert healthcheck.main(["healthcheck.py", "/warming", str(server_port), "--ready"]) == 1
    assert healthcheck.main(["healthcheck.py", "/warming", str(server_port)]) == 0
