"""The Shape playground page: a GET form, so every configuration has its own address."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.core.deps import MaybeRunnerDep, learner_public_id
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.playground import form

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)


@router.get("/playground")
async def playground_page(request: Request, runner: MaybeRunnerDep) -> Response:
    params, values, problems = form.parse(request.query_params)
    result = None
    if params is not None and runner is not None:
        result = await runner.playground(params, learner_public_id(request))
    context = {
        "values": values,
        "problems": problems,
        "labels": form.LABELS,
        "result": result,
        "runner": runner is not None,
    }
    status = 422 if problems else 200
    return render_page(request, "playground/playground.html", context, status_code=status)
