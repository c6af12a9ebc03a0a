"""The runner's lab pool on its own: limits end a job with a clear message, the queue has a
depth, a learner has one job at a time, and a cancelled job in the queue never starts."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from app.lab.config import BASELINE
from app.runner.errors import LearnerBusyError, QueueFullError
from app.runner.lab_pool import LabPool
from app.training.config import parameter_count
from tests.runner.conftest import MODE

T = TypeVar("T")
LONG = BASELINE.model_copy(update={"bidirectional": True, "hidden_size": 256, "epochs": 40})
UID_BASE = 61000  # apart from the session runner's uids


def in_own_loop(scenario: Callable[[LabPool], Awaitable[T]], **options: Any) -> T:
    """Run `scenario` with a started pool, in a thread of its own (Playwright holds the main
    thread's event loop)."""

    async def main() -> T:
        pool = LabPool(workers=1, mode=MODE, uid_base=UID_BASE, **options)
        await pool.start()
        try:
            return await scenario(pool)
        finally:
            await pool.close()

    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, main()).result()


async def final_event(pool: LabPool, job: Any) -> dict[str, Any]:
    events = [event async for event in pool.follow(job)]
    return events[-1]


def test_a_job_past_its_cpu_time_is_stopped_with_the_limit_named() -> None:
    async def scenario(pool: LabPool) -> dict[str, Any]:
        return await final_event(pool, pool.submit(LONG.model_dump(mode="json"), "a"))

    final = in_own_loop(scenario, cpu_seconds=1)
    assert final == {"type": "stopped", "limit": "stopped after 1 s of CPU time"}


def test_a_job_past_its_wall_time_is_stopped_with_the_limit_named() -> None:
    async def scenario(pool: LabPool) -> dict[str, Any]:
        return await final_event(pool, pool.submit(LONG.model_dump(mode="json"), "a"))

    final = in_own_loop(scenario, wall_seconds=0.5)
    assert final == {"type": "stopped", "limit": "stopped after 0.5 s of wall-clock time"}


def test_the_queue_has_a_depth_and_a_learner_one_job() -> None:
    async def scenario(pool: LabPool) -> list[str]:
        config = LONG.model_dump(mode="json")
        running = pool.submit(config, "a")
        with pytest.raises(LearnerBusyError):
            pool.submit(config, "a")
        await asyncio.sleep(0.3)  # the first job leaves the queue for the worker
        queued = pool.submit(config, "b")
        with pytest.raises(QueueFullError):
            pool.submit(config, "c")
        pool.cancel(queued)
        pool.cancel(running)
        return [(await final_event(pool, job))["type"] for job in (running, queued)] + [
            str([e["type"] for e in queued.events])
        ]

    running, queued, queued_events = in_own_loop(scenario, queue_depth=1)
    assert (running, queued) == ("cancelled", "cancelled")
    assert queued_events == "['queued', 'cancelled']", "a job cancelled in the queue never starts"


def test_a_bad_config_fails_the_job_not_the_worker() -> None:
    async def scenario(pool: LabPool) -> tuple[dict[str, Any], dict[str, Any]]:
        bad = await final_event(pool, pool.submit({"cell": "TRANSFORMER"}, None))
        good = BASELINE.model_copy(update={"epochs": 1}).model_dump(mode="json")
        return bad, await final_event(pool, pool.submit(good, None))

    bad, good = in_own_loop(scenario)
    assert bad["type"] == "failed" and "cell" in bad["message"]
    assert good["type"] == "done" and good["outcome"]["parameters"] == parameter_count(BASELINE)


def test_a_config_trained_once_is_replayed_without_training_again() -> None:
    short = BASELINE.model_copy(update={"epochs": 2}).model_dump(mode="json")

    async def scenario(pool: LabPool) -> tuple[Any, Any, Any]:
        first = pool.submit(short, "a")
        await final_event(pool, first)
        again = pool.submit(short, "b")  # same config and seed: nothing to train
        other = pool.submit({**short, "seed": 1}, "c")
        await final_event(pool, other)
        return first, again, other

    first, again, other = in_own_loop(scenario)
    assert first.events[-1]["type"] == "done" and first.worker is not None
    assert again.finished and again.worker is None, "replayed, never queued for a worker"
    assert again.events[1:] == first.events[1:]
    assert other.worker is not None and other.events[-1] != first.events[-1]


def test_a_restarted_runner_numbers_its_jobs_apart_from_before() -> None:
    """A run whose app server died is followed by job id elsewhere (app.lab.running): a
    restarted runner's first job must not take an id a job before the restart had."""
    firsts = {next(LabPool(workers=1, mode=MODE, uid_base=UID_BASE)._ids) for _ in range(5)}
    assert len(firsts) == 5
    assert all(1 <= first <= 2**30 for first in firsts)
