"""Fairness benchmark: a bystander learner's `print(1)` while hostile clients load the server,
beside the same bystander with no load, measured in the same run.

Starts `torchquiz serve` on a fresh SQLite file (or uses --url) with the app's own limits as
they are (nothing lifted), trusting 127.0.0.1 as a proxy so that each simulated client comes
from its own address (X-Forwarded-For). Through the app's real HTTP API:

- bystanders: learners with a cookie, each from its own address, run `print(1)` through
  POST /api/v1/runs every --period seconds (within a learner's rate limit);
- hostile load, each client without a cookie (a new learner every request), from addresses of
  its own, retrying --refused-pause seconds (0.2) after a refusal:
  - lab code that sleeps until the wall-clock limit ends it (POST /api/v1/lab/runs, advanced
    mode), from --lab-clients addresses, one new run each every 2 s;
  - heavy but allowed Shape playground requests (a 2-layer bidirectional GRU over a
    32 x 4096 input: 1.6 GFLOP and half a million recurrent steps, just within the bounds),
    from --playground-clients addresses, two connections each;
  - a snippet flood (a small shape check), from --flood-clients addresses, three connections
    each.

The bystanders' p50 and p99 under load are printed beside the same figures with no load, as
ratios. Target: the loaded p99 at most 3x the unloaded p99.

    python bench/fairness.py [--url http://127.0.0.1:8000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from http_load import server

BYSTANDER = {"code": "print(1)"}
FLOOD = {
    "code": "import torch\nrnn = torch.nn.GRU(8, 16, bidirectional=True, batch_first=True)\n"
    "out, h_n = rnn(torch.randn(4, 7, 8))\nprint(out.shape, h_n.shape)\n"
}
HEAVY_PLAYGROUND = {"cell": "GRU", "input_size": 1, "hidden_size": 16, "num_layers": 2,
                    "bidirectional": True, "input_shape": [32, 4096, 1]}  # fmt: skip
SLEEPING_LAB_CODE = """import time
from torch import nn

time.sleep(58)  # past the lab's wall-clock limit: it holds its place until it is stopped
# {tag}


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(50, 8, batch_first=True)
        self.classify = nn.Linear(8, 5)

    def forward(self, words):
        return self.classify(self.rnn(words)[0][:, -1])
