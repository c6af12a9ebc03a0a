"""The Shape playground page: a GET form, so every configuration has its own address."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.core.clients import client_address
from app.core.errors import AppError
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.learners.deps import learner_public_id
from app.playground import form
from app.runner.client import REFUSALS, refusal_note
from app.runner.deps import MaybeRunnerDep, RunnerStateDep

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)


@router.get("/playground")
async def playground_page(
    request: Request, runner: MaybeRunnerDep, runner_state: RunnerStateDep
) -> Response:
    """The form, and what PyTorch builds from its parameters (the defaults on a first visit);
    while the runner warms up (or when it is off) the page says so in place of the result, with
    503 (and Retry-After while warming up) when the form asked for one."""
    params, values, problems = form.parse(request.query_params)
    result, note = None, runner_state.note()
    refused: AppError | None = None
    if params is not None and runner is not None and note is None:
        try:
            learner, address = learner_public_id(request), client_address(request)
            result = await runner.playground(params, learner, address=address)
        except REFUSALS as exc:
            refused, note = exc, refusal_note(exc)
    elif params is not None and "cell" in request.query_params:  # asked, not just visited
        refused = runner_state.error()
    context = {
        "values": values,
        "problems": problems,
        "labels": form.LABELS,
        "result": result,
        "note": note,
    }
    status = 422 if problems else refused.status if refused else 200
    response = render_page(request, "playground/playground.html", context, status_code=status)
    response.headers.update(refused.headers if refused else {})
    return response
