"""The runner as an HTTP service: `torchquiz runner`, embedded by `torchquiz serve` or alone.

POST /v1/runs runs a snippet in the sandbox; GET /healthz says where the runner stands. It
listens at once and warms its workers in the background: until they are up every run is
refused with 503 and Retry-After ("the code runner is warming up"); where the kernel allows no
sandbox, with 503 and the reason. With TORCHQUIZ_RUNNER_TOKEN set, every call but /healthz
needs `Authorization: Bearer <token>`.
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

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from app.runner.lab_pool import LabPool
from app.runner.lab_routes import lab_router
from app.runner.lanes import requester
from app.runner.limits import DEFAULT_LIMITS, Limits
from app.runner.playground import PlaygroundParams, PlaygroundResult, too_costly
from app.runner.playground_pool import PlaygroundPool
from app.runner.pool import PoolConfig, QueueFullError, RunnerUnavailableError, ZygotePool
from app.runner.protocol import WARMING, WARMING_RETRY_SECONDS, RunRequest, RunResult
from app.runner.ratelimit import ADDRESS_BURST, ADDRESS_PER_MINUTE, RateLimiter, RunLimits
from app.runner.sandbox import Sandbox

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


def error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    body = {"status": status, "code": code, "message": message, "field": None}
    return JSONResponse(body, status_code=status, headers=headers)


def busy(exc: QueueFullError) -> JSONResponse:
    retry = {"Retry-After": str(max(1, round(exc.retry_after)))}
    return error(429, "queue_full", "the runner is busy; try again", **retry)


def limits_of(body: RunRequest) -> Limits:
    """The kind's limits, or tighter ones the request asks for."""
    ceiling = DEFAULT_LIMITS[body.kind]
    return body.limits.within(ceiling) if body.limits else ceiling


def tests_of(body: RunRequest) -> list[dict[str, str]] | None:
    return [t.model_dump() for t in body.tests] if body.tests else None


