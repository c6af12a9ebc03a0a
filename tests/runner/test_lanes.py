"""Learners' own lab models (kind lab_code, up to a minute each) run in a lane of their own:
they never take a place that snippets, checks and code tests need, and they wait in their own
short queue, answered with 429 beyond it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

from app.runner.child import RUN_NICENESS
from app.runner.lanes import BUSY_RUNS, Lane
from app.runner.limits import Limits
from app.runner.pool import PoolConfig, ZygotePool
from app.runner.protocol import RunResult
from tests.runner.conftest import MODE, TEST_LIMITS, Runner

# Sleeps until cancelled (the test's clean-up), well within lab_code's own limits.
SLEEPING_LAB_RUN = "import time\ntime.sleep(50)"
LAB_LIMITS = {**TEST_LIMITS, "cpu_seconds": 5, "wall_seconds": 55}


def lab_run(kind: str = "lab_code", handle: str | None = None) -> dict[str, Any]:
    return {"code": SLEEPING_LAB_RUN, "kind": kind, "limits": LAB_LIMITS, "handle": handle}


def lab_lane(runner: Runner) -> dict[str, int]:
    with runner.client() as client:
        return client.get("/healthz").json()["lanes"]["lab_code"]  # type: ignore[no-any-return]


@contextlib.contextmanager
def lab_lane_filled(runner: Runner) -> Iterator[list[concurrent.futures.Future[httpx.Response]]]:
    """Sleeping lab runs in every running and waiting place of the lab_code lane; each is
    cancelled afterwards."""
    lane = lab_lane(runner)
    handles = [f"lane-{uuid.uuid4().hex}" for _ in range(lane["parallel"] + lane["queue_depth"])]

    def post(handle: str) -> httpx.Response:
        with runner.client() as client:
            return client.post("/v1/runs", json=lab_run(handle=handle))

    with concurrent.futures.ThreadPoolExecutor(len(handles)) as threads:
        runs = [threads.submit(post, handle) for handle in handles]
        try:
            deadline = time.monotonic() + 30
            while (lane := lab_lane(runner))["queued"] < lane["queue_depth"]:
                assert time.monotonic() < deadline, f"the lab lane never filled up: {lane}"
                time.sleep(0.05)
            yield runs
        finally:
            with runner.client() as client:
                for handle in handles:
                    client.post("/v1/runs/cancel", json={"handle": handle})
    assert all(run.result().status_code == 200 for run in runs)


def test_snippets_run_while_sleeping_lab_code_fills_its_whole_lane(runner: Runner) -> None:
    """More snippets at once than the runner keeps processes ready for: each waits only for
    the one before it, not for the lab run's deadline."""
    codes = [f"print({i})" for i in range(8)]
    with lab_lane_filled(runner) as lab_runs, concurrent.futures.ThreadPoolExecutor(8) as pool:
        snippets = list(pool.map(runner.run, codes))
        still_sleeping = [not run.done() for run in lab_runs]
        lane = lab_lane(runner)
    assert [(s.ok, s.stdout) for s in snippets] == [(True, f"{i}\n") for i in range(8)]
    assert all(still_sleeping), "the snippets waited for a lab run to end"
    assert lane["running"] == lane["parallel"], "the lab runs kept their places meanwhile"


def test_runs_yield_the_cpu_to_the_server_that_hands_them_out(runner: Runner) -> None:
    result = runner.run("import os\nprint(os.nice(0))")
    assert result.ok and int(result.stdout) >= RUN_NICENESS > 0, result


def test_a_full_lab_code_queue_answers_429_and_snippets_still_run(runner: Runner) -> None:
    with lab_lane_filled(runner), runner.client() as client:
        streamed = client.post("/v1/runs/stream", json=lab_run())
        answered = client.post("/v1/runs", json=lab_run())
        snippet = runner.run("print(2)")
    for refused in (streamed, answered):
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "queue_full"
        assert int(refused.headers["retry-after"]) >= 1
    assert snippet.ok and snippet.stdout == "2\n"


# --- taking turns within a lane ---


