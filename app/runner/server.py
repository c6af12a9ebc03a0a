"""The runner as an HTTP service: `torchquiz runner`, embedded by `torchquiz serve` or alone.

POST /v1/runs runs a snippet in the sandbox; GET /healthz says whether the warm workers are up.
With TORCHQUIZ_RUNNER_TOKEN set, every run needs `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.runner.limits import DEFAULT_LIMITS
from app.runner.pool import PoolConfig, QueueFullError, RunnerUnavailableError, ZygotePool
from app.runner.protocol import RunRequest, RunResult
from app.runner.ratelimit import RateLimiter


def error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    body = {"status": status, "code": code, "message": message, "field": None}
    return JSONResponse(body, status_code=status, headers=headers)


def create_runner_app(
    config: PoolConfig, *, token: str = "", limiter: RateLimiter | None = None
) -> FastAPI:
    limiter = limiter or RateLimiter()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = ZygotePool(config)
        await pool.start()
        app.state.pool = pool
        yield
        await pool.close()

    app = FastAPI(title="torchquiz runner", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz(request: Request) -> dict[str, Any]:
        """Whether the warm workers are up, and how busy they are."""
        return request.app.state.pool.status()  # type: ignore[no-any-return]

    @app.post("/v1/runs", response_model=RunResult)
    async def run(body: RunRequest, request: Request) -> Any:
        """Run learner code in the sandbox, within the kind's limits (or tighter ones)."""
        if token and not hmac.compare_digest(
            request.headers.get("authorization", ""), f"Bearer {token}"
        ):
            return error(401, "unauthorized", "this runner needs its bearer token")
        if body.learner and (wait := limiter.take(body.learner)):
            message = f"too many runs; try again in {wait:g} s"
            return error(429, "rate_limited", message, **{"Retry-After": str(round(wait))})
        ceiling = DEFAULT_LIMITS[body.kind]
        limits = body.limits.within(ceiling) if body.limits else ceiling
        try:
            return await request.app.state.pool.run(body.code, limits)
        except QueueFullError as exc:
            retry = str(round(exc.retry_after))
            return error(
                429, "queue_full", "the runner is busy; try again", **{"Retry-After": retry}
            )
        except RunnerUnavailableError as exc:
            return error(503, "runner_unavailable", str(exc))

    return app
