"""Runners that die or are told to stop while they hold jobs (two real `torchquiz runner
--queue` processes, replaced as tests kill them): a snippet is answered with a clear error, a
training job is run again once on the other runner (and failed if that one dies too), a stopped
runner hands its training back and finishes its short jobs; never a request that hangs."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
import redis

from app.runner import queue
from app.runner.client import RunnerUnavailableError
from app.runner.protocol import RunRequest, RunResult
from app.runner.queue_client import QueuedRun, QueueRunner
from app.runner.queue_worker import STOP_GRACE_SECONDS
from tests.conftest import REDIS_URL
from tests.runner.queue.conftest import RECLAIM_SECONDS, QueueRunners, in_thread

SLEEPER = "import time\nfor i in range({n}):\n    print(i, flush=True)\n    time.sleep(1)\n"


class Followed:
    """A run followed in the background: what it printed, and when it started."""

    def __init__(self, opened: QueuedRun) -> None:
        self.opened, self.printed = opened, []
        self.began, self.spoke = asyncio.Event(), asyncio.Event()
        self.result = asyncio.ensure_future(opened.follow(self._print, self._start))

    async def _print(self, text: str) -> None:
        self.printed.append(text)
        self.spoke.set()

    async def _start(self) -> None:
        self.began.set()

    async def printing(self) -> None:
        """Until it has started and printed its first line."""
        await asyncio.wait_for(self.began.wait(), 60)
        await asyncio.wait_for(self.spoke.wait(), 30)


async def follow(client: QueueRunner, code: str, kind: str = "snippet") -> Followed:
    followed = Followed(await client.open_streamed(RunRequest(code=code, kind=kind)))  # type: ignore[arg-type]
    await followed.printing()
    return followed


def retries(prefix: str, job: int) -> list[int]:
    """The attempts the job's stream says it was queued again for."""
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        said = [
            queue.message(fields)
            for _, fields in client.xrange(queue.QueueKeys(prefix).events(job))
        ]
    finally:
        client.close()
    return [m["retry"] for m in said if "retry" in m]


def test_a_snippet_whose_runner_is_killed_is_answered_with_a_clear_error(
    runners: QueueRunners,
) -> None:
    runners.ensure(2)

    async def scenario(client: QueueRunner) -> tuple[BaseException, float]:
        followed = await follow(client, SLEEPER.format(n=9))
        holder = await asyncio.to_thread(runners.holder, followed.opened.job)
        holder.kill()  # SIGKILL: no clean-up at all
        killed = time.monotonic()
        with pytest.raises(RunnerUnavailableError) as raised:
            await followed.result
        return raised.value, time.monotonic() - killed

    error, took = in_thread(scenario, runners.prefix)
    assert error.message == queue.RUNNER_STOPPED
    assert took < RECLAIM_SECONDS + 4


def test_a_training_whose_runner_is_killed_is_run_again_once_on_the_other(
    runners: QueueRunners,
) -> None:
    runners.ensure(2)
    jobs: list[int] = []

    async def scenario(client: QueueRunner) -> tuple[list[str], RunResult, int, int]:
        followed = await follow(client, SLEEPER.format(n=5), kind="lab_code")
        jobs.append(followed.opened.job)
        first = await asyncio.to_thread(runners.holder, followed.opened.job)
        first.kill()
        result = await asyncio.wait_for(followed.result, 60)
        second = await asyncio.to_thread(runners.holder, followed.opened.job)
        return followed.printed, result, first.pid, second.pid

    printed, result, first, second = in_thread(scenario, runners.prefix)
    assert second != first
    assert result.ok
    assert retries(runners.prefix, jobs[0]) == [2]  # its second attempt
    # Run again from its start, it printed the same lines: each was passed on once.
    assert "".join(printed) == "0\n1\n2\n3\n4\n" == result.stdout


def test_a_runner_told_to_stop_hands_its_training_back_to_the_other(
    runners: QueueRunners,
) -> None:
    runners.ensure(2)
    result_job: list[int] = []

    async def scenario(client: QueueRunner) -> tuple[list[str], RunResult, int, int, int]:
        followed = await follow(client, SLEEPER.format(n=4), kind="lab_code")
        result_job.append(followed.opened.job)
        first = await asyncio.to_thread(runners.holder, followed.opened.job)
        first.send_signal(signal.SIGTERM)
        result = await asyncio.wait_for(followed.result, 60)
        second = await asyncio.to_thread(runners.holder, followed.opened.job)
        code = await asyncio.to_thread(first.wait, 30)
        return followed.printed, result, first.pid, second.pid, code

    printed, result, first, second, code = in_thread(scenario, runners.prefix)
    assert second != first
    assert result.ok
    assert "".join(printed) == "0\n1\n2\n3\n" == result.stdout
    # Handed back as it stopped (the same attempt), not taken back after it went quiet.
    assert retries(runners.prefix, result_job[0]) == [1]
    assert code in (0, -signal.SIGTERM)  # uvicorn raises the signal again once it has stopped


def test_a_training_whose_runner_is_killed_twice_ends_failed_saying_it_was_tried_twice(
    runners: QueueRunners,
) -> None:
    runners.ensure(3)  # the third takes the job back after the second is killed
    jobs: list[int] = []

    async def scenario(client: QueueRunner) -> tuple[BaseException, float, int, int]:
        followed = await follow(client, SLEEPER.format(n=60), kind="lab_code")
        job = followed.opened.job
        jobs.append(job)
        first = await asyncio.to_thread(runners.holder, job)
        first.kill()
        second = await asyncio.to_thread(runners.holder, job, besides=first.pid)
        second.kill()
        killed = time.monotonic()
        with pytest.raises(RunnerUnavailableError) as raised:
            await asyncio.wait_for(followed.result, 60)
        return raised.value, time.monotonic() - killed, first.pid, second.pid

    error, took, first, second = in_thread(scenario, runners.prefix)
    assert first != second
    assert error.message == queue.TRAINING_STOPPED and "twice" in error.message
    assert retries(runners.prefix, jobs[0]) == [2]  # run again once, never a third time
    assert took < RECLAIM_SECONDS + 6  # taken back by the third within a heartbeat or two


def test_a_runner_told_to_stop_finishes_its_short_job_and_exits_0(runners: QueueRunners) -> None:
    runners.ensure(2)
    snippet = "import time\nprint('a', flush=True)\ntime.sleep(2)\nprint('b')\n"

    async def scenario(client: QueueRunner) -> tuple[RunResult, float, int, int]:
        followed = await follow(client, snippet)
        holder = await asyncio.to_thread(runners.holder, followed.opened.job)
        holder.send_signal(signal.SIGTERM)
        told = time.monotonic()
        result = await asyncio.wait_for(followed.result, STOP_GRACE_SECONDS + 5)
        took = time.monotonic() - told
        code = await asyncio.to_thread(holder.wait, 30)
        return result, took, code, followed.opened.job

    result, took, code, job = in_thread(scenario, runners.prefix)
    assert result.ok and result.stdout == "a\nb\n"
    assert took < STOP_GRACE_SECONDS
    assert retries(runners.prefix, job) == []  # finished where it ran, never handed back
    assert code == 0
