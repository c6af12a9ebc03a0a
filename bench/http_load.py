"""Load benchmark: practice question fetch and answer submit vs the static health endpoint, and
the same question for a signed-in learner (whose session is looked up on every request).

Runs wrk (a real HTTP load generator, Debian package `wrk`) with 50 connections for 20 s per
endpoint against a server started here (or --url), and prints each figure beside the health
endpoint measured in the same run. The 20 s are split into rounds that take the endpoints in
turn, so a change in the shared machine's load falls on the baseline as much as on the rest.
Target: submitting an answer costs at most 3x the health endpoint (requests per second), and
no request fails.

    python bench/http_load.py [--url http://127.0.0.1:8000] [--seconds 20] [--rounds 4]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Figures:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    failures: int

    @classmethod
    def combined(cls, rounds: list[Figures]) -> Figures:
        """Rounds of equal length: mean rate, median p50, worst p99, all requests and failures."""
        p50s = sorted(r.p50_ms for r in rounds)
        return cls(
            name=rounds[0].name,
            rps=sum(r.rps for r in rounds) / len(rounds),
            p50_ms=p50s[len(p50s) // 2],
            p99_ms=max(r.p99_ms for r in rounds),
            requests=sum(r.requests for r in rounds),
            failures=sum(r.failures for r in rounds),
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(workers: int) -> Iterator[str]:
    """`torchquiz serve` on a fresh SQLite file, as a user would start it."""
    port = free_port()
    with tempfile.TemporaryDirectory() as instance:
        env = {**os.environ, "TORCHQUIZ_INSTANCE_DIR": instance}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(url)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def wait_until_up(url: str, timeout: float = 180) -> None:
    """Until /readyz: pages answer at once, but the runner warms up in the background."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz").status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"server at {url} was not ready (/readyz) within {timeout} s")


def practice_setup(url: str, *, account: bool = False) -> tuple[str, str, int]:
    """A learner with a practice session, anonymous or signed up first; returns (cookie,
    session id, a choice position)."""
    with httpx.Client(base_url=url) as client:
        if account:
            signed = {"email": f"bench-{time.time_ns()}@example.org", "password": "x" * 16}
            client.post("/api/v1/account/sign-up", json=signed).raise_for_status()
        body = {"topic": "birnn", "mode": "practice", "difficulty": "easy"}
        session = client.post("/api/v1/sessions", json=body).raise_for_status().json()
        for position in range(1, session["total"] + 1):
            item = client.get(f"/api/v1/sessions/{session['id']}/questions/{position}").json()
            if item["question"]["type"] == "single_choice":
                cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
                return cookie, session["id"], position
    raise SystemExit("no single_choice question among the easy ones")


WRK_SCRIPT = """
wrk.method = "{method}"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = "{cookie}"
"""


def run_wrk(
    name: str,
    url: str,
    *,
    seconds: int,
    connections: int,
    method: str = "GET",
    body: str = "",
    cookie: str = "",
) -> Figures:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.format(method=method, body=json.dumps(body), cookie=cookie))
    threads = min(2, connections)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        script.name,
        url,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    return parse_wrk(name, out)


def parse_wrk(name: str, out: str) -> Figures:
    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not match:
            raise SystemExit(f"cannot read the {label}% latency from wrk:\n{out}")
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match[2]]
        return float(match[1]) * scale

    requests = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    failures = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        failures += int(match[1])
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    ):
        failures += sum(int(g) for g in match.groups())
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    return Figures(name, rps, latency("50"), latency("99"), requests, failures)


def report(rows: list[Figures], baseline: Figures) -> bool:
    print(
        f"\n{'endpoint':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7}  cost vs health"
    )
    for row in rows:
        cost = baseline.rps / row.rps if row.rps else float("inf")
        print(
            f"{row.name:34} {row.rps:9.0f} {row.p50_ms:8.2f} {row.p99_ms:8.2f} {row.failures:7d}"
            f"  {cost:5.2f}x throughput, {row.p50_ms / baseline.p50_ms:5.2f}x p50"
        )
    submit = next(r for r in rows if r.name.startswith("POST"))
    cost = baseline.rps / submit.rps
    ok = cost <= 3 and all(r.failures == 0 for r in rows)
    print(
        f"\ntarget: submit <= 3x health, no failures -> {'met' if ok else 'NOT met'} ({cost:.2f}x)"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a running server; by default one is started here")
    parser.add_argument("--seconds", type=int, default=20, help="load per endpoint, in all")
    parser.add_argument("--rounds", type=int, default=4, help="rounds the seconds are split into")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn workers of the started server"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    with contextlib.nullcontext(args.url) if args.url else server(args.workers) as url:
        cookie, session_id, position = practice_setup(url)
        signed_cookie, signed_session, signed_position = practice_setup(url, account=True)
        answer = json.dumps({"position": position, "answer": "A"})
        session_url = f"{url}/api/v1/sessions/{session_id}"
        signed_url = f"{url}/api/v1/sessions/{signed_session}/questions/{signed_position}"
        endpoints = [
            ("GET /healthz (baseline)", f"{url}/healthz", {}),
            ("GET practice question (API)", f"{session_url}/questions/{position}", {}),
            ("GET the same, signed in", signed_url, {"cookie": signed_cookie}),
            ("GET practice page (HTML)", f"{url}/practice/{session_id}/{position}", {}),
            ("POST answer (API)", f"{session_url}/answers", {"method": "POST", "body": answer}),
        ]
        per_round = max(1, args.seconds // args.rounds)
        load = {"seconds": per_round, "connections": args.connections, "cookie": cookie}
        results: dict[str, list[Figures]] = {name: [] for name, _, _ in endpoints}
        for _ in range(args.rounds):
            for name, target, extra in endpoints:
                results[name].append(run_wrk(name, target, **(load | extra)))  # type: ignore[arg-type]
        rows = [Figures.combined(rounds) for rounds in results.values()]
    print(
        f"wrk, {args.connections} connections, {args.rounds} rounds of {per_round} s per endpoint,"
        f" {os.cpu_count()} CPUs; p50 is the median round's, p99 the worst round's"
    )
    sys.exit(0 if report(rows, rows[0]) else 1)


if __name__ == "__main__":
    main()
