"""Learners' own lab models (kind lab_code, up to a minute each) run in a lane of their own:
they never take a place that snippets, checks and code tests need, and they wait in their own
short queue, answered with 429 beyond it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.runner.child import RUN_NICENESS
from app.runner.errors import QueueFullError
from app.runner.lanes import BUSY_RUNS, Lane, WithdrawnError
from app.runner.limits import Limits
from app.runner.pool import PoolConfig, ZygotePool
from app.runner.protocol import RunResult
from app.runner.settings import RunnerSettings
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


def test_a_place_withdrawn_from_the_queue_frees_it_at_once_for_the_next_requester() -> None:
    async def scenario() -> list[Any]:
        lane = Lane(parallel=1, depth=1, typical_ms=1)
        running, queued = lane.join("a"), lane.join("b")
        seen: list[Any] = [lane.full("c")]
        seen.append(lane.withdraw(queued))
        seen += [lane.full("c"), lane.waiting]
        third = lane.join("c")  # the place in the queue that "b" left
        with pytest.raises(WithdrawnError):
            async with lane.turn("b", queued):
                seen.append("b ran")
        async with lane.turn("a", running):
            seen.append("a ran")
        async with lane.turn("c", third):
            seen.append("c ran")
        return [*seen, lane.active, lane.waiting, lane.withdraw(third)]

    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        seen = thread.submit(asyncio.run, scenario()).result()
    assert seen == [True, True, False, 0, "a ran", "c ran", 0, 0, False]


def test_a_lane_without_places_refuses_every_run_whatever_its_depth() -> None:
    """TORCHQUIZ_RUNNER_LAB_CODE_PARALLEL=0: no learner's lab model is trained, none waits."""
    config = RunnerSettings(lab_code_parallel=0).pool_config()
    assert Lane(
        parallel=config.lab_code_parallel, depth=config.lab_code_queue_depth, typical_ms=1
    ).full()


def test_a_queued_lab_code_run_cancelled_leaves_the_queue_at_once_for_a_third_requester() -> None:
    """The lab code lane's one place is taken by a sleeping run and its one waiting place by a
    second run: a third is refused. The second is cancelled: its run ends "cancelled" at once,
    not when its turn would have come, and the third requester gets its place."""

    async def scenario() -> tuple[RunResult, float, RunResult, RunResult]:
        # Its uids apart from the session runner's.
        config = PoolConfig(mode=MODE, spares=0, parallel=1, lab_code_queue_depth=1, uid_base=63100)
        pool, long = ZygotePool(config), Limits(wall_seconds=30, cpu_seconds=2)
        await pool.start()
        try:
            sleeping = pool.queue(SLEEPING_LAB_RUN, long, handle="s", kind="lab_code", who="a")
            queued = pool.queue(SLEEPING_LAB_RUN, long, handle="q", kind="lab_code", who="b")
            with pytest.raises(QueueFullError):
                pool.queue("print(3)", long, kind="lab_code", who="c")
            asked = time.monotonic()
            assert pool.cancel("q")
            cancelled = await asyncio.wait_for(queued, 5)
            took = time.monotonic() - asked
            third = pool.queue("print(3)", long, kind="lab_code", who="c")
            pool.cancel("s")
            return cancelled, took, await sleeping, await asyncio.wait_for(third, 30)
        finally:
            await pool.close()

    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        cancelled, took, slept, third = thread.submit(asyncio.run, scenario()).result()
    assert cancelled.limit is not None and cancelled.limit.name == "cancelled", cancelled
    assert took < 0.2, f"the queued run left the queue after {took:.2f} s"
    assert slept.limit is not None and slept.limit.name == "cancelled", slept
    assert third.ok and third.stdout == "3\n", third


def test_a_streamed_run_cancelled_in_the_queue_ends_cancelled_at_once(embedded: Runner) -> None:
    """Through the runner's HTTP routes: a streamed run waits behind a sleeping one (its answer
    is 200 already: it holds its place), is cancelled by its handle, and its stream ends with
    the "cancelled" result at once; the one that then gets a place says when it starts."""
    sleeper, queued = f"s-{uuid.uuid4().hex}", f"q-{uuid.uuid4().hex}"
    with embedded.client() as client, concurrent.futures.ThreadPoolExecutor(1) as thread:
        sleeping = thread.submit(client.post, "/v1/runs/stream", json=lab_run(handle=sleeper))
        until_lane(embedded, running=1, queued=0)
        with client.stream("POST", "/v1/runs/stream", json=lab_run(handle=queued)) as stream:
            assert stream.status_code == 200
            until_lane(embedded, running=1, queued=1)
            asked = time.monotonic()
            assert client.post("/v1/runs/cancel", json={"handle": queued}).json()["cancelled"]
            lines = [json.loads(line) for line in stream.iter_lines() if line]
            took = time.monotonic() - asked
        client.post("/v1/runs/cancel", json={"handle": sleeper})
        slept = [json.loads(line) for line in sleeping.result().text.splitlines()]
    assert lines == [{"result": lines[-1]["result"]}], "it never started"
    assert lines[-1]["result"]["limit"]["name"] == "cancelled"
    assert took < 0.5, f"the stream ended {took:.2f} s after the cancel"
    assert slept[0] == {"started": True} and slept[-1]["result"]["limit"]["name"] == "cancelled"


def test_a_streamed_run_whose_caller_goes_away_leaves_the_queue(embedded: Runner) -> None:
    sleeper = f"s-{uuid.uuid4().hex}"
    with embedded.client() as client, concurrent.futures.ThreadPoolExecutor(1) as thread:
        sleeping = thread.submit(client.post, "/v1/runs/stream", json=lab_run(handle=sleeper))
        until_lane(embedded, running=1, queued=0)
        with (
            embedded.client() as caller,
            caller.stream("POST", "/v1/runs/stream", json=lab_run()) as stream,
        ):
            assert stream.status_code == 200
            until_lane(embedded, running=1, queued=1)
        until_lane(embedded, running=1, queued=0)  # gone with its caller
        client.post("/v1/runs/cancel", json={"handle": sleeper})
        sleeping.result()
    until_lane(embedded, running=0, queued=0)


def until_lane(runner: Runner, *, running: int, queued: int, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while (lane := lab_lane(runner))["running"] != running or lane["queued"] != queued:
        assert time.monotonic() < deadline, f"the lab code lane stayed {lane}"
        time.sleep(0.02)


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
