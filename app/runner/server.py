"""The runner as an HTTP service: `torchquiz runner`, embedded by `torchquiz serve` or alone.

POST /v1/runs runs a snippet in the sandbox; GET /healthz says where the runner stands. It
listens at once and warms its workers in the background: until they are up every run is
refused with 503 and Retry-After ("the code runner is warming up"); where the kernel allows no
sandbox, with 503 and the reason. With TORCHQUIZ_RUNNER_TOKEN set, every call but /healthz
needs `Authorization: Bearer <token>`. Its settings: app.runner.settings. Its errors have the
app's shape and codes (app.runner.errors, app.runner.handlers).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import hmac
import importlib.metadata
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from app.core.errors import AppError, UnauthorizedError
from app.runner import handlers, lab_routes
from app.runner.errors import (
    RunnerOffError,
    RunnerWarmingError,
    TooCostlyError,
    WorkerUnavailableError,
)
from app.runner.lab_pool import LabPool
from app.runner.lanes import requester
from app.runner.limits import DEFAULT_LIMITS, Limits
from app.runner.playground import PlaygroundParams, PlaygroundResult, too_costly
from app.runner.playground_pool import PlaygroundPool
from app.runner.pool import ZygotePool
from app.runner.protocol import RunRequest, RunResult
from app.runner.sandbox import Sandbox
from app.runner.settings import RunnerSettings

log = logging.getLogger("torchquiz.runner")
# Bank content (checks, question variants): the same code always gives the same result with the
# same torch, so results are kept. Learner snippets ("snippet") never are.
TRUSTED_KINDS = {"check"}


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


@functools.cache
def torch_version() -> str:
    """Read from the installed package's metadata: this process never imports torch."""
    return importlib.metadata.version("torch")


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


class CancelRun(BaseModel):
    handle: str = Field(max_length=64)


class PlaygroundRequest(BaseModel):
    params: PlaygroundParams
    learner: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=64)  # as in RunRequest


def limits_of(body: RunRequest) -> Limits:
    """The kind's limits, or tighter ones the request asks for."""
    ceiling = DEFAULT_LIMITS[body.kind]
    return body.limits.within(ceiling) if body.limits else ceiling


def tests_of(body: RunRequest) -> list[dict[str, str]] | None:
    return [t.model_dump() for t in body.tests] if body.tests else None


