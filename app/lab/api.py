"""JSON routes of the experiment lab: the task, starting a run, following it live (server-sent
events), its result, cancelling it, and the learner's runs."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from app.core.bounds import PublicId
from app.core.clients import client_address
from app.core.errors import ErrorBody
from app.core.pagination import Limit, Offset, Page
from app.core.routing import UnitOfWorkRoute
from app.lab import live
from app.lab.overview import LabOverview, overview
from app.lab.running import Lab
from app.lab.schemas import LabRunOut, StartLabRun
from app.learners.deps import learner_public_id

router = APIRouter(prefix="/lab", tags=["lab"], route_class=UnitOfWorkRoute)


async def get_lab(request: Request) -> Lab:
    return request.app.state.lab  # type: ignore[no-any-return]


LabDep = Annotated[Lab, Depends(get_lab)]


@router.get("")
async def lab_overview(lab: LabDep) -> LabOverview:
    """The task and its constraints, the presets with their parameter counts, the data set's
    design, and the reference figures measured by real runs (once they are measured)."""
    return await overview(lab)


@router.post("/runs", status_code=202)
async def start_run(body: StartLabRun, request: Request, lab: LabDep) -> LabRunOut:
    """Queue a training run in the runner. 422 naming the constraint a task run breaks; 429
    with Retry-After while you have a run going, the queue is full (for your own model, `code`:
    the runner's lab code queue) or your network address holds its share of it; 503 when the
    runner is unavailable. A refused run is not stored. An identical earlier run (same config,
    seed and torch) answers at once, already done."""
    return await lab.start(learner_public_id(request), body, address=client_address(request))


@router.get("/runs")
async def my_runs(
    request: Request, lab: LabDep, limit: Limit = 20, offset: Offset = 0
) -> Page[LabRunOut]:
    """Your runs, newest first."""
    total, items = await lab.runs(learner_public_id(request), limit, offset)
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/runs/{run_id}")
async def get_run(run_id: PublicId, request: Request, lab: LabDep) -> LabRunOut:
    """One of your runs (or a reference run): config, per-epoch metrics, result and verdict."""
    return await lab.run_view(learner_public_id(request), run_id)


async def resume_point(
    run_id: PublicId,
    request: Request,
    lab: LabDep,
    last_event_id_header: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=40,
            description="The `id` of the last event received: the stream resumes after it, "
            "on any server (a browser's EventSource sends it when it reconnects).",
        ),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Query(max_length=40, description="Last-Event-ID, for clients that cannot set headers."),
    ] = None,
) -> int | None:
    """The change the client has seen (None: a new client). A dependency, so that its 404 and
    400 answer before the stream starts."""
    resumed = last_event_id_header or last_event_id
    return await lab.resume_point(learner_public_id(request), run_id, resumed)


@router.get(
    "/runs/{run_id}/events",
    response_class=EventSourceResponse,
    responses={
        400: {"model": ErrorBody, "description": "Last-Event-ID is not an event of this run"},
    },
)
async def run_events(
    run_id: PublicId,
    request: Request,
    lab: LabDep,
    after: Annotated[int | None, Depends(resume_point)],
) -> AsyncIterable[ServerSentEvent]:
    """Server-sent events, each with an `id`: `run` with the whole run (as GET /runs/{id})
    at once and after each change (started, each epoch, the end), then `end`. A finished run
    sends one `run` and `end`. Resumed with Last-Event-ID, the stream sends what came after
    it: an `epoch` event per epoch missed (`{"epoch": k, ...}`), then `run`; every epoch
    exactly once, whichever server answers. A server shutting down ends its streams with
    `retry: 1000`: reconnect with Last-Event-ID. See app/lab/live.py for the whole format."""
    updates = lab.follow(learner_public_id(request), run_id, after)
    end = ServerSentEvent(event="end", raw_data="{}")
    async for event in live.stream(request, updates, live.api_messages, end):
        yield event


@router.post("/runs/{run_id}/cancel")
async def cancel_run(run_id: PublicId, request: Request, lab: LabDep) -> LabRunOut:
    """Stop a queued or running run; a finished run is returned unchanged."""
    return await lab.cancel(learner_public_id(request), run_id)
