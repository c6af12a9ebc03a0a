"""A real HTTP receiver on a free 127.0.0.1 port, in a thread: it answers each POST with the
next status of its script (the last one repeats), and keeps every request it got, with the
status it answered, so a test counts deliveries as the other side saw them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self, script: list[int]) -> None:
        self.script = list(script)
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    status = (
                        receiver.script.pop(0) if len(receiver.script) > 1 else receiver.script[0]
                    )
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.requests.append(Received(self.path, headers, body, status))
                # A refusal says why, as receivers do: the delivery log keeps its start.
                said = b"" if 200 <= status < 300 else f"refused with {status}".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(said)))
                self.end_headers()
                self.wfile.write(said)

            def log_message(self, *_args: Any) -> None:
                pass

        return Handler

    @property
    def delivered(self) -> list[Received]:
        """The requests answered 2xx: what the receiver accepted."""
        with self.lock:
            return [r for r in self.requests if 200 <= r.answered < 300]

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """Until `count` requests were accepted (the app delivers in the background)."""
        deadline = time.monotonic() + timeout
        while len(self.delivered) < count:
            assert time.monotonic() < deadline, f"{len(self.delivered)} of {count} delivered"
            time.sleep(0.05)
        return self.delivered


@contextmanager
def receiving(*script: int) -> Iterator[Receiver]:
    receiver = Receiver(list(script) or [200])
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(timeout=5)
