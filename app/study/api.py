"""JSON routes of the study modes: the same service as the pages. Nothing is stored."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.core.bounds import Position, Slug
from app.core.clients import client_address
from app.core.routing import UnitOfWorkRoute
from app.learners.deps import learner_public_id
from app.questions.deps import CatalogDep
from app.runner.deps import MaybeRunnerDep
from app.study import bugs, flashcards, worked
from app.study.deps import StudyDep
from app.study.schemas import (
    BugPublic,
    BugSummary,
    FixIn,
    FixResult,
    FlashcardView,
    LinePick,
    LineVerdict,
    ProblemView,
    SeriesSummary,
    StepAnswers,
    StepVerdict,
)

router = APIRouter(tags=["study"], route_class=UnitOfWorkRoute)


@router.get("/topics/{slug}/flashcards")
def list_flashcards(slug: Slug, catalog: CatalogDep) -> list[FlashcardView]:
    """The topic's flashcards, each naming the section of the notes it comes from."""
    return flashcards.deck(catalog, slug)


@router.get("/topics/{slug}/bugs")
def list_bugs(slug: Slug, catalog: CatalogDep, study: StudyDep) -> list[BugSummary]:
    """Spot the bug: the topic's snippets, each with exactly one defective line."""
    return bugs.bug_list(study, catalog, slug)


@router.get("/topics/{slug}/bugs/{bug_id}")
def get_bug(slug: Slug, bug_id: Slug, catalog: CatalogDep, study: StudyDep) -> BugPublic:
    """One snippet: its code, line by line, hints and hidden tests' names (never the line)."""
    return bugs.bug_public(bugs.find_bug(study, catalog, slug, bug_id))


@router.post("/topics/{slug}/bugs/{bug_id}/line")
def pick_line(
    slug: Slug, bug_id: Slug, body: LinePick, catalog: CatalogDep, study: StudyDep
) -> LineVerdict:
    """Is this the defective line? The explanation comes with the right one."""
    return bugs.pick_line(bugs.find_bug(study, catalog, slug, bug_id), body.line)


@router.post("/topics/{slug}/bugs/{bug_id}/fix")
async def check_fix(
    slug: Slug,
    bug_id: Slug,
    body: FixIn,
    request: Request,
    catalog: CatalogDep,
    study: StudyDep,
    runner: MaybeRunnerDep,
) -> FixResult:
    """Run the fixed snippet in the sandbox against the hidden tests: each result in words.
    422 for the snippet unchanged; 429 or 503 (with Retry-After) when it cannot run now."""
    bug = bugs.find_bug(study, catalog, slug, bug_id)
    learner, address = learner_public_id(request), client_address(request)
    return await bugs.check_fix(runner, bug, body.code, learner=learner, address=address)


@router.get("/topics/{slug}/worked")
def list_worked(slug: Slug, catalog: CatalogDep, study: StudyDep) -> list[SeriesSummary]:
    """Worked-example series: problems on one idea whose last steps fade to the learner."""
    return worked.series_list(study, catalog, slug)


@router.get("/topics/{slug}/worked/{series_id}/problems/{number}")
def get_problem(
    slug: Slug, series_id: Slug, number: Position, catalog: CatalogDep, study: StudyDep
) -> ProblemView:
    """Problem `number` (from 1): its last number - 1 steps are left to the learner."""
    return worked.problem_view(worked.find_series(study, catalog, slug, series_id), number)


@router.post("/topics/{slug}/worked/{series_id}/problems/{number}/answers")
def answer_steps(
    slug: Slug,
    series_id: Slug,
    number: Position,
    body: StepAnswers,
    catalog: CatalogDep,
    study: StudyDep,
) -> list[StepVerdict]:
    """Grade answers to the problem's faded steps (blank ones are left out)."""
    series = worked.find_series(study, catalog, slug, series_id)
    return worked.check_steps(series, number, body.answers)
