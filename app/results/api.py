"""The results API for integrations (an LMS's code): learners by the LMS's id for them, and
attempts listed with cursor pagination. Reading asks `results:view`, adding a learner
`results:edit` (app.courses.deps); a learner lists their own sessions at /me/attempts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from app.attempts import summary
from app.attempts.schemas import Mode, SessionListItem
from app.core.bounds import PublicId, Slug
from app.core.deps import SessionDep
from app.core.pagination import (
    Cursor,
    CursorPage,
    Cursors,
    CursorsDep,
    Keyset,
    Limit,
    next_link,
)
from app.core.routing import UnitOfWorkRoute
from app.courses.deps import ResultsEditDep, ResultsViewDep
from app.learners.deps import LearnerDep
from app.questions.deps import CatalogDep
from app.results import service
from app.results.schemas import (
    AttemptItem,
    AttemptStatus,
    ExternalLearnerIn,
    ExternalLearnerOut,
    Issuer,
    Subject,
)

router = APIRouter(prefix="/courses/{slug}", tags=["results"], route_class=UnitOfWorkRoute)
me_router = APIRouter(prefix="/me", tags=["results"], route_class=UnitOfWorkRoute)
EXTERNAL = "/learners/external"
CREATED: dict[int | str, dict[str, Any]] = {
    201: {"model": ExternalLearnerOut, "description": "Made, or enrolled, by this request"}
}


@router.put(EXTERNAL, summary="Find or add a learner by their LMS id", responses=CREATED)
def put_external_learner(
    body: ExternalLearnerIn, response: Response, db: SessionDep, access: ResultsEditDep
) -> ExternalLearnerOut:
    """The account of (issuer, subject), made if new (no password: it signs in through the
    LMS), enrolled in the course: 201 when this made or enrolled it, 200 when it was there.
    Sending it again changes nothing. `learner_id` is the id the gradebook shows."""
    found = service.put_external_learner(db, access.course, body)
    if found.created or found.enrolled:
        response.status_code = status.HTTP_201_CREATED
    return found


@router.get(EXTERNAL, summary="A learner of the course by their LMS id")
def get_external_learner(
    issuer: Annotated[Issuer, Query()],
    subject: Annotated[Subject, Query()],
    db: SessionDep,
    access: ResultsViewDep,
) -> ExternalLearnerOut:
    """404 when no learner enrolled in the course has this id."""
    return service.get_external_learner(db, access.course, issuer, subject)


@router.get("/attempts", summary="The course's attempts, by cursor")
def list_attempts(
    request: Request,
    response: Response,
    db: SessionDep,
    access: ResultsViewDep,
    cursors: CursorsDep,
    assignment: Annotated[PublicId | None, Query(description="An assignment's id.")] = None,
    learner: Annotated[PublicId | None, Query(description="A learner's public id.")] = None,
    issuer: Annotated[Issuer | None, Query(description="With `subject`: an LMS id.")] = None,
    subject: Annotated[Subject | None, Query(description="With `issuer`.")] = None,
    status: AttemptStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> CursorPage[AttemptItem]:
    """Every attempt at the course's assignments (staff previews left out), oldest first:
    score, percent and grade (late penalty applied) once submitted. Follow `next_cursor` (or
    the Link header) until it is null; attempts started meanwhile come on the later pages."""
    filters = service.AttemptFilters(assignment, learner, issuer, subject, status)
    after = cursors.load(cursor) if cursor else None
    items, last = service.course_attempts(db, access.course, filters, limit=limit, after=after)
    return CursorPage[AttemptItem](items=items, next_cursor=_next(request, response, cursors, last))


@me_router.get("/attempts", summary="My sessions, by cursor")
def my_attempts(
    request: Request,
    response: Response,
    db: SessionDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    cursors: CursorsDep,
    topic: Slug | None = None,
    mode: Mode | None = None,
    finished: Annotated[bool | None, Query(description="Tests: finished or still open.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> CursorPage[SessionListItem]:
    """My practice and test sessions, newest first (the list of GET /sessions), by cursor:
    sessions started while paging do not shift the pages."""
    after = cursors.load(cursor) if cursor else None
    found = summary.learner_sessions(
        db, catalog, learner.known_id(), topic=topic, mode=mode, finished=finished
    )
    found.sort(key=lambda s: (s.started_at, s.id), reverse=True)
    if after is not None:
        found = [s for s in found if (s.started_at, s.id) < (after.at, after.id)]
    end = found[limit - 1] if len(found) > limit else None
    last = Keyset(end.started_at, end.id) if end else None
    next_cursor = _next(request, response, cursors, last)
    return CursorPage[SessionListItem](items=found[:limit], next_cursor=next_cursor)


def _next(
    request: Request, response: Response, cursors: Cursors, last: Keyset | None
) -> str | None:
    """The next page's cursor, also as a Link header; None on the last page."""
    if last is None:
        return None
    cursor = cursors.dump(last)
    response.headers["Link"] = next_link(request, cursor)
    return cursor
