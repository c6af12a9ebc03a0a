"""A Redis server of a test's own, which the test may stop and start again (the shared one on
127.0.0.1:6379 must never be stopped: tests run in parallel on it)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path


def start_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    process = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
