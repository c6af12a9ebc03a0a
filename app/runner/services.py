"""What a runner does, once per kind of work, for every way a job reaches it: the HTTP routes
(app.runner.server, app.runner.lab_routes) and the Redis queue's consumer
(app.runner.queue_worker) call the same functions here, so no rule is written twice.

`Services` holds the warm pools the runner started (zygotes for code, playground workers, lab
trainers), the cache of trusted results and where the runner stands (`Readiness`).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib.metadata
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from app.runner.errors import TooCostlyError
from app.runner.lab_pool import LabPool
from app.runner.lanes import requester
from app.runner.limits import DEFAULT_LIMITS, Limits
from app.runner.playground import PlaygroundParams, PlaygroundResult, too_costly
from app.runner.playground_pool import PlaygroundPool
from app.runner.pool import ZygotePool
from app.runner.protocol import RunRequest, RunResult
from app.runner.sandbox import Sandbox

# Bank content (checks, question variants): the same code always gives the same result with the
# same torch, so results are kept. Learner snippets ("snippet") never are.
TRUSTED_KINDS = {"check"}


@functools.cache
def torch_version() -> str:
    """Read from the installed package's metadata: this process never imports torch."""
    return importlib.metadata.version("torch")


class ResultCache:
    """Results of trusted snippets by hash of kind, code, limits and torch version (bounded)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._results: dict[str, RunResult] = {}

    def key(self, request: RunRequest, limits: Limits) -> str:
        tests = [t.model_dump() for t in request.tests or []]
        material = json.dumps(
            [request.kind, request.code, tests, limits.model_dump(), torch_version()]
        )
        return hashlib.sha256(material.encode()).hexdigest()

    def get(self, key: str) -> RunResult | None:
        return self._results.get(key)

    def put(self, key: str, result: RunResult) -> None:
        if len(self._results) >= self.size:
            self._results.pop(next(iter(self._results)))  # oldest first
        self._results[key] = result


@dataclass
class Readiness:
    """Where the runner stands: "warming" (workers starting), "ready", or "off" (with why)."""

    state: str
    mode: str | None = None
    reason: str | None = None

    @classmethod
    def of(cls, sandbox: Sandbox) -> Readiness:
        if sandbox.mode is None:
            return cls("off", reason=sandbox.reason)
        return cls("warming", mode=sandbox.mode)


def limits_of(body: RunRequest) -> Limits:
    """The kind's limits, or tighter ones the request asks for."""
    ceiling = DEFAULT_LIMITS[body.kind]
    return body.limits.within(ceiling) if body.limits else ceiling


def tests_of(body: RunRequest) -> list[dict[str, str]] | None:
    return [t.model_dump() for t in body.tests] if body.tests else None


@dataclass
class Services:
    pool: ZygotePool
    playground: PlaygroundPool
    lab: LabPool
    readiness: Readiness
    cache: ResultCache = field(default_factory=ResultCache)

    def start_run(
        self,
        body: RunRequest,
        on_output: Callable[[str], None] | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> asyncio.Future[RunResult]:
        """A run, holding its place in its kind's lane before this returns (QueueFullError if
        there is none): a trusted one already made is answered from the cache at once. The
        future's result is the run's; cancelling it stops the run, waiting or running."""
        limits, tests = limits_of(body), tests_of(body)
        key = self.cache.key(body, limits) if body.kind in TRUSTED_KINDS else None
        if key and (hit := self.cache.get(key)):
            done: asyncio.Future[RunResult] = asyncio.get_running_loop().create_future()
            done.set_result(hit)
            return done
        running = self.pool.queue(
            body.code,
            limits,
            tests,
            body.handle,
            on_output,
            kind=body.kind,
            who=requester(address=body.address, learner=body.learner),
            on_start=on_start,
        )
        if key:
            running.add_done_callback(functools.partial(self._keep, key))
        return running

    def _keep(self, key: str, running: asyncio.Future[RunResult]) -> None:
        if not running.cancelled() and running.exception() is None:
            result = running.result()
            if result.limit is None:
                self.cache.put(key, result)

    async def explore(self, params: PlaygroundParams) -> PlaygroundResult:
        """The playground's answer; 422 past the cost bounds (too_costly)."""
        if costly := too_costly(params):
            raise TooCostlyError(costly.message, field=f"params.{costly.field}")
        return await self.playground.explore(params)
