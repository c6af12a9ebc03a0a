"""Runs through the Redis job queue, made by two real `torchquiz runner --queue` processes:
the same answers as the HTTP runner's, training that never delays a snippet, cancel, the
playground and the lab's training jobs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from app.lab.config import BASELINE
from app.main import create_app
from app.runner import protocol
from app.runner.playground import PlaygroundParams
from app.runner.protocol import RunRequest, RunResult
from app.runner.queue_client import QueueRunner
from tests.conftest import REDIS_URL, make_settings, until_ready
from tests.runner.conftest import TEST_LIMITS, Runner
from tests.runner.queue.conftest import QueueRunners, in_thread

SNIPPET = "import torch\nx = torch.ones(2, 3)\nprint(x.sum().item())\nraise ValueError('no')\n"
CHECK = "import torch\nt = torch.zeros(4, 5)\n"
SLEEPER = "import time\nfor i in range({n}):\n    print(i, flush=True)\n    time.sleep(1)\n"


def comparable(result: RunResult) -> dict[str, Any]:
    return result.model_dump(exclude={"elapsed_ms", "cpu_ms"})


def test_a_snippet_and_a_check_give_the_same_result_as_the_http_runner(
    runners: QueueRunners, embedded: Runner
) -> None:
    tests = [protocol.TestSpec(name="shape", code="t2 = t * 2")]
    snippet = RunRequest(code=SNIPPET, limits=TEST_LIMITS)  # type: ignore[arg-type]
    check = RunRequest(code=CHECK, kind="check", tests=tests, limits=TEST_LIMITS)  # type: ignore[arg-type]

    async def scenario(client: QueueRunner) -> list[RunResult]:
        return [await client.run(snippet), await client.run(check)]

    queued = in_thread(scenario, runners.prefix)
    with embedded.client() as http:
        over_http = [
            RunResult.model_validate_json(
                http.post("/v1/runs", json=r.model_dump(mode="json", exclude_none=True)).content
            )
            for r in (snippet, check)
        ]
    assert queued[0].stdout == "6.0\n"
    assert queued[0].exception is not None and queued[0].exception.type == "ValueError"
    assert [comparable(r) for r in queued] == [comparable(r) for r in over_http]


def test_a_long_training_does_not_delay_a_snippet(runners: QueueRunners) -> None:
    async def scenario(client: QueueRunner) -> tuple[float, list[RunResult]]:
        trainings = [
            await client.open_streamed(RunRequest(code=SLEEPER.format(n=6), kind="lab_code"))
            for _ in range(4)  # every runner's training places, and more waiting
        ]
        following = [asyncio.ensure_future(t.follow(_quiet)) for t in trainings]
        await asyncio.sleep(1.5)  # they have started
        started = time.monotonic()
        snippet = await client.run(RunRequest(code="print('quick')"))
        took = time.monotonic() - started
        assert snippet.stdout == "quick\n"
        return took, await asyncio.gather(*following)

    took, trained = in_thread(scenario, runners.prefix)
    assert took < 2.0, f"the snippet waited {took:.1f} s behind the trainings"
    assert all(r.ok and r.stdout.endswith("5\n") for r in trained)


def test_a_streamed_run_tells_its_start_and_output_as_it_prints(runners: QueueRunners) -> None:
    async def scenario(client: QueueRunner) -> tuple[list[str], RunResult]:
        heard: list[str] = []

        async def printed(text: str) -> None:
            heard.append(text)

        async def start() -> None:
            heard.append("<started>")

        opened = await client.open_streamed(RunRequest(code=SLEEPER.format(n=3)))
        return heard, await opened.follow(printed, start)

    heard, result = in_thread(scenario, runners.prefix)
    assert heard[0] == "<started>"
    assert "".join(heard[1:]) == "0\n1\n2\n" == result.stdout


def test_cancel_kills_a_running_job(runners: QueueRunners) -> None:
    async def scenario(client: QueueRunner) -> tuple[bool, RunResult, float, bool]:
        run = RunRequest(code=SLEEPER.format(n=30), kind="lab_code", handle="h-cancel-me")
        opened = await client.open_streamed(run)
        began = asyncio.Event()

        async def start() -> None:
            began.set()

        following = asyncio.ensure_future(opened.follow(_quiet, start))
        await asyncio.wait_for(began.wait(), 30)
        cancelled = await client.cancel_run("h-cancel-me")
        started = time.monotonic()
        result = await following
        return cancelled, result, time.monotonic() - started, await client.cancel_run("h-cancel-me")

    cancelled, result, took, again = in_thread(scenario, runners.prefix)
    assert cancelled
    assert result.limit is not None and result.limit.name == "cancelled"
    assert took < 5
    assert not again  # it has ended: nothing to cancel


def test_the_playground_answers_through_the_queue(runners: QueueRunners) -> None:
    params = PlaygroundParams(
        cell="LSTM", input_size=3, hidden_size=4, bidirectional=False, input_shape=[2, 5, 3]
    )

    async def scenario(client: QueueRunner) -> Any:
        return await client.playground(params, "ada")

    result = in_thread(scenario, runners.prefix)
    assert result.shapes["out"] == [2, 5, 4]
    assert result.total_parameters > 0


def test_a_lab_training_job_is_followed_to_its_end_and_resumed_from_an_entry_id(
    runners: QueueRunners,
) -> None:
    config = BASELINE.model_copy(update={"epochs": 2})

    async def scenario(client: QueueRunner) -> tuple[list[Any], list[Any]]:
        job = await client.lab_submit(config, "grace")
        entries = [entry async for entry in client.lab_entries(job)]
        after_first = [e async for _, e in client.lab_entries(job, after=entries[0][0])]
        return [e for _, e in entries], after_first

    events, resumed = in_thread(scenario, runners.prefix)
    kinds = [e["type"] for e in events]
    assert kinds == ["queued", "started", "epoch", "epoch", "done"]
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == [1, 2]
    assert resumed == events[1:]


async def _quiet(text: str) -> None:
    return None


def test_the_app_runs_code_through_the_queue_when_its_runner_url_is_redis(
    runners: QueueRunners, tmp_path: Path
) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'queue.sqlite3'}",
        tmp_path,
        runner_url=REDIS_URL,
        redis_prefix=runners.prefix,
    )
    with TestClient(create_app(settings)) as client:
        until_ready(client)  # the variants computed through the queue, too
        answer = client.post("/api/v1/runs", json={"code": "print(6 * 7)"})
        health = client.get("/readyz").json()
    assert answer.status_code == 200, answer.text
    assert answer.json()["stdout"] == "42\n"
    assert "ready" in str(health)
