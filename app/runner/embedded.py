"""`torchquiz serve` starts its own runner: a separate process on a private Unix socket."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from app.core.config import PROJECT_DIR, private_dir
from app.runner.settings import RunnerSettings
from app.runner.syscalls import PR_SET_PDEATHSIG, prctl


@contextlib.contextmanager
def embedded_runner(
    socket: Path,
    settings: RunnerSettings | None = None,
    *,
    wait: bool = True,
    timeout: float = 180.0,
) -> Iterator[str]:
    """Start `torchquiz runner` on `socket` with these settings (by default, read from the
    environment here); yield its URL once its workers are warm, or at once with `wait=False`
    (`torchquiz serve`: the app learns from the runner's /healthz when it is ready, and the
    socket appears a moment after the process starts)."""
    settings = settings or RunnerSettings()
    private_dir(socket.parent)  # the socket is 0666: the folder keeps other users out
    socket.unlink(missing_ok=True)
    # The runner gets none of the app's environment (database URL, secret key...): its own
    # settings only, as variables it reads back into the same settings.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")} | settings.environ()
    # Its log lines as the app's (app.core.logs): JSON for a collector, or text.
    env["TORCHQUIZ_LOG_FORMAT"] = os.environ.get("TORCHQUIZ_LOG_FORMAT", "text")
    process = subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "-m", "app.cli", "runner", "--uds", str(socket)],
        env=env,
        cwd=PROJECT_DIR,
        preexec_fn=_die_with_parent,
    )
    try:
        if wait:
            wait_until_ready(f"unix://{socket}", process, timeout)
        yield f"unix://{socket}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _die_with_parent() -> None:
    """Killed with the app, even by a signal that skips its clean-up (SIGTERM mid-start-up,
    SIGKILL): a runner must never outlive the app that started it."""
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def wait_until_ready(url: str, process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the runner exited with code {process.returncode}")
        if listening(url) and _ready(url):
            return
        time.sleep(0.2)
    raise RuntimeError(f"the runner at {url} was not ready within {timeout:g} s")


def listening(url: str) -> bool:
    """A plain connect first: a failed httpx connect leaves its socket for the collector."""
    if url.startswith("unix://"):
        family, address = socket.AF_UNIX, url.removeprefix("unix://")
    else:
        parsed = httpx.URL(url)
        family, address = socket.AF_INET, (parsed.host, parsed.port or 80)  # type: ignore[assignment]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        return probe.connect_ex(address) == 0


def _ready(url: str) -> bool:
    uds = url.removeprefix("unix://") if url.startswith("unix://") else None
    transport = httpx.HTTPTransport(uds=uds) if uds else None
    with httpx.Client(
        transport=transport, base_url="http://runner" if uds else url, timeout=2
    ) as client:
        try:
            return bool(client.get("/healthz").json().get("ready"))
        except httpx.HTTPError:
            return False