def turns(arrivals: list[str], *, parallel: int, cancel: str | None = None) -> list[str]:
    """The order in which runs (named requester + number, arriving in this order while the
    lane is busy) get their places."""

    async def scenario() -> list[str]:
        lane, order, gate = Lane(parallel=parallel, depth=100, typical_ms=1), [], asyncio.Event()

        async def run(name: str) -> None:
            async with lane.turn(name.rstrip("0123456789")):
                order.append(name)
                await gate.wait()
                await asyncio.sleep(0)  # one at a time: the next gets its place in between

        tasks = {name: asyncio.create_task(run(name)) for name in arrivals}
        await asyncio.sleep(0)  # each started, in arrival order: the first ones run
        if cancel:
            tasks[cancel].cancel()
        gate.set()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        assert lane.active == lane.waiting == 0
        return order

    # A thread of its own: the browser tests' Playwright keeps an event loop in the main one.
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, scenario()).result()


def test_a_free_place_goes_to_a_newcomer_before_a_floods_next_run() -> None:
    assert turns(["a1", "a2", "a3", "a4", "b1"], parallel=1) == ["a1", "b1", "a2", "a3", "a4"]
    assert turns(["a1", "a2", "a3", "b1"], parallel=2) == ["a1", "a2", "b1", "a3"]


def test_requesters_with_runs_waiting_take_turns() -> None:
    order = turns(["a1", "a2", "a3", "b1", "b2", "b3", "c1"], parallel=1)
    assert order == ["a1", "b1", "c1", "a2", "b2", "a3", "b3"]


def test_a_run_cancelled_while_it_waits_gives_up_its_turn() -> None:
    assert turns(["a1", "b1", "c1"], parallel=1, cancel="b1") == ["a1", "c1"]


def test_a_snippet_never_waits_for_a_long_runs_deadline_in_the_zygote() -> None:
    """With no processes made ahead, the zygote makes one for a waiting snippet and uses it at
    once, not when the only other run (lab code, sleeping) reaches its deadline."""

    async def scenario() -> tuple[RunResult, bool]:
        pool = ZygotePool(PoolConfig(mode=MODE, spares=0, parallel=1))
        await pool.start()
        try:
            long = Limits(wall_seconds=30, cpu_seconds=2)
            sleeping = asyncio.create_task(
                pool.run("import time\ntime.sleep(30)", long, handle="sleeper", kind="lab_code")
            )
            await asyncio.sleep(1)  # it is running (if not, the test proves nothing: no harm)
            snippet = await pool.run("print(1)", Limits(wall_seconds=5, cpu_seconds=2))
            still_sleeping = not sleeping.done()
            pool.cancel("sleeper")
            await sleeping
            return snippet, still_sleeping
        finally:
            await pool.close()

    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        snippet, still_sleeping = thread.submit(asyncio.run, scenario()).result()
    assert snippet.ok and snippet.stdout == "1\n", snippet
    assert still_sleeping, "the snippet waited for the lab run's deadline"


def test_a_busy_requester_leaves_the_last_place_to_everyone_else() -> None:
    async def scenario() -> tuple[list[str], list[str], list[str]]:
        lane, order, gate = Lane(parallel=2, depth=100, typical_ms=1), [], asyncio.Event()
        for _ in range(BUSY_RUNS + 1):  # a flood, so far one run at a time
            async with lane.turn("flood"):
                pass

        async def run(who: str, name: str) -> None:
            async with lane.turn(who):
                order.append(name)
                await gate.wait()

        flood = [asyncio.create_task(run("flood", f"flood {i}")) for i in range(3)]
        await asyncio.sleep(0)
        while_flooded = list(order)
        learner = asyncio.create_task(run("learner", "learner"))
        await asyncio.sleep(0)
        with_learner = list(order)
        gate.set()
        await asyncio.gather(*flood, learner)
        return while_flooded, with_learner, order

    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        while_flooded, with_learner, order = thread.submit(asyncio.run, scenario()).result()
    assert while_flooded == ["flood 0"], "the last place stays free"
    assert with_learner == ["flood 0", "learner"], "and a learner's run takes it at once"
    assert sorted(order) == ["flood 0", "flood 1", "flood 2", "learner"]
