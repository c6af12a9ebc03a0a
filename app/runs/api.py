"""JSON route for running learner code in the sandbox."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.core.clients import client_address
from app.core.routing import UnitOfWorkRoute
from app.learners.deps import learner_public_id
from app.runner.deps import RunnerDep
from app.runner.protocol import RunRequest, RunResult
from app.runs.schemas import RunCode

router = APIRouter(tags=["runs"], route_class=UnitOfWorkRoute)


@router.post("/runs")
async def run_code(body: RunCode, request: Request, runner: RunnerDep) -> RunResult:
    """Run Python with the real torch in the sandbox: output, exception, tensor shapes, limits.

    Limits: 5 s CPU, 10 s wall clock, 1 GiB memory, 64 KiB of output, no network, no files
    but a private /tmp. 429 with Retry-After when the runner is busy, or you (or your network
    address) run too often."""
    learner, address = learner_public_id(request), client_address(request)
    run = RunRequest(code=body.code, kind="snippet", learner=learner, address=address)
    return await runner.run(run)