"""
# Each simulated client's own address, given through the trusted proxy's header.
ADDRESSES = (f"10.{n // 250}.{n % 250}.1" for n in itertools.count(1))


@dataclass
class Sample:
    latencies_ms: list[float] = field(default_factory=list)
    failures: int = 0
    detail: list = field(default_factory=list)

    def p(self, q: float) -> float:
        """Nearest-rank percentile."""
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def client(url: str, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, headers={"X-Forwarded-For": address}, timeout=120)


async def bystander(url: str, period: float, offset: float, until: float, into: Sample) -> None:
    """One learner (its cookie kept), one `print(1)` every `period` seconds."""
    async with client(url, next(ADDRESSES)) as http:
        (await http.get("/")).raise_for_status()
        await asyncio.sleep(offset)
        while (started := time.monotonic()) < until:
            response = await http.post("/api/v1/runs", json=BYSTANDER)
            elapsed = (time.monotonic() - started) * 1000
            if response.status_code == 200 and response.json()["stdout"] == "1\n":
                into.latencies_ms.append(elapsed); into.detail.append((round(elapsed), round(response.json()["elapsed_ms"])))
            else:
                into.failures += 1
                print(f"bystander: {response.status_code} {response.text[:200]}", file=sys.stderr)
            await asyncio.sleep(max(0.0, period - (time.monotonic() - started)))


async def measure(url: str, seconds: float, bystanders: int, period: float) -> Sample:
    sample, until = Sample(), time.monotonic() + seconds
    offsets = [period * i / bystanders for i in range(bystanders)]
    await asyncio.gather(*(bystander(url, period, o, until, sample) for o in offsets))
    return sample


Request = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


@dataclass
class Seen:
    """A hostile kind's answers: how many of each status, and one refusal's message each."""

    statuses: Counter[str] = field(default_factory=Counter)
    messages: dict[str, str] = field(default_factory=dict)

    def add(self, status: str, message: str) -> None:
        self.statuses[status] += 1
        self.messages.setdefault(status, message)


async def hostile(
    url: str, address: str, send: Request, pauses: tuple[float, float], seen: Seen
) -> None:
    """A client without a cookie: `send` again and again, `pauses` seconds apart (after an
    answer, after a refusal)."""
    async with client(url, address) as http:
        while True:
            try:
                response = await send(http)
                status, refused = str(response.status_code), response.status_code >= 300
                seen.add(status, response.json().get("message", "") if refused else "")
            except httpx.HTTPError as exc:
                status, refused = type(exc).__name__, True
                seen.add(status, str(exc))
            http.cookies.clear()  # whatever cookie it was given: never sent back
            await asyncio.sleep(pauses[refused])


def lab_run(http: httpx.AsyncClient) -> Awaitable[httpx.Response]:
    code = SLEEPING_LAB_CODE.format(tag=time.monotonic_ns())  # never served from the cache
    return http.post("/api/v1/lab/runs", json={"code": code, "task": False})


def playground(http: httpx.AsyncClient) -> Awaitable[httpx.Response]:
    return http.post("/api/v1/playground", json=HEAVY_PLAYGROUND)


def snippet(http: httpx.AsyncClient) -> Awaitable[httpx.Response]:
    return http.post("/api/v1/runs", json=FLOOD)


def start_load(
    url: str, args: argparse.Namespace
) -> tuple[list[asyncio.Task[None]], dict[str, Seen]]:
    seen = {"lab code": Seen(), "playground": Seen(), "snippet flood": Seen()}
    plan = [
        ("lab code", lab_run, args.lab_clients, 1, 2.0),
        ("playground", playground, args.playground_clients, 2, 0.0),
        ("snippet flood", snippet, args.flood_clients, 3, 0.0),
    ]
    tasks = []
    for name, send, addresses, connections, pause in plan:
        for _ in range(addresses):
            address = next(ADDRESSES)
            for _ in range(connections):
                work = hostile(url, address, send, (pause, args.refused_pause), seen[name])
                tasks.append(asyncio.create_task(work))
    return tasks, seen


async def scenario(url: str, args: argparse.Namespace) -> tuple[Sample, Sample, dict[str, Seen]]:
    await measure(url, 2 * args.period, args.bystanders, args.period)  # warm: not counted
    quiet = await measure(url, args.seconds, args.bystanders, args.period)
    tasks, seen = start_load(url, args)
    await asyncio.sleep(args.ramp)  # the lab lane and the queues fill up
    loaded = await measure(url, args.seconds, args.bystanders, args.period)
    for task in tasks:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*tasks, return_exceptions=True)
    return quiet, loaded, seen


def report(quiet: Sample, loaded: Sample, seen: dict[str, Seen], seconds: float) -> bool:
    heads = f"{'runs':>5} {'failed':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    print(f"\n{'bystander print(1)':26} {heads}")
    for name, s in (("no load (baseline)", quiet), ("hostile load", loaded)):
        row = f"{name:26} {len(s.latencies_ms):5d} {s.failures:7d}"
        print(f"{row} {s.p(0.5):8.1f} {s.p(0.99):8.1f} {s.p(1):8.1f}")
    [print(sorted(s.detail)[-8:], file=sys.stderr) for s in (quiet, loaded)]
    p50_ratio, p99_ratio = loaded.p(0.5) / quiet.p(0.5), loaded.p(0.99) / quiet.p(0.99)
    print(f"{'loaded / baseline':26} {'':5} {'':7} {p50_ratio:7.2f}x {p99_ratio:7.2f}x")
    print(f"\nhostile requests answered while the load ran ({seconds:g} s measured), by status:")
    for name, kind in seen.items():
        print(f"  {name:14} " + ", ".join(f"{k}: {v}" for k, v in sorted(kind.statuses.items())))
        for status, message in sorted(kind.messages.items()):
            if message:
                print(f"  {'':14}   {status}, for example: {message[:150]}")
    checks = {
        f"bystander p99 under load <= 3x unloaded ({p99_ratio:.2f}x)": p99_ratio <= 3,
        "no bystander run failed": quiet.failures == loaded.failures == 0,
    }
    print()
    for name, ok in checks.items():
        print(f"target: {name:50} {'met' if ok else 'NOT met'}")
    return all(checks.values())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url", help="a running server that trusts 127.0.0.1 as a proxy; default: start one"
    )
    parser.add_argument("--seconds", type=float, default=60, help="each phase's measurement")
    parser.add_argument("--ramp", type=float, default=5, help="load before measuring it")
    parser.add_argument("--bystanders", type=int, default=8)
    parser.add_argument(
        "--period", type=float, default=2.1, help="seconds between a bystander's runs"
    )
    parser.add_argument("--lab-clients", type=int, default=3)
    parser.add_argument("--playground-clients", type=int, default=3)
    parser.add_argument("--flood-clients", type=int, default=4)
    parser.add_argument(
        "--refused-pause", type=float, default=0.2, help="a hostile client's wait after a 429"
    )
    args = parser.parse_args()
    os.environ["TORCHQUIZ_TRUSTED_PROXIES"] = "127.0.0.1"
    with contextlib.nullcontext(args.url) if args.url else server(1) as url:
        quiet, loaded, seen = asyncio.run(scenario(url, args))
    print(
        f"{args.bystanders} bystanders, one print(1) each every {args.period:g} s, "
        f"{args.seconds:g} s per phase; {os.cpu_count()} CPUs; p99 is nearest-rank"
    )
    sys.exit(0 if report(quiet, loaded, seen, args.seconds) else 1)


if __name__ == "__main__":
    main()
