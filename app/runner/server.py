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
import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from app.core.errors import AppError, UnauthorizedError
from app.core.request_id import RequestIdMiddleware
from app.runner import handlers, lab_routes
from app.runner.errors import RunnerOffError, RunnerWarmingError, WorkerUnavailableError
from app.runner.lab_pool import LabPool
from app.runner.playground import PlaygroundParams, PlaygroundResult
from app.runner.playground_pool import PlaygroundPool
from app.runner.pool import ZygotePool
from app.runner.protocol import RunRequest, RunResult
from app.runner.sandbox import Sandbox
from app.runner.services import Readiness, Services, torch_version
from app.runner.settings import RunnerSettings

log = logging.getLogger("torchquiz.runner")


class CancelRun(BaseModel):
    handle: str = Field(max_length=64)


class PlaygroundRequest(BaseModel):
    params: PlaygroundParams
    learner: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=64)  # as in RunRequest


def create_runner_app(settings: RunnerSettings, *, sandbox: Sandbox) -> FastAPI:
    """The service; `sandbox` is what app.runner.sandbox.detect found (its mode is the pools').
    Every route but /healthz passes the gate (`admit`) first; a refusal anywhere is an error
    (app.runner.errors) that one handler renders (app.runner.handlers). With a queue
    (TORCHQUIZ_RUNNER_QUEUE) it also takes jobs from Redis (app.runner.queue_worker), made by
    the same functions (app.runner.services) as the routes'."""
    config = settings.pool_config(sandbox.mode or "privileged")
    # Each learner's runs and each client address's (a classroom behind one NAT shares one).
    run_limits = settings.run_limits()
    # The playground runs no learner code and answers in milliseconds: four times the rate.
    playground_limits = run_limits.scaled(4, "playground requests")

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
        services = app.state.services = Services(pool, playground, lab, readiness)
        warming = asyncio.create_task(_warm(readiness, pool, playground, lab))
        consumer = None
        if settings.queue:
            from app.runner.queue_worker import QueueWorker

            consumer = QueueWorker(settings, services)
            await consumer.start()
        yield
        if consumer is not None:  # first: it finishes or hands back what it holds
            await consumer.stop()
        warming.cancel()
        await asyncio.gather(pool.close(), playground.close(), lab.close())

    app = FastAPI(title="torchquiz runner", lifespan=lifespan, docs_url=None, redoc_url=None)
    handlers.register(app)
    # Its log lines name the app's request that asked (its callers: the app's own processes).
    app.add_middleware(RequestIdMiddleware, trusted=[], everyone=True)

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

    def services_of(request: Request) -> Services:
        return request.app.state.services  # type: ignore[no-any-return]

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
        status["queue"] = bool(settings.queue)
        return status

    @runs.post("/v1/playground", response_model=PlaygroundResult)
    async def playground(body: PlaygroundRequest, request: Request) -> Any:
        """Build a recurrent layer from the parameters; shapes, parameter counts or the error.
        429 past the caller's rate (rate_limited), 422 past the cost bounds (too_costly)."""
        playground_limits.take(learner=body.learner, address=body.address)
        return await services_of(request).explore(body.params)

    @runs.post("/v1/runs", response_model=RunResult)
    async def run(body: RunRequest, request: Request) -> Any:
        """Run learner code in the sandbox, within the kind's limits (or tighter ones). 429 past
        the caller's rate (rate_limited) or when the kind's queue is full (queue_full)."""
        run_limits.take(learner=body.learner, address=body.address)
        return await services_of(request).start_run(body)

    @runs.post("/v1/runs/stream")
    async def run_streamed(body: RunRequest, request: Request) -> StreamingResponse:
        """As /v1/runs, as JSON lines: {"started": true} once it has started, {"output"} while
        the code prints, then {"result"} (or {"error": {"code", "message"}} if the run could
        not be made). 429 at once when the kind's queue is full: a 200 means the run holds its
        place in the queue. A caller that goes away before the result stops the run."""
        run_limits.take(learner=body.learner, address=body.address)
        lines_out = asyncio.Queue[dict[str, Any]]()
        running = services_of(request).start_run(
            body,
            lambda text: lines_out.put_nowait({"output": text}),
            lambda: lines_out.put_nowait({"started": True}),
        )

        async def lines() -> AsyncIterator[str]:
            waiting: asyncio.Future[dict[str, Any]] | None = None
            try:
                while not (running.done() and lines_out.empty()):
                    waiting = asyncio.ensure_future(lines_out.get())
                    either: set[asyncio.Future[Any]] = {running, waiting}
                    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
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
