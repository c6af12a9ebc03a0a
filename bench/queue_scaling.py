"""Scaling bench: short snippets per second through the Redis job queue with 1 and 2 runner
processes, beside the in-process default (the embedded runner `torchquiz serve` starts, over its
Unix socket), all measured in the same run on this machine.

Each configuration gets the same load: --clients concurrent callers, each sending the
runner_load snippet (a small GRU's shapes) one after another for --seconds, through the app's
own clients (app.runner.client.RunnerClient, app.runner.queue_client.QueueRunner). Printed:
runs/s, p50 and p99 latency, failures, and the ratio of runs/s to the in-process default. The
runners are started here (`torchquiz runner --queue`), under a key prefix of their own.

    python bench/queue_scaling.py [--redis redis://127.0.0.1:6379/0] [--seconds 10] [--clients 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import redis
from runner_load import SNIPPET

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.runner.client import Runner, RunnerClient  # noqa: E402
from app.runner.embedded import embedded_runner, wait_until_ready  # noqa: E402
from app.runner.protocol import RunRequest  # noqa: E402
from app.runner.queue_client import QueueLimits, QueueRunner  # noqa: E402
from app.runner.settings import RunnerSettings  # noqa: E402

UID_BASE = 64000  # apart from the test suites' runners


@dataclass
class Figures:
    name: str
    runs: int
    failures: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.runs / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms) or [0.0]
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def drive(name: str, runner: Runner, clients: int, seconds: float) -> Figures:
    """`clients` callers, each running the snippet again as soon as it has its answer."""
    request = RunRequest(code=SNIPPET)
    for _ in range(3):  # warm: the first runs of a zygote are slower
        await runner.run(request)
    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds

    async def caller() -> None:
        nonlocal failures
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                result = await runner.run(request)
                if not result.ok:
                    failures += 1
            except Exception:  # a refusal or a failure: counted, the load goes on
                failures += 1
                await asyncio.sleep(0.05)
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    began = time.monotonic()
    await asyncio.gather(*(caller() for _ in range(clients)))
    return Figures(name, len(latencies), failures, time.monotonic() - began, latencies)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_runner(index: int, url: str, prefix: str) -> subprocess.Popen[bytes]:
    """A queue runner process, returned once it is ready."""
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TORCHQUIZ_RUNNER_REDIS_PREFIX": prefix,
        "TORCHQUIZ_RUNNER_UID_BASE": str(UID_BASE + 100 + 20 * index),
        "TORCHQUIZ_RUNNER_PLAYGROUND_WORKERS": "1",  # not measured here
    }
    command = [sys.executable, "-m", "app.cli", "runner", "--queue", url, "--port", str(port)]
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    wait_until_ready(f"http://127.0.0.1:{port}", process, timeout=600)
    time.sleep(2)  # it has said it is ready in Redis
    return process


async def through_queue(url: str, args: argparse.Namespace) -> list[Figures]:
    """One queue runner, measured; a second one beside it (started after the first was
    measured: warming up, it would share the cores), measured again."""
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    limits = QueueLimits(short_depth=10_000, learner_short=10_000, address_short=10_000)
    client = QueueRunner(url, prefix=prefix, limits=limits)
    processes: list[subprocess.Popen[bytes]] = []
    figures = []
    try:
        for count in (1, 2):
            processes.append(start_runner(count, url, prefix))
            name = f"Redis queue, {count} runner process{'es' if count > 1 else ''}"
            figures.append(await drive(name, client, args.clients, args.seconds))
    finally:
        await client.aclose()
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
        forget(url, prefix)  # once its runners have stopped
    return figures


async def in_process(args: argparse.Namespace) -> Figures:
    settings = RunnerSettings(
        uid_base=UID_BASE, burst=100_000, per_minute=10_000_000, playground_workers=1
    )
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = stack.enter_context(embedded_runner(folder / "runner.sock", settings, timeout=600))
        client = RunnerClient(url, embedded=True)
        try:
            name = "in-process default (baseline)"
            return await drive(name, client, args.clients, args.seconds)
        finally:
            await client.aclose()


def forget(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


def report(figures: list[Figures]) -> None:
    baseline = figures[0].rps
    heads = f"{'runs/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'fails':>6} {'x base':>7}"
    print(f"\n{'configuration':40} {heads}")
    for f in figures:
        print(
            f"{f.name:40} {f.rps:8.1f} {f.percentile(0.5):8.1f} {f.percentile(0.99):8.1f} "
            f"{f.failures:6d} {f.rps / baseline:7.2f}"
        )
    median = statistics.median(figures[0].latencies_ms) if figures[0].latencies_ms else 0
    print(f"\n{os.cpu_count()} cores; baseline p50 {median:.1f} ms. Each runner process runs "
          "`parallel` (the cores) snippets at once: on one machine a second process adds "
          "places, not cores.")  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    report([await in_process(args), *await through_queue(args.redis, args)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    asyncio.run(main(parser.parse_args()))
