"""The runner's lab routes: start a training job, follow its events, cancel it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from app.lab.config import LabConfig
from app.runner.lab_pool import AddressShareError, LabJob, LabPool, LearnerBusyError
from app.runner.pool import QueueFullError

Refusal = Callable[[Request], JSONResponse | None]


class LabJobRequest(BaseModel):
    config: LabConfig
    learner: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=64)  # as in RunRequest


def lab_router(
    refusal: Refusal, error: Callable[..., JSONResponse], busy: Callable[..., JSONResponse]
) -> APIRouter:
    router = APIRouter(prefix="/v1/lab/jobs")

    def pool(request: Request) -> LabPool:
        return request.app.state.lab  # type: ignore[no-any-return]

    def job_or_404(request: Request, job_id: int) -> LabJob | JSONResponse:
        job = pool(request).job(job_id)
        return job if job else error(404, "not_found", f"no lab job {job_id}")

    @router.post("", status_code=202)
    async def submit(body: LabJobRequest, request: Request) -> Any:
        """Queue a training run; 429 when the queue is full, the learner has one going or the
        caller's address holds its share of the queue."""
        if refused := refusal(request):
            return refused
        config = body.config.model_dump(mode="json")
        try:
            job = pool(request).submit(config, body.learner, body.address)
        except QueueFullError as exc:
            return busy(exc)
        except LearnerBusyError as exc:
            return error(429, "run_in_progress", str(exc), **{"Retry-After": "5"})
        except AddressShareError as exc:
            return error(429, "queue_share", str(exc), **{"Retry-After": "5"})
        return {"id": job.id, "events": job.events}

    @router.get("/{job_id}/events")
    async def events(job_id: int, request: Request, after: int = 0) -> Any:
        """The job's events as JSON lines, from index `after`, until the final one."""
        if refused := refusal(request):
            return refused
        job = job_or_404(request, job_id)
        if isinstance(job, JSONResponse):
            return job

        async def lines() -> AsyncIterator[bytes]:
            async for event in pool(request).follow(job, after):
                yield (json.dumps(event) + "\n").encode()

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    @router.post("/{job_id}/cancel")
    async def cancel(job_id: int, request: Request) -> Any:
        if refused := refusal(request):
            return refused
        job = job_or_404(request, job_id)
        if isinstance(job, JSONResponse):
            return job
        pool(request).cancel(job)
        return {"id": job.id, "cancel_requested": True}

    return router
