"""Item statistics pages: an assignment's figures and plots, a course's flags. Thin: the figures
are app.statistics.service's, the pictures app.statistics.plots'."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.attempts.assignments import course_assignment, default_assignment
from app.attempts.models import Assignment
from app.core.bounds import PublicId, Slug
from app.core.deps import SessionDep
from app.core.guides import guide_page
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.courses.deps import ResultsViewDep
from app.learners.deps import AdminDep
from app.questions.deps import CatalogDep
from app.statistics import plots
from app.statistics.service import (
    AssignmentStatistics,
    Attempts,
    assignment_statistics,
    course_statistics,
)

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)


def _plots(stats: AssignmentStatistics) -> dict[str, object]:
    return {
        "histogram": plots.histogram(stats.percents),
        "scatter": plots.scatter(
            [
                (q.label, q.figures.facility.value, q.figures.discrimination_index.value)
                for q in stats.questions
            ]
        ),
        # One per question, in the questions' order (None without options).
        "option_bars": [
            plots.option_bars(
                q.label, [(o.letter, o.top_share.value, o.bottom_share.value) for o in q.options]
            )
            if q.options
            else None
            for q in stats.questions
        ],
    }


@router.get("/courses/{slug}/assignments/{aid}/statistics")
def statistics_page(
    request: Request,
    db: SessionDep,
    access: ResultsViewDep,
    aid: PublicId,
    attempts: Annotated[Attempts, Query()] = "first",
) -> Response:
    assignment = course_assignment(db, access.course.id, aid)
    course = access.course
    crumbs = [
        (request.url_for("course_page", slug=course.slug).path, course.title),
        (request.url_for("course_statistics_page", slug=course.slug).path, "Statistics"),
    ]
    return _statistics_page(request, db, assignment, attempts, crumbs)


@router.get("/admin/topics/{slug}/statistics")
def shipped_test_statistics_page(
    request: Request,
    db: SessionDep,
    catalog: CatalogDep,
    admin: AdminDep,
    slug: Slug,
    attempts: Annotated[Attempts, Query()] = "first",
) -> Response:
    """A shipped topic's Test mode (its default assignment), for site administrators: which
    of the shipped bank's questions learners miss."""
    assignment = default_assignment(db, catalog.topic(slug))
    crumbs = [(request.url_for("topic_page", slug=slug).path, catalog.topic(slug).topic.title)]
    return _statistics_page(request, db, assignment, attempts, crumbs)


def _statistics_page(
    request: Request,
    db: Session,
    assignment: Assignment,
    attempts: Attempts,
    crumbs: list[tuple[str, str]],
) -> Response:
    stats = assignment_statistics(db, assignment, attempts)
    context = {"stats": stats, "crumbs": crumbs, "here": request.url.path, **_plots(stats)}
    return render_page(request, "statistics/assignment.html", context)


@router.get("/courses/{slug}/statistics")
def course_statistics_page(request: Request, db: SessionDep, access: ResultsViewDep) -> Response:
    every = course_statistics(db, access.course.id)
    context = {"course": access.course, "assignments": every}
    return render_page(request, "statistics/course.html", context)


@router.get("/statistics/formulas")
def formulas_page(request: Request) -> Response:
    """docs/statistics.md as a page: every formula the statistics pages use."""
    return guide_page(request, "statistics.md")
