"""Item statistics over the API: the same figures as the pages (app.statistics.service), as
JSON. Every figure is {value, n, interval: {low, high} | null}; a value is null for "n/a"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.attempts.assignments import course_assignment, default_assignment
from app.core.bounds import PublicId, Slug
from app.core.deps import SessionDep
from app.core.routing import UnitOfWorkRoute
from app.courses.deps import ResultsViewDep
from app.learners.deps import AdminDep
from app.questions.deps import CatalogDep
from app.statistics.service import AssignmentStatistics, Attempts, assignment_statistics

router = APIRouter(tags=["statistics"], route_class=UnitOfWorkRoute)


@router.get(
    "/courses/{slug}/assignments/{aid}/statistics",
    summary="An assignment's item statistics, flags included",
)
def statistics(
    db: SessionDep,
    access: ResultsViewDep,
    aid: PublicId,
    attempts: Annotated[
        Attempts, Query(description="Each learner's first submitted attempt, or all of them.")
    ] = "first",
) -> AssignmentStatistics:
    assignment = course_assignment(db, access.course.id, aid)
    return assignment_statistics(db, assignment, attempts)


@router.get(
    "/admin/topics/{slug}/statistics",
    summary="A shipped topic's test statistics, for site administrators",
)
def shipped_test_statistics(
    db: SessionDep,
    catalog: CatalogDep,
    admin: AdminDep,
    slug: Slug,
    attempts: Annotated[
        Attempts, Query(description="Each learner's first submitted attempt, or all of them.")
    ] = "first",
) -> AssignmentStatistics:
    """The same figures over a shipped topic's Test mode (its default assignment)."""
    return assignment_statistics(db, default_assignment(db, catalog.topic(slug)), attempts)
