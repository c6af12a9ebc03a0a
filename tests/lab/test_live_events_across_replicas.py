"""The proof: two `torchquiz serve` replicas on one PostgreSQL, one Redis and one shared runner.
A client follows a lab run's live events on the replica that trains it, goes away, comes back
on the other replica with its Last-Event-ID, is sent away again when that replica starts
shutting down (a retry hint), and finishes on the first: every epoch exactly once, in order,
then the end."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REDIS_URL, _scratch_postgres
from tests.lab.sse import Ledger, messages, slow_run
from tests.servers import log_of, ready, serve, stop
from tests.test_cli import free_port

DRAIN_SECONDS = 5  # the draining replica serves this long after SIGTERM before it stops


@pytest.fixture
def replicas(tmp_path: Path, runner_url: str, redis_prefix: str) -> Iterator[tuple[str, str, Any]]:
    """Replicas A and B (their URLs) and A's process."""
    for database_url in _scratch_postgres():
        env = {
            "TORCHQUIZ_REDIS_URL": REDIS_URL,
            "TORCHQUIZ_REDIS_PREFIX": redis_prefix,
            "TORCHQUIZ_RUNNER_URL": runner_url,
            "TORCHQUIZ_DRAIN_SECONDS": str(DRAIN_SECONDS),
        }
        ports = [free_port(), free_port()]
        processes = [serve(tmp_path, port, database_url, env=env) for port in ports]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        try:
            for url, process in zip(urls, processes, strict=True):
                ready(url, process)
            yield urls[0], urls[1], processes[0]
        finally:
            for process in processes:
                stop(process)


def test_a_client_that_reconnects_to_the_other_replica_gets_every_epoch_exactly_once(
    replicas: tuple[str, str, Any],
) -> None:
    a, b, a_process = replicas
    token = httpx.get(f"{b}/api/v1/me", timeout=10).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    started = httpx.post(
        f"{b}/api/v1/lab/runs", json=slow_run(12, seed=5), headers=auth, timeout=30
    )
    assert started.status_code == 202, started.text
    path = f"/api/v1/lab/runs/{started.json()['id']}/events"
    ledger = Ledger()

    def follow(url: str, until: int | None = None, *, drain: Any = None) -> list[Any]:
        """Read `url`'s stream from the ledger's place until it holds `until` epochs (then
        `drain()`, or go away), or to its end."""
        headers = auth | ({"Last-Event-ID": ledger.last_id} if ledger.last_id else {})
        got = []
        with httpx.stream("GET", url + path, headers=headers, timeout=30) as stream:
            assert stream.status_code == 200, stream.read()
            for message in messages(stream.iter_lines()):
                ledger.take(message)
                got.append(message)
                if until is not None and len(ledger.epochs) >= until:
                    if drain is None:
                        break
                    drain()
                    until = None
        return got

    follow(b, until=1)  # on the replica that trains it; then the client goes away
    assert ledger.last_id is not None and not ledger.ended
    resumed_at = len(ledger.epochs)

    asked: list[float] = []

    def drain_a() -> None:  # as Kubernetes or `docker stop` would
        asked.append(time.monotonic())
        a_process.send_signal(signal.SIGTERM)

    on_a = follow(a, until=resumed_at + 1, drain=drain_a)
    closed = time.monotonic()
    assert len(ledger.epochs) > resumed_at, "A followed the run B trains, woken through Redis"
    assert on_a[-1].retry == 1000 and not ledger.ended, [m.event for m in on_a]
    assert closed - asked[0] < 3, "A closed its stream as soon as it began draining"
    assert a_process.poll() is None, "still serving its last requests while draining"

    follow(b)  # back to B with the Last-Event-ID: the rest, then the end
    assert ledger.ended
    final = ledger.check()
    assert final["status"] == "done" and len(final["epochs"]) == 12, final["message"]
    assert ledger.last_id == f"{12 + 2}-0"
    assert a_process.wait(timeout=DRAIN_SECONDS + 30) is not None, log_of(a_process)