def create_runner_app(
    config: PoolConfig,
    *,
    sandbox: Sandbox,
    token: str = "",
    limiter: RateLimiter | None = None,
    address_limiter: RateLimiter | None = None,
) -> FastAPI:
    """The service; `sandbox` is what app.runner.sandbox.detect found (its mode wins over
    config.mode). `limiter` bounds each learner's runs, `address_limiter` each client
    address's (a classroom behind one NAT shares one address)."""
    run_limits = RunLimits(
        limiter or RateLimiter(),
        address_limiter or RateLimiter(burst=ADDRESS_BURST, per_minute=ADDRESS_PER_MINUTE),
    )
    # The playground runs no learner code and answers in milliseconds: four times the rate.
    playground_limits = run_limits.scaled(4, "playground requests")
    cache = ResultCache()
    if sandbox.mode is not None:
        config = dataclasses.replace(config, mode=sandbox.mode)

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

    def refusal(
        request: Request,
        caller: RunRequest | PlaygroundRequest | None = None,
        bucket: RunLimits = run_limits,
    ) -> JSONResponse | None:
        """401 without the token, 503 until the workers are up (or for good where the kernel
        allows no sandbox), 429 past the caller's learner's or address's rate (naming which);
        None when the call may go on."""
        if token and not hmac.compare_digest(
            request.headers.get("authorization", ""), f"Bearer {token}"
        ):
            return error(401, "unauthorized", "this runner needs its bearer token")
        readiness: Readiness = request.app.state.readiness
        if readiness.state == "warming":
            retry = {"Retry-After": str(WARMING_RETRY_SECONDS)}
            return error(503, "runner_warming", WARMING, **retry)
        if readiness.state == "off":
            return error(503, "runner_off", readiness.reason or "running code is off")
        if caller and (refused := bucket.take(learner=caller.learner, address=caller.address)):
            wait, message = refused
            return error(429, "rate_limited", message, **{"Retry-After": str(max(1, round(wait)))})
        return None

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

    @app.post("/v1/playground", response_model=PlaygroundResult)
    async def playground(body: PlaygroundRequest, request: Request) -> Any:
        """Build a recurrent layer from the parameters; shapes, parameter counts or the error."""
        if refused := refusal(request, body, playground_limits):
            return refused
        if costly := too_costly(body.params):
            return error(422, "too_costly", costly.message)
        try:
            return await request.app.state.playground.explore(body.params)
        except QueueFullError as exc:
            return busy(exc)
        except RunnerUnavailableError as exc:
            return error(503, "runner_unavailable", str(exc))

    @app.post("/v1/runs", response_model=RunResult)
    async def run(body: RunRequest, request: Request) -> Any:
        """Run learner code in the sandbox, within the kind's limits (or tighter ones)."""
        if refused := refusal(request, body):
            return refused
        limits, tests = limits_of(body), tests_of(body)
        key = cache.key(body, limits) if body.kind in TRUSTED_KINDS else None
        if key and (hit := cache.get(key)):
            return hit
        try:
            who = requester(address=body.address, learner=body.learner)
            pool = request.app.state.pool
            result = await pool.run(body.code, limits, tests, body.handle, kind=body.kind, who=who)
            if key and result.limit is None:
                cache.put(key, result)
            return result
        except QueueFullError as exc:
            return busy(exc)
        except RunnerUnavailableError as exc:
            return error(503, "runner_unavailable", str(exc))

    @app.post("/v1/runs/stream")
    async def run_streamed(body: RunRequest, request: Request) -> Any:
        """As /v1/runs, as JSON lines: {"output"} while the code prints, then {"result"} (or
        {"error"} if the run could not be made). 429 at once when the kind's queue is full."""
        if refused := refusal(request, body):
            return refused
        pool, printed = request.app.state.pool, asyncio.Queue[str]()
        who = requester(address=body.address, learner=body.learner)
        try:
            pool.refuse_if_full(body.kind, who)
        except QueueFullError as exc:
            return busy(exc)
        running = asyncio.ensure_future(
            pool.run(
                body.code,
                limits_of(body),
                tests_of(body),
                body.handle,
                printed.put_nowait,
                kind=body.kind,
                who=who,
            )
        )

        async def lines() -> AsyncIterator[str]:
            while not (running.done() and printed.empty()):
                waiting = asyncio.ensure_future(printed.get())
                await asyncio.wait({running, waiting}, return_when=asyncio.FIRST_COMPLETED)
                if waiting.done():
                    yield json.dumps({"output": waiting.result()}) + "\n"
                else:
                    waiting.cancel()
            try:
                yield json.dumps({"result": running.result().model_dump(mode="json")}) + "\n"
            except (QueueFullError, RunnerUnavailableError) as exc:
                yield (
                    json.dumps({"error": {"code": type(exc).__name__, "message": str(exc)}}) + "\n"
                )

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    @app.post("/v1/runs/cancel")
    async def cancel_run(body: CancelRun, request: Request) -> Any:
        """Stop the run started with this handle (killed if running); false if none is going."""
        if refused := refusal(request):
            return refused
        return {"cancelled": request.app.state.pool.cancel(body.handle)}

    app.include_router(lab_router(refusal, error, busy))
    return app


async def _warm(
    readiness: Readiness, pool: ZygotePool, playground: PlaygroundPool, lab: LabPool
) -> None:
    """Start every warm worker; the runner is ready once all are up."""
    if readiness.state == "off":
        return
    try:
        await asyncio.gather(pool.start(), playground.start(), lab.start())
    except (RunnerUnavailableError, OSError, TimeoutError) as exc:
        log.error("the sandbox's workers did not start: %s", exc)
        readiness.state = "off"
        readiness.reason = f"Running code is off: the sandbox's workers did not start ({exc})."
        return
    readiness.state = "ready"
