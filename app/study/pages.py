"""HTML pages of the study modes. Nothing is stored: a flashcard round, a picked line and a
step's answers travel in the address (GET forms), and a fix is posted to be run and shown.
Every page works without JavaScript; with it, htmx shows a card's back and a line's verdict
in place (static/js/study.js moves focus to what appeared)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from pydantic import StringConstraints
from starlette.responses import Response

from app.core.bounds import Position, Slug, Text
from app.core.errors import AnswerFormatError, AppError
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.learners.deps import CsrfProtected, LearnerDep
from app.questions.deps import CatalogDep
from app.runner.client import REFUSALS, refusal_note
from app.runner.deps import MaybeRunnerDep, RunnerStateDep
from app.runner.protocol import MAX_CODE_BYTES
from app.study import bugs, flashcards, worked
from app.study.deps import StudyDep
from app.study.schemas import StepAnswer
from app.study.service import StudyContent

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)

Marks = Annotated[str, StringConstraints(max_length=1000)]
StepNumber = Annotated[int, Query(ge=1, le=100)]
StepText = Annotated[Text, StringConstraints(max_length=500)]


@router.get("/topics/{slug}/flashcards")
def flashcards_page(
    slug: Slug,
    request: Request,
    catalog: CatalogDep,
    card: Position = 1,
    marks: Marks = "",
    show: bool = False,
) -> Response:
    """One card of the deck: its front, then (show) its back and "Knew it" / "Not yet"."""
    shown_round = flashcards.flashcard_round(catalog, slug, number=card, marks=marks, shown=show)
    return render_page(request, "study/flashcards.html", {"round": shown_round})


# --- spot the bug ---


@router.get("/topics/{slug}/bugs")
def bugs_page(slug: Slug, request: Request, catalog: CatalogDep, study: StudyDep) -> Response:
    listed = bugs.bug_list(study, catalog, slug)
    context = {"slug": slug, "title": catalog.topic(slug).topic.title, "bugs": listed}
    return render_page(request, "study/bugs.html", context)


def _bug_context(
    study: StudyContent, catalog: CatalogDep, slug: str, bug_id: str, line: int | None
) -> dict[str, Any]:
    bug = bugs.find_bug(study, catalog, slug, bug_id)
    return {
        "slug": slug,
        "title": catalog.topic(slug).topic.title,
        "bug": bugs.bug_public(bug),
        "verdict": bugs.pick_line(bug, line) if line is not None else None,
        "code": bug.code,
    }


@router.get("/topics/{slug}/bugs/{bug_id}")
def bug_page(
    slug: Slug,
    bug_id: Slug,
    request: Request,
    catalog: CatalogDep,
    study: StudyDep,
    runner_state: RunnerStateDep,
    line: Position | None = None,
) -> Response:
    """Step 1 (pick the defective line, graded at once) and step 2 (fix it, run in the sandbox)."""
    context = _bug_context(study, catalog, slug, bug_id, line)
    context["runner_note"] = runner_state.note()
    return render_page(request, "study/bug.html", context)


@router.post("/topics/{slug}/bugs/{bug_id}", dependencies=[CsrfProtected])
async def bug_fix(
    slug: Slug,
    bug_id: Slug,
    code: Annotated[Text, Form(max_length=MAX_CODE_BYTES)],
    request: Request,
    catalog: CatalogDep,
    study: StudyDep,
    learner: LearnerDep,
    runner: MaybeRunnerDep,
    runner_state: RunnerStateDep,
    line: Annotated[Position | None, Form()] = None,
) -> Response:
    """Run the fixed snippet against the hidden tests and show the page with each result."""
    context = _bug_context(study, catalog, slug, bug_id, line)
    context.update(code=code, runner_note=runner_state.note())
    bug = bugs.find_bug(study, catalog, slug, bug_id)
    try:
        context["fix"] = await bugs.check_fix(
            runner, bug, code, learner=learner.public_id, address=learner.address
        )
    except AnswerFormatError as exc:
        context["fix_error"] = exc.message
        return render_page(request, "study/bug.html", context, status_code=exc.status)
    except REFUSALS as exc:  # the runner is off, warming up or busy: nothing was run
        context["fix_refused"] = refusal_note(exc)
        status, headers = exc.status, exc.headers
        return render_page(request, "study/bug.html", context, status_code=status, headers=headers)
    return render_page(request, "study/bug.html", context)


# --- worked examples ---


@router.get("/topics/{slug}/worked")
def worked_page(slug: Slug, request: Request, catalog: CatalogDep, study: StudyDep) -> Response:
    series = worked.series_list(study, catalog, slug)
    context = {"slug": slug, "title": catalog.topic(slug).topic.title, "series_list": series}
    return render_page(request, "study/worked_list.html", context)


@router.get("/topics/{slug}/worked/{series_id}/{number:int}")
def worked_problem_page(
    slug: Slug,
    series_id: Slug,
    number: Position,
    request: Request,
    catalog: CatalogDep,
    study: StudyDep,
    step: Annotated[list[StepNumber], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    answer: Annotated[list[StepText], Query()] = [],  # noqa: B006
) -> Response:
    """Problem `number` of a series, its last number - 1 steps left to the learner; the
    answers given (step and answer, in pairs) are graded, each said in words."""
    series = worked.find_series(study, catalog, slug, series_id)
    problem = worked.problem_view(series, number)
    if len(step) != len(answer):
        raise AppError("give one answer per step: step and answer come in pairs", field="answer")
    given = [StepAnswer(step=s, answer=a) for s, a in zip(step, answer, strict=True)]
    verdicts = worked.check_steps(series, number, given) if given else []
    context = {
        "slug": slug,
        "title": catalog.topic(slug).topic.title,
        "problem": problem,
        "verdicts": {v.step: v for v in verdicts},
        "given": {g.step: g.answer for g in given},
        "total": len(series.problems),
    }
    unreadable = any(not v.readable for v in verdicts)
    return render_page(
        request, "study/worked.html", context, status_code=422 if unreadable else 200
    )
