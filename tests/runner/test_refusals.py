"""Rate-limit refusals remembered by the app until they lapse (app.runner.refusals): asking
again meanwhile gets the runner's answer without the hop to it, for that learner or that
address only."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
import uuid

import httpx
import pytest

from app.runner.client import RunnerClient, TooManyRunsError
from app.runner.protocol import RunRequest
from app.runner.refusals import RecentRefusals


def remember(refusals: RecentRefusals, bucket: str, seconds: float = 5.0) -> None:
    refusals.remember(
        "runs",
        bucket,
        learner="ann",
        address="203.0.113.7",
        seconds=seconds,
        message="too many runs from you (10 at once, then 30 a minute); try again in 2 s",
    )


def test_a_learners_refusal_never_reaches_a_classmate_on_the_same_address() -> None:
    refusals = RecentRefusals()
    remember(refusals, "learner")
    assert refusals.check("runs", learner="ann", address="203.0.113.7") is not None
    assert refusals.check("runs", learner="bob", address="203.0.113.7") is None


def test_an_addresss_refusal_reaches_everyone_there_and_only_under_its_limit() -> None:
    refusals = RecentRefusals()
    remember(refusals, "address")
    assert refusals.check("runs", learner="bob", address="203.0.113.7") is not None
    assert refusals.check("runs", learner="bob", address="203.0.113.8") is None
    assert refusals.check("playground", learner="ann", address="203.0.113.7") is None


def test_an_ipv6_addresss_refusal_covers_its_slash_64() -> None:
    refusals = RecentRefusals()
    refusals.remember(
        "runs", "address", learner=None, address="2001:db8::1", seconds=5, message="no"
    )
    assert refusals.check("runs", learner=None, address="2001:db8::ffff") is not None
    assert refusals.check("runs", learner=None, address="2001:db8:0:1::1") is None


def test_a_refusal_lapses_when_the_runner_said_and_says_the_wait_as_it_stands() -> None:
    refusals = RecentRefusals()
    remember(refusals, "learner", seconds=0.3)
    refused = refusals.check("runs", learner="ann", address=None)
    assert refused is not None
    assert refused.said_now().startswith("too many runs from you (10 at once, then 30 a minute)")
    assert refused.said_now().endswith("try again in 0.3 s")
    time.sleep(0.35)
    assert refusals.check("runs", learner="ann", address=None) is None


def test_a_refusal_that_names_no_bucket_is_not_remembered() -> None:
    refusals = RecentRefusals()
    remember(refusals, "queue")
    assert refusals.check("runs", learner="ann", address="203.0.113.7") is None


@pytest.mark.parametrize("flood", [12])
def test_once_refused_a_learner_is_refused_again_without_asking_the_runner(
    runner_url: str, flood: int
) -> None:
    """Against the real runner: past the learner's burst its 429 comes back; the next asks of
    that learner are answered in the app, with the same words and a Retry-After, and another
    learner still runs."""

    async def scenario() -> tuple[int, int, TooManyRunsError, str]:
        client = RunnerClient(runner_url)
        hops: list[str] = []

        async def count(request: httpx.Request) -> None:
            if request.url.path == "/v1/runs":
                hops.append(request.url.path)

        client._client.event_hooks["request"].append(count)
        learner = f"flood-{uuid.uuid4()}"
        refused: TooManyRunsError | None = None
        for _ in range(flood):
            try:
                await client.run(RunRequest(code="print(1)", kind="snippet", learner=learner))
            except TooManyRunsError as exc:
                refused = exc
                break
        assert refused is not None, "the runner never refused"
        hops_when_refused = len(hops)
        with pytest.raises(TooManyRunsError) as again:
            await client.run(RunRequest(code="print(1)", kind="snippet", learner=learner))
        other = await client.run(
            RunRequest(code="print(2)", kind="snippet", learner=f"other-{uuid.uuid4()}")
        )
        await client.aclose()
        return hops_when_refused, len(hops), again.value, other.stdout

    # In a thread of its own: a browser test run earlier in this process holds the main
    # thread's event loop (Playwright).
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        hops_when_refused, hops, again, other = thread.submit(asyncio.run, scenario()).result()
    assert hops == hops_when_refused + 1  # the other learner's run only
    assert again.field == "learner"
    assert "too many runs from you" in again.message
    assert int(again.headers["Retry-After"]) >= 1
    assert other.strip() == "2"
