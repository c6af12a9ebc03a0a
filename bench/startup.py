"""Start-up benchmark: from `torchquiz serve` to the first page, beside a bare import of the app.

Starts `torchquiz serve` as a real subprocess on a free port with a fresh instance folder (its
own SQLite file) and times the first 200 on `/`, then the first 200 on `/readyz` (the runner
warm and the parameterised questions computed). Then it stops the server and starts it again
on the same folder: a second start, with the database migrated and the variants stored. The
baseline, measured in the same run, is a bare `python -c "import app.main"`: what the app costs
before it does anything. Target on a 2-core machine: the first page within 3 s of the start.

    python bench/startup.py [--starts 1] [--imports 3] [--runner-url off]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 3.0


@dataclass
class Start:
    name: str
    first_page: float
    ready: float | None  # None: /readyz never answered 200 (or the app has none)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def import_seconds() -> float:
    """A bare interpreter importing the app module: the ratio baseline."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import app.main"], cwd=ROOT, check=True)
    return time.perf_counter() - start


def first_200(client: httpx.Client, path: str, start: float, deadline: float) -> float | None:
    """Seconds from `start` to the first 200 on `path`; None on a 404 or past the deadline."""
    while time.perf_counter() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            status = client.get(path).status_code
            if status == 200:
                return time.perf_counter() - start
            if status == 404:
                return None
        time.sleep(0.02)
    return None


def serve_once(name: str, instance: Path, env: dict[str, str], timeout: float) -> Start:
    """One `torchquiz serve`, stopped again once it is ready (or past the timeout)."""
    port = free_port()
    log = instance.parent / f"{name.replace(' ', '-')}.log"
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    start = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    deadline = start + timeout
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            page = first_200(client, "/", start, deadline)
            if page is None:
                raise SystemExit(f"{name}: no page within {timeout:g} s; see {log}")
            ready = first_200(client, "/readyz", start, deadline)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return Start(name, page, ready)


def report(starts: list[Start], baseline: float) -> bool:
    print(f"\n{'figure':40} {'seconds':>8}  vs import app.main")
    bare = 'python -c "import app.main" (baseline)'
    print(f"{bare:40} {baseline:8.2f}  {1:6.1f}x")
    for start in starts:
        for label, seconds in (("first page", start.first_page), ("ready (/readyz)", start.ready)):
            name = f"{start.name}: {label}"
            if seconds is None:
                print(f"{name:40} {'n/a':>8}  (no /readyz 200 within the timeout)")
            else:
                print(f"{name:40} {seconds:8.2f}  {seconds / baseline:6.1f}x")
    worst = max(s.first_page for s in starts)
    ok = worst <= TARGET_SECONDS
    print(
        f"\ntarget: first page <= {TARGET_SECONDS:g} s after the start -> "
        f"{'met' if ok else 'NOT met'} (worst {worst:.2f} s)"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--starts", type=int, default=1, help="rounds of (empty, second) starts")
    parser.add_argument("--imports", type=int, default=3, help="bare imports; the median counts")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per start")
    parser.add_argument(
        "--runner-url", default=None, help="TORCHQUIZ_RUNNER_URL for the server (off: no runner)"
    )
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORCHQUIZ_")}
    if args.runner_url is not None:
        env["TORCHQUIZ_RUNNER_URL"] = args.runner_url
    baseline = statistics.median(import_seconds() for _ in range(args.imports))
    starts: list[Start] = []
    for _ in range(args.starts):
        with tempfile.TemporaryDirectory(prefix="torchquiz-startup-") as folder:
            instance = Path(folder) / "instance"
            env["TORCHQUIZ_INSTANCE_DIR"] = str(instance)
            starts.append(serve_once("empty instance", instance, env, args.timeout))
            starts.append(serve_once("second start", instance, env, args.timeout))
    print(
        f"torchquiz serve on a fresh SQLite instance, then again on the same one; "
        f"{args.starts} round(s); baseline: median of {args.imports} bare imports; "
        f"{os.cpu_count()} CPUs"
    )
    sys.exit(0 if report(starts, baseline) else 1)


if __name__ == "__main__":
    main()
