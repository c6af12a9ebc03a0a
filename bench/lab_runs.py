"""Lab benchmark: the baseline and the solution trained through the app and its runner, beside
the same training loop in a plain Python process, measured in the same run.

Starts `torchquiz serve` here (or uses --url), starts each run with POST /api/v1/lab/runs and
follows its server-sent events: the time to the first epoch on screen and to the end. Each
round uses new seeds, so no run is served from the cache. The plain loop is `train()` in a
warm process (torch imported, one optimizer built, one thread, as the runner's workers are).
Targets on a 2-core machine: both runs together at most 10 s; the first epoch within 1 s;
the runner and streaming at most 15% over the plain loop.

    python bench/lab_runs.py [--url http://127.0.0.1:8000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time

import httpx
from http_load import server

from app.lab.config import BASELINE, SOLUTION
from app.training.config import LabConfig

PLAIN = """
import json, sys, time
import torch
from app.training.config import LabConfig
from app.training.dataset import make_data
from app.training.loop import train
torch.set_num_threads(1)
data = make_data()
train(LabConfig(epochs=1), data)  # warm, as the runner's workers are
for line in sys.stdin:
    config = LabConfig.model_validate_json(line)
    start = time.perf_counter()
    train(config, data)
    print(json.dumps(time.perf_counter() - start), flush=True)
"""


def through_the_app(client: httpx.Client, config: LabConfig) -> tuple[float, float]:
    """(seconds to the first epoch on screen, seconds to the end) from the POST."""
    start = time.perf_counter()
    body = {"config": config.model_dump(mode="json"), "task": False}
    run = client.post("/api/v1/lab/runs", json=body).raise_for_status().json()
    first = None
    with client.stream("GET", f"/api/v1/lab/runs/{run['id']}/events", timeout=120) as events:
        for line in events.iter_lines():
            if not line.startswith("data: {"):
                continue
            data = json.loads(line.removeprefix("data: "))
            if first is None and data["epochs"]:
                first = time.perf_counter() - start
            if data["status"] not in ("queued", "running"):
                if data["status"] != "done":
                    raise SystemExit(f"the run ended {data['status']}: {data['message']}")
                return first or 0.0, time.perf_counter() - start
    raise SystemExit("the event stream ended before the run")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a running server; default: start one")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    plain = subprocess.Popen(
        [sys.executable, "-c", PLAIN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert plain.stdin and plain.stdout
    rows: dict[str, dict[str, list[float]]] = {}
    with (
        contextlib.nullcontext(args.url) if args.url else server(1) as url,
        httpx.Client(base_url=url) as client,
    ):
        client.get("/").raise_for_status()  # a learner cookie
        for round_ in range(args.rounds):
            for name, preset in (("baseline", BASELINE), ("solution", SOLUTION)):
                config = preset.model_copy(update={"seed": 1000 + round_})
                first, total = through_the_app(client, config)
                plain.stdin.write(config.model_dump_json() + "\n")
                plain.stdin.flush()
                direct = json.loads(plain.stdout.readline())
                row = rows.setdefault(name, {"first": [], "app": [], "plain": []})
                row["first"].append(first)
                row["app"].append(total)
                row["plain"].append(direct)
    plain.stdin.close()
    plain.wait()
    sys.exit(0 if report(rows, args.rounds) else 1)


def report(rows: dict[str, dict[str, list[float]]], rounds: int) -> bool:
    med = {name: {k: statistics.median(v) for k, v in row.items()} for name, row in rows.items()}
    print(f"medians of {rounds} rounds, new seeds each round (no cache)\n")
    heads = ("first epoch s", "app+runner s", "plain loop s", "overhead")
    print(f"{'run':10} {heads[0]:>14} {heads[1]:>13} {heads[2]:>13} {heads[3]:>9}")
    for name, m in med.items():
        overhead = m["app"] / m["plain"] - 1
        print(f"{name:10} {m['first']:14.3f} {m['app']:13.3f} {m['plain']:13.3f} {overhead:9.1%}")
    both = sum(m["app"] for m in med.values())
    worst_first = max(m["first"] for m in med.values())
    overhead = sum(m["app"] for m in med.values()) / sum(m["plain"] for m in med.values()) - 1
    checks = {
        f"both runs together <= 10 s ({both:.2f} s)": both <= 10,
        f"first epoch on screen <= 1 s ({worst_first:.3f} s)": worst_first <= 1,
        f"runner and streaming overhead <= 15% ({overhead:.1%})": overhead <= 0.15,
    }
    print()
    for name, ok in checks.items():
        print(f"target: {name:55} {'met' if ok else 'NOT met'}")
    return all(checks.values())


if __name__ == "__main__":
    main()
