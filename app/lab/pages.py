"""The experiment lab's pages: the experiment with its run form, a run followed live, and
the learner's runs compared. Thin: everything is asked of app.lab.running and service."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.responses import Response

from app.bank.schema import LearningMode
from app.core.bounds import PublicId, Slug, shown
from app.core.clients import client_address
from app.core.errors import AppError, NotFoundError
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page, templates
from app.lab import form, live
from app.lab.api import LabDep
from app.lab.curves import compare_curves, reference_curves, run_curves
from app.lab.custom import STARTER
from app.lab.overview import LabOverview, overview, preset
from app.lab.running import Lab
from app.lab.schemas import LabRunOut, StartLabRun
from app.learners.deps import CsrfProtected, learner_public_id
from app.questions.deps import CatalogDep

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)


@router.get("/topics/{slug}/lab")
async def lab_page(slug: Slug, request: Request, catalog: CatalogDep, lab: LabDep) -> Response:
    start, values, problems = form.parse(request.query_params)
    return await _lab_page(request, slug, catalog, lab, values, problems, start=start)


@router.post("/topics/{slug}/lab", dependencies=[CsrfProtected])
async def start_from_form(
    slug: Slug, request: Request, catalog: CatalogDep, lab: LabDep
) -> Response:
    fields = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    start, values, problems = form.parse(fields)
    refused: AppError | None = None
    if start is not None:
        outcome = await _start(request, lab, start)
        if not isinstance(outcome, AppError):
            return outcome
        problems, refused = {outcome.field or "form": outcome.message}, outcome
    status = refused.status if refused else 422
    return await _lab_page(
        request, slug, catalog, lab, values, problems, status=status, start=start, refused=refused
    )


@router.post("/topics/{slug}/lab/code", dependencies=[CsrfProtected])
async def start_code_from_form(
    slug: Slug, request: Request, catalog: CatalogDep, lab: LabDep
) -> Response:
    """Advanced mode: the learner's own model, trained with the baseline's procedure."""
    fields = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    start, problems = form.parse_code(fields)
    refused: AppError | None = None
    if start is not None:
        outcome = await _start(request, lab, start)
        if not isinstance(outcome, AppError):
            return outcome
        problems, refused = {"code": outcome.message}, outcome
    _, values, _ = form.parse({})
    values |= {"code": fields.get("code", ""), "code_seed": fields.get("code_seed", "0")}
    values["code_task"] = str(bool(fields.get("code_task")))  # shown back as sent
    status = refused.status if refused else 422
    return await _lab_page(
        request, slug, catalog, lab, values, problems, status=status, refused=refused
    )


async def _start(request: Request, lab: Lab, start: StartLabRun) -> Response | AppError:
    """Start the run and go to its page, or the lab's refusal (the form shows it)."""
    try:
        run = await lab.start(learner_public_id(request), start, address=client_address(request))
    except AppError as exc:
        return exc
    url = request.url_for("lab_run_page", run_id=run.id)
    if request.headers.get("HX-Request"):  # htmx goes there itself (it would swap a redirect)
        return Response(status_code=200, headers={"HX-Redirect": str(url)})
    return RedirectResponse(url, 303)


async def _lab_page(
    request: Request,
    slug: str,
    catalog: CatalogDep,
    lab: Lab,
    values: dict[str, str],
    problems: dict[str, str],
    *,
    status: int | None = None,
    start: StartLabRun | None = None,
    refused: AppError | None = None,
) -> Response:
    """`refused`: why a run was not started (its headers, such as Retry-After, are kept)."""
    values = {name: shown(value) for name, value in values.items()}  # shown back as typed
    topic = catalog.topic(slug)
    if LearningMode.lab not in topic.topic.modes:
        raise NotFoundError(f"topic '{slug}' has no experiment lab", field="topic")
    facts = await overview(lab)
    learner = learner_public_id(request)
    _, mine = await lab.runs(learner, 20, 0)
    baseline = await _seed_zero(lab, facts, "baseline")  # read once, drawn in two charts
    context: dict[str, Any] = {
        "topic": topic,
        "lab": facts,
        "values": values,
        "problems": problems,
        "labels": form.LABELS,
        "runs": mine,
        "references": reference_curves(baseline, await _seed_zero(lab, facts, "solution")),
        "compare": compare_curves(mine, baseline),
        "solution_code": SOLUTION_CODE,
        "starter_code": _editor_code(values, mine),
        "refused_run": getattr(refused, "run_id", None),
        "size": preset("yours", start.config) if start else None,
        "runner": request.app.state.runner_state,
    }
    code = status or (422 if problems else 200)
    response = render_page(request, "lab/lab.html", context, status_code=code)
    response.headers.update(refused.headers if refused else {})
    return response


