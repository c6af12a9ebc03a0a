"""Real `torchquiz runner --queue` processes on the test Redis, under a key prefix of their
module's own, and the app's client of that queue (app.runner.queue_client) run in a thread of
its own (Playwright holds the main thread's event loop)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
import redis

from app.core.config import PROJECT_DIR
from app.runner import queue
from app.runner.embedded import wait_until_ready
from app.runner.queue_client import QueueLimits, QueueRunner
from tests.conftest import REDIS_URL, delete_redis_keys, worker_uid_base

T = TypeVar("T")
# Short enough that a test sees a dead runner's job taken back in seconds; long enough that a
# runner busy on these two cores never misses its heartbeat (every sixth of it).
RECLAIM_SECONDS = 4.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class QueueRunners:
    """Runner processes taking jobs from the queue under `prefix`, started on demand."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.processes: list[subprocess.Popen[bytes]] = []
        self._uids = itertools.cycle(range(worker_uid_base() + 40, worker_uid_base() + 100, 20))

    def start(self, count: int = 1, **settings: str) -> list[subprocess.Popen[bytes]]:
        """`count` more runners, returned once every one of them is ready. One after another:
        each warms four processes that import torch, which at once would share the cores."""
        started = []
        for _ in range(count):
            process, port = self._spawn(settings)
            wait_until_ready(f"http://127.0.0.1:{port}", process, timeout=240)
            started.append(process)
        self.wait_alive()
        return started

    def _spawn(self, settings: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
        port = free_port()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TORCHQUIZ_RUNNER_REDIS_PREFIX": self.prefix,
            "TORCHQUIZ_RUNNER_QUEUE_RECLAIM_SECONDS": str(RECLAIM_SECONDS),
            # Its own uids, apart from every other runner's on this machine (a slot each).
            "TORCHQUIZ_RUNNER_UID_BASE": str(next(self._uids)),
            "TORCHQUIZ_RUNNER_SLOTS": "4",
            "TORCHQUIZ_RUNNER_SPARES": "1",
            "TORCHQUIZ_RUNNER_PLAYGROUND_WORKERS": "1",
            **{f"TORCHQUIZ_RUNNER_{k.upper()}": v for k, v in settings.items()},
        }
        command = [sys.executable, "-m", "app.cli", "runner", "--queue", REDIS_URL]
        process = subprocess.Popen(  # our own command
            [*command, "--port", str(port)], env=env, cwd=PROJECT_DIR
        )
        self.processes.append(process)
        return process, port

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.processes if p.poll() is None]

    def ensure(self, count: int) -> None:
        """At least `count` runners alive (new ones started for any that were killed)."""
        if (missing := count - len(self.alive())) > 0:
            self.start(missing)

    def wait_alive(self, timeout: float = 30) -> None:
        """Until every live process has said in Redis that it is ready, and no dead one still
        seems alive."""
        client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        keys = queue.QueueKeys(self.prefix)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                said = {k: client.get(k) for k in client.scan_iter(match=keys.alive("*"))}
                ready = {
                    int(k.rsplit(":", 1)[1].split("-")[-2])
                    for k, v in said.items()
                    if v and json.loads(v)["state"] == "ready"
                }
                if ready == {p.pid for p in self.alive()} and len(said) == len(ready):
                    return
                time.sleep(0.2)
        finally:
            client.close()
        raise AssertionError("the runners did not all report to the queue")

    def holder(
        self, job: int, timeout: float = 30, *, besides: int | None = None
    ) -> subprocess.Popen[bytes]:
        """The runner process that holds the job (its meta names the runner, with its pid);
        `besides`: a pid that held it before, and is waited past."""
        client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if name := client.hget(queue.QueueKeys(self.prefix).meta(job), "runner"):
                    pid = int(str(name).split("-")[-2])
                    if pid != besides:
                        return next(p for p in self.processes if p.pid == pid)
                time.sleep(0.05)
        finally:
            client.close()
        raise AssertionError(f"no runner took job {job}")

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def module_prefix() -> Iterator[str]:
    """As tests/conftest.py's redis_prefix, for runners a module's tests share."""
    prefix = f"tqtest:{uuid.uuid4().hex[:12]}:"
    yield prefix
    delete_redis_keys(prefix)


@pytest.fixture(scope="module")
def runners(module_prefix: str) -> Iterator[QueueRunners]:
    """Two queue runners, shared by the module's tests."""
    pair = QueueRunners(module_prefix)
    try:
        pair.start(2)
        yield pair
    finally:
        pair.close()


def in_thread(
    scenario: Callable[[QueueRunner], Awaitable[T]],
    prefix: str,
    url: str = REDIS_URL,
    limits: QueueLimits | None = None,
    **options: Any,
) -> T:
    """`scenario` with a client of the queue whose monitor runs, in an event loop of its own."""

    async def main() -> T:
        client = QueueRunner(url, prefix=prefix, limits=limits, **options)
        monitor = asyncio.create_task(client.monitor())
        try:
            return await scenario(client)
        finally:
            monitor.cancel()
            await client.aclose()

    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, main()).result()
