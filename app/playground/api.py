"""JSON route of the Shape playground."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.core.deps import RunnerDep, learner_public_id
from app.core.routing import UnitOfWorkRoute
from app.runner.playground import PlaygroundParams, PlaygroundResult

router = APIRouter(tags=["playground"], route_class=UnitOfWorkRoute)


@router.post("/playground")
async def explore(body: PlaygroundParams, request: Request, runner: RunnerDep) -> PlaygroundResult:
    """Build nn.RNN, nn.LSTM or nn.GRU from these parameters and run it on a random input.

    Returns the shapes of out, h_n (and c_n), the parameters per layer and direction, the
    equivalent code, or the exact error PyTorch raises. No learner code runs here."""
    return await runner.playground(body, learner_public_id(request))
