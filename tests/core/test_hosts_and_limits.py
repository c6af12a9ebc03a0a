"""Only known Host names are answered, and request bodies over the limit get a 413 naming it,
whether their size is declared or streamed; on SQLite and PostgreSQL, over real HTTP."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from starlette.testclient import TestClient

from app.core.config import Settings
from app.runner.protocol import MAX_CODE_BYTES
from tests.core.test_security_headers import bare_app
from tests.test_startup import served

LIMIT: int = Settings.model_fields["max_body_bytes"].default
LIMIT_TEXT = "1 MiB (1,048,576 bytes)"


def error_of(response: httpx.Response) -> dict[str, object]:
    assert response.headers["content-type"] == "application/json"
    body: dict[str, object] = response.json()
    assert set(body) >= {"status", "code", "message", "field"}
    assert body["status"] == response.status_code
    return body


# --- Host ---


@pytest.mark.parametrize("path", ["/api/v1/topics", "/", "/static/css/site.css"])
def test_an_unknown_host_name_gets_400_with_the_error_shape(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"host": "attacker.example"})

    assert response.status_code == 400
    body = error_of(response)
    assert body["code"] == "invalid_host"
    assert "attacker.example" in str(body["message"])
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "testserver"]
)
def test_loopback_names_are_answered_with_or_without_a_port(client: TestClient, host: str) -> None:
    assert client.get("/api/v1/topics", headers={"host": host}).status_code == 200


def test_allowed_hosts_adds_names_and_subdomains_and_the_bound_host_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHQUIZ_ALLOWED_HOSTS", "quiz.example.org, *.example.edu")
    client = bare_app(tmp_path, host="10.1.2.3")

    def status(host: str) -> int:
        return client.get("/healthz", headers={"host": host}).status_code

    assert status("quiz.example.org") == 200
    assert status("QUIZ.example.org:443") == 200
    assert status("lms.example.edu") == 200
    assert status("10.1.2.3:8000") == 200
    assert status("localhost") == 200
    assert status("example.edu") == 400  # the wildcard is for subdomains
    assert status("quiz.example.org.attacker.example") == 400
    assert status("") == 400


def test_a_request_without_a_host_header_is_refused(tmp_path: Path) -> None:
    """HTTP/1.0 allows it; nothing can be told about where it was meant to go."""
    with served(bare_app(tmp_path).app) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            reply = b"".join(iter(lambda: conn.recv(4096), b""))
    assert reply.startswith(b"HTTP/1.1 400")
    assert b'"code":"invalid_host"' in reply


# --- body size ---


def test_a_declared_body_over_the_limit_gets_413_naming_the_limit(client: TestClient) -> None:
    body = json.dumps({"topic": "birnn", "mode": "practice", "tag": "x" * LIMIT})

    response = client.post("/api/v1/sessions", content=body)

    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "content_too_large"
    assert LIMIT_TEXT in str(error["message"])


def test_a_streamed_body_without_content_length_gets_413_naming_the_limit(
    client: TestClient,
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(32):  # 2 MiB
            yield b" " * 65536

    response = client.post(
        "/api/v1/sessions", content=chunks(), headers={"content-type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert LIMIT_TEXT in str(error_of(response)["message"])


def test_a_streamed_body_is_refused_while_it_is_still_being_sent(tmp_path: Path) -> None:
    """Over a socket: chunks just past the limit, and no last chunk; the 413 comes anyway."""
    chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
    with served(bare_app(tmp_path).app) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            conn.sendall(
                b"POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            for _ in range(LIMIT // 0x10000 + 1):
                conn.sendall(chunk)
            reply = b""  # the head and the body may come in separate reads, on a busy machine
            while LIMIT_TEXT.encode() not in reply and (received := conn.recv(65536)):
                reply += received
    assert reply.startswith(b"HTTP/1.1 413")
    assert LIMIT_TEXT.encode() in reply


def test_a_form_post_over_the_limit_gets_a_413_page(client: TestClient) -> None:
    page = client.get("/topics/birnn/practice")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf

    response = client.post(
        "/topics/birnn/practice", data={"csrf_token": csrf[1], "tag": "x" * (LIMIT + 1)}
    )

    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert LIMIT_TEXT in response.text


def test_a_body_just_under_the_limit_reaches_the_route(client: TestClient) -> None:
    body = json.dumps({"topic": "birnn", "mode": "practice"})
    body = body[:-1] + " " * (LIMIT - len(body)) + "}"
    assert len(body) == LIMIT

    response = client.post(
        "/api/v1/sessions", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 201, response.text


def test_the_largest_legitimate_body_fits_the_default_limit() -> None:
    """The longest code accepted, in the costliest encoding: four-byte characters in a form
    post, each byte percent-encoded (the JSON API's "\\ud83d\\ude00" escapes cost the same)."""
    code = "\N{GRINNING FACE}" * MAX_CODE_BYTES
    form = urlencode({"csrf_token": "x" * 64, "code": code, "position": "1"})
    escaped = json.dumps({"position": 1, "answer": {"code": code}})

    assert len(form) < LIMIT
    assert len(escaped) < LIMIT
