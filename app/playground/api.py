"""JSON route of the Shape playground."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.core.clients import client_address
from app.core.routing import UnitOfWorkRoute
from app.learners.deps import learner_public_id
from app.playground import service
from app.runner.deps import RunnerDep
from app.runner.playground import PlaygroundParams, PlaygroundResult

router = APIRouter(tags=["playground"], route_class=UnitOfWorkRoute)


@router.post("/playground")
async def explore(body: PlaygroundParams, request: Request, runner: RunnerDep) -> PlaygroundResult:
    """Build nn.RNN, nn.LSTM or nn.GRU from these parameters and run it on a random input.

    Returns the shapes of out, h_n (and c_n), the parameters per layer and direction, the
    equivalent code, or the exact error PyTorch raises. No learner code runs here. A request
    over the cost bounds (parameters, FLOP, recurrent steps) is refused: 422 too_costly."""
    service.refuse_if_too_costly(body)
    learner, address = learner_public_id(request), client_address(request)
    return await runner.playground(body, learner, address=address)
