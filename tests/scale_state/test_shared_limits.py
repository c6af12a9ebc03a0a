"""The app's rate limits (app.core.limiting): a burst, then a rate, as moving windows; counted
in Redis, where every app process sees the same counts, or in memory without Redis; and a
Redis that does not answer is a 503 with a message, never a 500 nor an unlimited route."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.core.limiting import Limits, LimitsUnavailableError, Rule
from tests.conftest import REDIS_URL


def test_a_rule_is_its_burst_per_the_time_its_rate_takes_to_refill_it() -> None:
    assert Rule(10, 1).item.get_expiry() == 600  # sign-ins per account: 10, then 1 a minute
    assert Rule(600, 600).item.get_expiry() == 60  # an API token: its rate, per minute
    assert Rule(10, 1).item.amount == 10
    assert Rule(60, 30).describe() == "60 at once, then 30 a minute"


def test_in_memory_the_burst_is_allowed_then_refused_with_the_wait_and_nothing_spent() -> None:
    async def scenario() -> None:
        limits = Limits()
        rule = Rule(3, 1)
        assert [await limits.hit(rule, "a") for _ in range(3)] == [0.0, 0.0, 0.0]
        refused = await limits.hit(rule, "a")
        assert 170 < refused <= 180, refused  # the oldest leaves its 3-minute window
        assert await limits.wait(rule, "a") == pytest.approx(refused, abs=1)
        assert await limits.hit(rule, "b") == 0.0, "another key has its own window"
        assert limits.hit_here(rule, "b") == 0.0, "the same counts from synchronous code"

    asyncio.run(scenario())


def test_two_stores_on_one_redis_share_their_counts(redis_prefix: str) -> None:
    async def scenario() -> None:
        one, other = Limits(REDIS_URL, redis_prefix), Limits(REDIS_URL, redis_prefix)
        rule = Rule(2, 1)
        try:
            assert await one.hit(rule, "sign-in", "ada") == 0.0
            assert await other.hit(rule, "sign-in", "ada") == 0.0
            assert await one.wait(rule, "sign-in", "ada") > 100
            assert await other.hit(rule, "sign-in", "ada") > 100
            assert await other.wait(rule, "sign-in", "bob") == 0.0
            elsewhere = Limits(REDIS_URL, redis_prefix + "other:")
            assert await elsewhere.hit(rule, "sign-in", "ada") == 0.0, "another site's prefix"
            await elsewhere.aclose()
        finally:
            await one.aclose()
            await other.aclose()

    asyncio.run(scenario())


def test_a_redis_that_does_not_answer_is_a_503_with_a_message_and_retry_after() -> None:
    async def scenario() -> None:
        limits = Limits("redis://127.0.0.1:1/0", "tqtest:down:")  # nothing listens on port 1
        started = time.monotonic()
        with pytest.raises(LimitsUnavailableError) as refused:
            await limits.hit(Rule(3, 1), "a")
        assert time.monotonic() - started < 10, "it must not hang"
        error = refused.value
        assert error.status == 503 and error.headers["Retry-After"] == "5"
        assert "Redis" in error.message and "try again" in error.message
        await limits.aclose()

    asyncio.run(scenario())
