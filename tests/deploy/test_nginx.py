"""deploy/nginx.conf, run for real by nginx in front of two small local servers standing in for
the app replicas: the client's address appended to X-Forwarded-For, a request id handed on,
event streams passed on as they come, and a replica that is killed skipped."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI

from tests.deploy.conftest import DEPLOY, serves

STREAM_PAUSE = 1.0  # between a stream's first event and its end


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Answers(http.server.BaseHTTPRequestHandler):
    """Answers with its own name and the headers the proxy sent; /…/live and /…/stream send
    one event, pause, then another (without X-Accel-Buffering: only the proxy's own settings
    decide whether the first one waits)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.endswith(("/live", "/events", "/stream")):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for index in range(2):
                chunk = f"data: {index}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                if index == 0:
                    time.sleep(STREAM_PAUSE)
            self.wfile.write(b"0\r\n\r\n")
            return
        body = json.dumps(
            {
                "replica": self.server.name,  # type: ignore[attr-defined]
                "forwarded_for": self.headers.get("x-forwarded-for"),
                "request_id": self.headers.get("x-request-id"),
                "host": self.headers.get("host"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Replica:
    """A stand-in replica in a process of its own, so that it can be killed as one is."""

    port: int
    pid: int

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)


def replica(name: str) -> Replica:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    server.daemon_threads = True
    server.name = name  # type: ignore[attr-defined]
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child serves until it is killed
        try:
            server.serve_forever()
        finally:
            os._exit(0)
    port = int(server.server_address[1])
    server.server_close()  # the child's socket now
    return Replica(port, pid)


def proxy_config(folder: Path, port: int, replicas: dict[str, int]) -> Path:
    """deploy/nginx.conf with the compose names and paths of this machine put in: the
    replicas' addresses, the listening port, and a folder of its own instead of /tmp."""
    text = (DEPLOY / "nginx.conf").read_text()
    for name, replica_port in replicas.items():
        text, found = re.subn(rf"\b{name}:8000\b", f"127.0.0.1:{replica_port}", text)
        assert found == 1, name
    text, found = re.subn(r"listen 8080;", f"listen 127.0.0.1:{port};", text)
    assert found == 1
    scratch = folder / "scratch"
    scratch.mkdir(mode=0o777)
    scratch.chmod(0o777)  # nginx's workers run as nobody when it is started as root
    text = text.replace("/tmp/", f"{scratch}/")
    conf = folder / "nginx.conf"
    conf.write_text(text)
    return conf


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[int, dict[str, Replica]]]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        pytest.fail("nginx is not installed: run `make deploy-deps`")
    replicas = {"app-1": replica("app-1"), "app-2": replica("app-2")}
    port = free_port()
    conf = proxy_config(tmp_path, port, {name: r.port for name, r in replicas.items()})
    command = [binary, "-e", "stderr", "-p", str(tmp_path), "-c", str(conf)]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    log = (tmp_path / "nginx.log").open("w")
    process = subprocess.Popen([*command, "-g", "daemon off;"], stdout=log, stderr=log)
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        yield port, replicas
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        for each in replicas.values():
            each.kill()


def get(port: int, path: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    assert response.status == 200, (response.status, response.read())
    answer: dict[str, str] = json.loads(response.read())
    connection.close()
    return answer


def first_event_after(port: int, path: str) -> float:
    """Seconds from the request to the first event's bytes reaching the client."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    started = time.monotonic()
    connection.request("GET", path)
    response = connection.getresponse()
    assert response.status == 200
    assert response.read1(64).startswith(b"data: 0")
    waited = time.monotonic() - started
    response.read()
    connection.close()
    return waited


def test_the_proxy_appends_the_client_to_x_forwarded_for_and_passes_a_request_id(
    proxy: tuple[int, dict[str, Replica]],
) -> None:
    port, _ = proxy
    answer = get(port, "/", {"X-Forwarded-For": "203.0.113.7", "Host": "quiz.example.org"})
    # The app reads this header right to left, believing only its trusted proxies' hops.
    assert answer["forwarded_for"] == "203.0.113.7, 127.0.0.1"
    assert answer["host"] == "quiz.example.org"
    assert re.fullmatch(r"[0-9a-f]{32}", answer["request_id"] or "")
    assert get(port, "/")["forwarded_for"] == "127.0.0.1"


def test_both_replicas_serve_and_one_that_is_down_is_skipped(
    proxy: tuple[int, dict[str, Replica]],
) -> None:
    port, replicas = proxy
    assert {get(port, f"/page/{n}")["replica"] for n in range(8)} == {"app-1", "app-2"}
    replicas["app-2"].kill()  # its connections, kept alive by nginx, die with it
    assert {get(port, f"/page/{n}")["replica"] for n in range(8)} == {"app-1"}


def test_event_streams_reach_the_client_as_the_replica_sends_them(
    proxy: tuple[int, dict[str, Replica]],
) -> None:
    port, _ = proxy
    assert first_event_after(port, "/lab/runs/abc/live") < STREAM_PAUSE / 2
    assert first_event_after(port, "/api/v1/lab/runs/abc/events") < STREAM_PAUSE / 2


def test_the_event_stream_location_covers_the_apps_streams_unbuffered_for_an_hour(
    built_app: FastAPI,
) -> None:
    conf = (DEPLOY / "nginx.conf").read_text()
    found = re.search(r"location ~ (\S+) \{(.*?)\}", conf, re.S)
    assert found
    pattern, block = re.compile(found.group(1)), found.group(2)
    for path in ("/lab/runs/r1/live", "/api/v1/lab/runs/r1/events"):
        assert pattern.fullmatch(path) and serves(built_app, path), path
    for path in ("/lab/runs/r1", "/api/v1/lab/runs", "/lab/runs/r1/live/more"):
        assert not pattern.fullmatch(path), path
    assert re.search(r"^\s*proxy_buffering off;", block, re.M)
    assert re.search(r"^\s*proxy_read_timeout 1h;", block, re.M)