def create_runner_app(settings: RunnerSettings, *, sandbox: Sandbox) -> FastAPI:
    """The service; `sandbox` is what app.runner.sandbox.detect found (its mode is the pools').
    Every route but /healthz passes the gate (`admit`) first; a refusal anywhere is an error
    (app.runner.errors) that one handler renders (app.runner.handlers)."""
    config = settings.pool_config(sandbox.mode or "privileged")
    # Each learner's runs and each client address's (a classroom behind one NAT shares one).
    run_limits = settings.run_limits()
    # The playground runs no learner code and answers in milliseconds: four times the rate.
    playground_limits = run_limits.scaled(4, "playground requests")
    cache = ResultCache()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = ZygotePool(config)
        playground = PlaygroundPool(
            workers=config.playground_workers,
            mode=config.mode,
            uid_base=config.playground_uid_base(),
            start_timeout=config.start_timeout,
        )
        lab = LabPool(
            workers=config.lab_workers,
            mode=config.mode,
            uid_base=config.lab_uid_base(),
            queue_depth=config.lab_queue_depth,
            queue_per_address=config.lab_queue_per_address,
            cpu_seconds=config.lab_cpu_seconds,
            wall_seconds=config.lab_wall_seconds,
            start_timeout=config.start_timeout,
        )
        app.state.pool, app.state.playground, app.state.lab = pool, playground, lab
        readiness = app.state.readiness = Readiness.of(sandbox)
        warming = asyncio.create_task(_warm(readiness, pool, playground, lab))
        yield
        warming.cancel()
        await asyncio.gather(pool.close(), playground.close(), lab.close())

    app = FastAPI(title="torchquiz runner", lifespan=lifespan, docs_url=None, redoc_url=None)
    handlers.register(app)

    async def admit(request: Request) -> None:
        """401 without the token; 503 until the workers are up (with Retry-After), or for good
        where the kernel allows no sandbox."""
        if settings.token and not hmac.compare_digest(
            request.headers.get("authorization", ""), f"Bearer {settings.token}"
        ):
            raise UnauthorizedError("this runner needs its bearer token")
        readiness: Readiness = request.app.state.readiness
        if readiness.state == "warming":
            raise RunnerWarmingError()
        if readiness.state == "off":
            raise RunnerOffError(readiness.reason or "running code is off")

    runs = APIRouter()

    @app.get("/healthz")
    async def healthz(request: Request) -> dict[str, Any]:
        """Where the runner stands (warming, ready or off, with the reason), its sandbox mode,
        and how busy its workers are."""
        readiness: Readiness = request.app.state.readiness
        status: dict[str, Any] = request.app.state.pool.status()
        status["playground"] = request.app.state.playground.ready()
        status["lab"] = request.app.state.lab.status()
        status.update(dataclasses.asdict(readiness), torch=torch_version())
        status["ready"] = readiness.state == "ready"
        return status

    @runs.post("/v1/playground", response_model=PlaygroundResult)
    async def playground(body: PlaygroundRequest, request: Request) -> Any:
        """Build a recurrent layer from the parameters; shapes, parameter counts or the error.
        429 past the caller's rate (rate_limited), 422 past the cost bounds (too_costly)."""
        playground_limits.take(learner=body.learner, address=body.address)
        if costly := too_costly(body.params):
            raise TooCostlyError(costly.message, field=f"params.{costly.field}")
        return await request.app.state.playground.explore(body.params)

    @runs.post("/v1/runs", response_model=RunResult)
    async def run(body: RunRequest, request: Request) -> Any:
        """Run learner code in the sandbox, within the kind's limits (or tighter ones). 429 past
        the caller's rate (rate_limited) or when the kind's queue is full (queue_full)."""
        run_limits.take(learner=body.learner, address=body.address)
        limits, tests = limits_of(body), tests_of(body)
        key = cache.key(body, limits) if body.kind in TRUSTED_KINDS else None
        if key and (hit := cache.get(key)):
            return hit
        who = requester(address=body.address, learner=body.learner)
        pool = request.app.state.pool
        result = await pool.run(body.code, limits, tests, body.handle, kind=body.kind, who=who)
        if key and result.limit is None:
            cache.put(key, result)
        return result

    @runs.post("/v1/runs/stream")
    async def run_streamed(body: RunRequest, request: Request) -> StreamingResponse:
        """As /v1/runs, as JSON lines: {"started": true} once it has started, {"output"} while
        the code prints, then {"result"} (or {"error": {"code", "message"}} if the run could
        not be made). 429 at once when the kind's queue is full: a 200 means the run holds its
        place in the queue. A caller that goes away before the result stops the run."""
        run_limits.take(learner=body.learner, address=body.address)
        pool, lines_out = request.app.state.pool, asyncio.Queue[dict[str, Any]]()
        running = pool.queue(
            body.code,
            limits_of(body),
            tests_of(body),
            body.handle,
            lambda text: lines_out.put_nowait({"output": text}),
            kind=body.kind,
            who=requester(address=body.address, learner=body.learner),
            on_start=lambda: lines_out.put_nowait({"started": True}),
        )

        async def lines() -> AsyncIterator[str]:
            waiting: asyncio.Future[dict[str, Any]] | None = None
            try:
                while not (running.done() and lines_out.empty()):
                    waiting = asyncio.ensure_future(lines_out.get())
                    await asyncio.wait({running, waiting}, return_when=asyncio.FIRST_COMPLETED)
                    if waiting.done():
                        yield json.dumps(waiting.result()) + "\n"
                    else:
                        waiting.cancel()
                try:
                    result = running.result().model_dump(mode="json")
                    yield json.dumps({"result": result}) + "\n"
                except AppError as exc:  # a worker failed
                    yield json.dumps({"error": {"code": exc.code, "message": exc.message}}) + "\n"
            finally:  # ended, or the caller went away first: then the run is for no one
                running.cancel()
                if waiting is not None:
                    waiting.cancel()

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    @runs.post("/v1/runs/cancel")
    async def cancel_run(body: CancelRun, request: Request) -> dict[str, bool]:
        """Stop the run started with this handle (killed if running); false if none is going."""
        return {"cancelled": request.app.state.pool.cancel(body.handle)}

    gate = [Depends(admit)]
    app.include_router(runs, dependencies=gate)
    app.include_router(lab_routes.router, dependencies=gate)
    return app


async def _warm(
    readiness: Readiness, pool: ZygotePool, playground: PlaygroundPool, lab: LabPool
) -> None:
    """Start every warm worker; the runner is ready once all are up."""
    if readiness.state == "off":
        return
    try:
        await asyncio.gather(pool.start(), playground.start(), lab.start())
    except (WorkerUnavailableError, OSError, TimeoutError) as exc:
        log.error("the sandbox's workers did not start: %s", exc)
        readiness.state = "off"
        readiness.reason = f"Running code is off: the sandbox's workers did not start ({exc})."
        return
    readiness.state = "ready"
