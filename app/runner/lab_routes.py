"""The runner's lab routes: start a training job, follow its events, cancel it.

A job's config comes from the app, which has already checked it against the lab's rules (the
task's size and procedure: app.lab.config). The runner parses it with the same model, as any
input at a service boundary, and checks nothing more: it trains what it is sent. Refusals are
errors (app.runner.errors) that the service's handler renders; the token and readiness are
checked for every route here by the service (app.runner.server).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from app.core.errors import NotFoundError
from app.runner.lab_pool import LabJob, LabPool
from app.training.config import LabConfig

router = APIRouter(prefix="/v1/lab/jobs")


class LabJobRequest(BaseModel):
    config: LabConfig = Field(description="As the app validated it; parsed, not judged, here.")
    learner: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=64)  # as in RunRequest


def _pool(request: Request) -> LabPool:
    return request.app.state.lab  # type: ignore[no-any-return]


def _job(request: Request, job_id: int) -> LabJob:
    if job := _pool(request).job(job_id):
        return job
    raise NotFoundError(f"no lab job {job_id}")


@router.post("", status_code=202)
async def submit(body: LabJobRequest, request: Request) -> dict[str, Any]:
    """Queue a training run; 429 when the queue is full (queue_full), the learner has one going
    (run_in_progress) or the caller's address holds its share of the queue (queue_share)."""
    config = body.config.model_dump(mode="json")
    job = _pool(request).submit(config, body.learner, body.address)
    return {"id": job.id, "events": job.events}


@router.get("/{job_id}/events")
async def events(job_id: int, request: Request, after: int = 0) -> StreamingResponse:
    """The job's events as JSON lines, from index `after`, until the final one."""
    job, pool = _job(request, job_id), _pool(request)

    async def lines() -> AsyncIterator[bytes]:
        async for event in pool.follow(job, after):
            yield (json.dumps(event) + "\n").encode()

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.post("/{job_id}/cancel")
async def cancel(job_id: int, request: Request) -> dict[str, Any]:
    job = _job(request, job_id)
    _pool(request).cancel(job)
    return {"id": job.id, "cancel_requested": True}
