"""`torchquiz serve` as a real process of its own, for the tests about processes: killed,
restarted, or started four at once."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

PROJECT = Path(__file__).resolve().parents[1]


def serve(
    folder: Path,
    port: int,
    database_url: str,
    *options: str,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """`torchquiz serve` on 127.0.0.1:`port`, running code off (no runner process of its own)
    unless `env` says otherwise (TORCHQUIZ_ variables over these), its output in
    `log_of(process)`, a file in `folder`."""
    env = {
        **os.environ,
        "TORCHQUIZ_INSTANCE_DIR": str(folder / "instance"),
        "TORCHQUIZ_DATABASE_URL": database_url,
        "TORCHQUIZ_SECRET_KEY": "served-test-key-not-for-production",
        "TORCHQUIZ_RUNNER_URL": "off",
        "TORCHQUIZ_ENVIRONMENT": "test",
        **(env or {}),
    }
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port), *options]
    log_file = folder / f"serve-{port}-{time.monotonic_ns()}.log"
    with log_file.open("wb") as log:  # the child has its own copy of the descriptor
        process = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=log, stderr=log)
    _logs[process.pid] = log_file
    return process


_logs: dict[int, Path] = {}


def log_of(process: subprocess.Popen[bytes]) -> str:
    """What the server has written so far."""
    return _logs[process.pid].read_text(errors="replace")


def ready(url: str, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    """Until `url`/readyz answers 200; fails at once if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the server at {url} exited ({process.returncode})"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready within {timeout} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()
