"""Runs in the sandbox for verify: one gate shared by a batch, so a bank's questions keep the
runner busy without flooding its queue. A refusal of the runner is a result, not a crash: the
claims that needed the run fail, saying why."""

from __future__ import annotations

import asyncio

from app.core.errors import AppError
from app.runner.client import Runner
from app.runner.limits import RunKind
from app.runner.protocol import LimitHit, RunRequest, RunResult, TestSpec

PARALLEL = 4  # runs in flight at once; the runner queues beyond its own parallelism


class Runs:
    def __init__(self, runner: Runner, parallel: int = PARALLEL) -> None:
        self.runner = runner
        self._gate = asyncio.Semaphore(parallel)

    async def run(
        self, code: str, tests: list[TestSpec] | None = None, *, kind: RunKind = "check"
    ) -> RunResult:
        """`kind="check"` runs may come from the runner's cache of trusted results;
        `kind="snippet"` runs are always run afresh."""
        request = RunRequest(code=code, kind=kind, tests=tests)
        try:
            async with self._gate:
                return await self.runner.run(request)
        except AppError as exc:
            return RunResult(ok=False, limit=LimitHit(name="runner", message=exc.message))
