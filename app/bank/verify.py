"""Verify every `check` in the bank through the sandbox runner (CLI and instructor API)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from app.bank.checks import answer_mismatches, compare, from_run
from app.bank.loader import Problem
from app.bank.schema import AnyQuestion
from app.runner.client import RunnerClient
from app.runner.protocol import RunRequest

PARALLEL = 4  # runs in flight at once; the runner queues beyond its own parallelism


async def verify_questions(
    questions: Iterable[tuple[str, AnyQuestion]], runner: RunnerClient
) -> tuple[int, list[Problem]]:
    """For (file name, question) pairs: how many checks ran, and one Problem per mismatch
    saying what the question claims and what torch really did."""
    checked = [(name, q) for name, q in questions if q.check is not None]
    gate = asyncio.Semaphore(PARALLEL)

    async def verify(name: str, question: AnyQuestion) -> list[Problem]:
        check = question.check
        assert check is not None
        async with gate:
            result = await runner.run(RunRequest(code=check.code, kind="check"))
        lines = compare(check.expect, from_run(result)) + answer_mismatches(question)
        return [Problem(name, "check", line) for line in lines]

    found = await asyncio.gather(*(verify(name, q) for name, q in checked))
    return len(checked), [problem for problems in found for problem in problems]
