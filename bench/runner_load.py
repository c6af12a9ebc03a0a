"""Runner benchmark: a shape-check snippet through the sandbox, and the Shape playground, over HTTP.

Starts `torchquiz serve` (with its embedded runner) here, or uses --url, and drives it with wrk:
`POST /api/v1/runs` with a small shape-check snippet, and `POST /api/v1/playground`. Beside
them, in the same run, the naive way: the same snippet in a cold `python -c` subprocess that
imports torch each time. Latency is measured with one connection (what a learner waits),
throughput with --connections (what the runner sustains). Targets on a 2-core machine:
snippet p50 <= 50 ms, >= 40 runs/s, >= 30x faster than the cold way; playground p50 <= 15 ms.

    python bench/runner_load.py [--url http://127.0.0.1:8000] [--seconds 12] [--cold 6]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from http_load import Figures, run_wrk, server

SNIPPET = """import torch
rnn = torch.nn.GRU(input_size=8, hidden_size=16, bidirectional=True, batch_first=True)
out, h_n = rnn(torch.randn(4, 7, 8))
print(out.shape, h_n.shape)
"""
PLAYGROUND = {"cell": "LSTM", "input_size": 8, "hidden_size": 16, "num_layers": 2,
              "bidirectional": True, "batch_first": True, "input_shape": [4, 7, 8]}  # fmt: skip

# The learner rate limits would (rightly) refuse a benchmark's load: lift them for this server.
UNLIMITED = {"TORCHQUIZ_RUNNER_BURST": "100000", "TORCHQUIZ_RUNNER_PER_MINUTE": "10000000"}


def cookie_of(url: str) -> str:
    """A learner cookie, so every request is one learner's, as in a browser."""
    with httpx.Client(base_url=url) as client:
        client.get("/").raise_for_status()
        response = client.post("/api/v1/runs", json={"code": SNIPPET}, timeout=60)
        response.raise_for_status()
        if not response.json()["ok"]:
            raise SystemExit(f"the snippet failed in the sandbox: {response.text}")
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def cold_run() -> float:
    """One run the naive way: a new interpreter importing torch. Milliseconds."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", SNIPPET], check=True, capture_output=True)
    return (time.perf_counter() - start) * 1000


def cold_figures(runs: int, parallel: int) -> Figures:
    """Latency of one cold run at a time; throughput with `parallel` at once."""
    latencies = sorted(cold_run() for _ in range(runs))
    start = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(lambda _: cold_run(), range(runs)))
    rps = runs / (time.perf_counter() - start)
    p99 = latencies[-1]  # too few runs for a real p99: the worst one
    return Figures("cold python -c (baseline)", rps, statistics.median(latencies), p99, runs, 0)


def measure(url: str, path: str, body: dict[str, object], args: argparse.Namespace) -> Figures:
    """p50 and p99 from one connection, runs per second from --connections (interleaved)."""
    target, payload = f"{url}{path}", json.dumps(body)
    load = {"method": "POST", "body": payload, "cookie": args.cookie}
    single = run_wrk(path, target, seconds=args.seconds // 2, connections=1, **load)
    busy = run_wrk(path, target, seconds=args.seconds // 2, connections=args.connections, **load)
    failures = single.failures + busy.failures
    return Figures(path, busy.rps, single.p50_ms, single.p99_ms, busy.requests, failures)


def report(snippet: Figures, playground: Figures, cold: Figures) -> bool:
    print(f"\n{'path':34} {'runs/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7}  vs cold")
    for row in (cold, snippet, playground):
        speed = cold.p50_ms / row.p50_ms
        print(
            f"{row.name:34} {row.rps:8.1f} {row.p50_ms:8.1f} {row.p99_ms:8.1f} {row.failures:7d}"
            f"  {speed:6.1f}x faster (p50), {row.rps / cold.rps:6.1f}x the runs/s"
        )
    checks = {
        "snippet p50 <= 50 ms": snippet.p50_ms <= 50,
        "snippet >= 40 runs/s": snippet.rps >= 40,
        "snippet >= 30x faster than cold (p50)": cold.p50_ms / snippet.p50_ms >= 30,
        "playground p50 <= 15 ms": playground.p50_ms <= 15,
        "no failed requests": snippet.failures == playground.failures == 0,
    }
    print()
    for name, ok in checks.items():
        print(f"target: {name:40} {'met' if ok else 'NOT met'}")
    return all(checks.values())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url", help="a running server (with lifted rate limits); default: start one"
    )
    parser.add_argument("--seconds", type=int, default=12, help="wrk seconds per path, in all")
    parser.add_argument("--connections", type=int, default=4, help="for the runs/s figure")
    parser.add_argument("--cold", type=int, default=6, help="cold subprocess runs")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    os.environ.update(UNLIMITED)
    with contextlib.nullcontext(args.url) if args.url else server(1) as url:
        args.cookie = cookie_of(url)
        cold = cold_figures(args.cold, os.cpu_count() or 1)
        snippet = measure(url, "/api/v1/runs", {"code": SNIPPET}, args)
        playground = measure(url, "/api/v1/playground", PLAYGROUND, args)
    cpus, each = os.cpu_count(), args.seconds // 2
    print(
        f"wrk: latency from 1 connection, runs/s from {args.connections}, {each} s each;"
        f" cold: {args.cold} runs one at a time, then {cpus} at once; {cpus} CPUs"
    )
    sys.exit(0 if report(snippet, playground, cold) else 1)


if __name__ == "__main__":
    main()
