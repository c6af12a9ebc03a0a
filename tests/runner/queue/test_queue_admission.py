"""Admission to the Redis job queue, without runners: what a replica answers when no runner is
alive or Redis is down (503, never a 500 or a wait), and that the limits hold when many
replicas' requests arrive at once (one atomic step each). A runner that says it is ready but
takes no job stands in for the runners here: its liveness key, as a runner writes it."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import redis

from app.runner import queue
from app.runner.client import RunnerUnavailableError, RunnerWarmingError, TooManyRunsError
from app.runner.protocol import RunRequest
from app.runner.queue_client import QueueLimits, QueueRunner
from tests.conftest import REDIS_URL
from tests.runner.queue.conftest import free_port, in_thread


def say_alive(prefix: str, state: str = "ready", name: str = "idle-0-x") -> None:
    """A runner's liveness, as app.runner.queue_worker writes it (no process behind it)."""
    keys = queue.QueueKeys(prefix)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        said = {"state": state, "mode": "privileged", "reason": None, "torch": "2"}
        client.set(keys.alive(name), json.dumps(said), ex=60)
        client.sadd(keys.runners, name)
    finally:
        client.close()


def refused(outcomes: list[Any]) -> list[TooManyRunsError]:
    return [o for o in outcomes if isinstance(o, TooManyRunsError)]


def test_a_run_with_no_runner_alive_is_answered_503_with_retry_after(redis_prefix: str) -> None:
    async def scenario(client: QueueRunner) -> BaseException:
        with pytest.raises(RunnerUnavailableError) as raised:
            await client.run(RunRequest(code="print(1)"))
        return raised.value

    error = in_thread(scenario, redis_prefix)
    assert error.status == 503
    assert "no code runner is connected" in error.message
    assert error.headers["Retry-After"] == "5"


def test_a_run_while_the_only_runner_warms_up_is_answered_runner_warming(
    redis_prefix: str,
) -> None:
    say_alive(redis_prefix, state="warming")

    async def scenario(client: QueueRunner) -> BaseException:
        with pytest.raises(RunnerWarmingError) as raised:
            await client.run(RunRequest(code="print(1)"))
        return raised.value

    error = in_thread(scenario, redis_prefix)
    assert (error.status, error.code) == (503, "runner_warming")
    assert "Retry-After" in error.headers


def test_a_run_with_redis_down_is_answered_503_naming_redis_at_once(redis_prefix: str) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there

    async def scenario(client: QueueRunner) -> tuple[BaseException, float, str]:
        started = time.monotonic()
        with pytest.raises(RunnerUnavailableError) as raised:
            await client.run(RunRequest(code="print(1)"))
        elapsed = time.monotonic() - started
        await asyncio.sleep(1.5)  # the monitor has tried by now
        return raised.value, elapsed, client.state.state

    error, elapsed, state = in_thread(scenario, redis_prefix, url=closed)
    assert (error.status, error.code) == (503, "runner_unavailable")
    assert "the job queue (Redis) cannot be reached" in error.message
    assert error.headers["Retry-After"] == "5"
    assert elapsed < 5
    assert state == "unreachable"


def test_many_runs_at_once_never_pass_the_queue_depth(redis_prefix: str) -> None:
    say_alive(redis_prefix)
    limits = QueueLimits(short_depth=7, learner_short=100, address_short=100)

    async def scenario(client: QueueRunner) -> list[Any]:
        # Several replicas' clients, each with connections of its own, at once.
        others = [QueueRunner(REDIS_URL, prefix=redis_prefix, limits=limits) for _ in range(3)]
        try:
            runs = [
                c.open_streamed(RunRequest(code="print(1)", learner=f"l{i}"))
                for i, c in enumerate([client, *others] * 25)
            ]
            return await asyncio.gather(*runs, return_exceptions=True)
        finally:
            for other in others:
                await other.aclose()

    outcomes = in_thread(scenario, redis_prefix, limits=limits)
    admitted = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(admitted) == 7
    assert len(refused(outcomes)) == 100 - 7
    first = refused(outcomes)[0]
    assert (first.status, first.field) == (429, None)
    assert first.headers["Retry-After"] == "1"
    assert "queue is full (7 runs)" in first.message


def test_a_learner_past_their_runs_in_flight_is_refused_naming_the_learner(
    redis_prefix: str,
) -> None:
    say_alive(redis_prefix)
    limits = QueueLimits(learner_short=3, learner_long=1)

    async def scenario(client: QueueRunner) -> tuple[list[Any], list[Any]]:
        runs = [client.open_streamed(RunRequest(code="1", learner="ada")) for _ in range(20)]
        short = await asyncio.gather(*runs, return_exceptions=True)
        training = [
            client.open_streamed(RunRequest(code="1", kind="lab_code", learner="ada"))
            for _ in range(5)
        ]
        return short, await asyncio.gather(*training, return_exceptions=True)

    short, training = in_thread(scenario, redis_prefix, limits=limits)
    assert len(refused(short)) == 17
    assert {(e.status, e.field) for e in refused(short)} == {(429, "learner")}
    assert "you have 3 runs going" in refused(short)[0].message
    # Training has its own lane: the three snippets took none of its places.
    assert len(refused(training)) == 4
    assert refused(training)[0].headers["Retry-After"] == "5"


def test_an_address_past_its_share_is_refused_naming_the_address(redis_prefix: str) -> None:
    say_alive(redis_prefix)
    limits = QueueLimits(address_short=5)

    async def scenario(client: QueueRunner) -> list[Any]:
        runs = [
            client.open_streamed(RunRequest(code="1", learner=f"l{i}", address="203.0.113.9"))
            for i in range(12)
        ]
        return await asyncio.gather(*runs, return_exceptions=True)

    outcomes = in_thread(scenario, redis_prefix, limits=limits)
    assert len(refused(outcomes)) == 7
    assert {e.field for e in refused(outcomes)} == {"address"}


def test_the_queue_depth_counts_the_jobs_no_runner_has_taken_yet_by_lane(
    redis_prefix: str,
) -> None:
    say_alive(redis_prefix)
    keys = queue.QueueKeys(redis_prefix)
    admin = redis.Redis.from_url(REDIS_URL)
    try:
        admin.xgroup_create(keys.stream("short"), queue.GROUP, "0", mkstream=True)
    finally:
        admin.close()

    async def scenario(client: QueueRunner) -> tuple[dict[str, int], dict[str, int]]:
        before = await client.queue_depth()
        for i in range(3):
            await client.open_streamed(RunRequest(code="print(1)", learner=f"l{i}"))
        return before, await client.queue_depth()

    before, after = in_thread(scenario, redis_prefix)
    assert before == {"short": 0, "long": 0}
    assert after == {"short": 3, "long": 0}