def _editor_code(values: dict[str, str], runs: list[LabRunOut]) -> str:
    """What the editor holds: the code just sent (a refused start), else the learner's latest
    own model (so a failed run's code is there to fix), else the starter."""
    latest = next((run.code for run in runs if run.code), None)
    return values.get("code") or latest or STARTER


async def _seed_zero(lab: Lab, facts: LabOverview, preset_name: str) -> LabRunOut | None:
    """A preset's reference run with seed 0, once measured."""
    figures = facts.references.get(preset_name)
    return await lab.run_view(None, figures.runs[0]) if figures else None


@router.get("/lab/runs/{run_id}")
async def lab_run_page(run_id: PublicId, request: Request, lab: LabDep) -> Response:
    run = await lab.run_view(learner_public_id(request), run_id)
    return render_page(request, "lab/run.html", {"run": run, "curves": run_curves(run)})


async def _resumed_at(run_id: PublicId, request: Request, lab: LabDep) -> int | None:
    """The change the browser has seen, from its Last-Event-ID; 404, 400 before the stream."""
    return await lab.resume_point(learner_public_id(request), run_id, live.resumed_from(request))


@router.get("/lab/runs/{run_id}/live", response_class=EventSourceResponse)
async def lab_run_live(
    run_id: PublicId,
    request: Request,
    lab: LabDep,
    after: Annotated[int | None, Depends(_resumed_at)],
) -> AsyncIterable[ServerSentEvent]:
    """Server-sent events carrying the run's live section, rendered here as on the page, each
    with its `id`: a browser that reconnects (to any server) resumes after the last it got
    (app.lab.live)."""
    section = templates.env.get_template("lab/_run_live.html")

    def render(update: live.Update) -> list[ServerSentEvent]:
        if update.run is None:
            return [live.KEEPALIVE]
        html = section.render(request=request, run=update.run, curves=run_curves(update.run))
        return [live.message("run", html, update.change)]

    updates = lab.follow(learner_public_id(request), run_id, after)
    end = ServerSentEvent(event="end", raw_data="")
    async for event in live.stream(request, updates, render, end):
        yield event


@router.post("/lab/runs/{run_id}/cancel", dependencies=[CsrfProtected])
async def cancel_from_form(run_id: PublicId, request: Request, lab: LabDep) -> Response:
    await lab.cancel(learner_public_id(request), run_id)
    return RedirectResponse(request.url_for("lab_run_page", run_id=run_id), 303)


# The solution, as the page shows it: the model the SOLUTION preset trains (app.training.loop),
# named Model as advanced mode asks, so that it can be pasted there and trained as it is.
SOLUTION_CODE = """\
import torch
from torch import nn


class Model(nn.Module):
    def __init__(self, input_size=50, hidden_size=64, num_classes=5):
        super().__init__()
        self.word_dropout = nn.Dropout(0.7)      # on the word vectors, before the RNN
        self.rnn = nn.RNN(input_size, hidden_size, batch_first=True, bidirectional=True)
        self.readout_dropout = nn.Dropout(0.5)   # on the features the classifier reads
        self.classify = nn.Linear(2 * hidden_size, num_classes)

    def forward(self, words):                    # words: (batch, seq_len, input_size)
        _, h_n = self.rnn(self.word_dropout(words))
        # h_n[-2]: the forward direction after the last word; h_n[-1]: the backward
        # direction after the first word. Both have read the whole sentence.
        both = torch.cat([h_n[-2], h_n[-1]], dim=1)
        return self.classify(self.readout_dropout(both))
"""
