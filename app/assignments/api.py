"""Assignments over the API: staff set them in a course (its content permissions, through
app.courses.deps); its members open them and start or continue an attempt. The same service
functions as the pages (app.assignments.staff, app.assignments.learning)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy.orm import Session

from app.assignments import learning, staff
from app.assignments.schemas import AssignmentIn, AssignmentList, AssignmentOut, AssignmentStart
from app.attempts import assignments
from app.attempts import service as attempts
from app.attempts.schemas import SessionView
from app.core.bounds import PublicId
from app.core.db import as_utc
from app.core.deps import RngDep, SessionDep
from app.core.errors import NotFoundError
from app.core.etags import NOT_MODIFIED, check_if_match, tagged
from app.core.openapi import error_responses
from app.core.routing import UnitOfWorkRoute
from app.courses.deps import ContentViewDep, CourseAccess, course_access
from app.courses.models import Course
from app.learners.deps import LearnerDep, MaybeAccountDep
from app.questions.catalog import Catalog
from app.questions.deps import CatalogDep
from app.questions.models import TopicRow

router = APIRouter(tags=["assignments"], route_class=UnitOfWorkRoute)
ContentEditDep = Annotated[CourseAccess, Depends(course_access("content:edit"))]
ASSIGNMENTS = "/courses/{slug}/assignments"
ASSIGNMENT = ASSIGNMENTS + "/{aid}"
RESUMED: dict[int | str, dict[str, Any]] = {
    200: {"model": SessionView, "description": "The open attempt, resumed"},
    **error_responses(409),
}


def topic_slug(db: Session, catalog: Catalog, topic_id: int) -> str:
    try:
        return catalog.topic_by_id(db, topic_id).slug
    except NotFoundError:  # a shipped topic since retired
        row = db.get(TopicRow, topic_id)
        return row.slug if row else ""


def assignment_out(
    db: Session, catalog: Catalog, course: Course, row: staff.AssignmentRow
) -> AssignmentOut:
    a = row.assignment
    return AssignmentOut(
        id=a.public_id,
        course=course.slug,
        title=a.title,
        rules=row.rules,
        topic=topic_slug(db, catalog, a.topic_id),
        learner_url=f"/assignments/{a.public_id}",
        archived=a.archived_at is not None,
        created_at=as_utc(a.created_at),
        updated_at=as_utc(a.updated_at),
        learners_attempted=row.learners,
        submitted_attempts=row.submitted,
    )


def _one(db: Session, catalog: Catalog, access: CourseAccess, aid: str) -> AssignmentOut:
    assignment = assignments.course_assignment(db, access.course.id, aid)
    return assignment_out(db, catalog, access.course, staff.assignment_row(db, assignment))


@router.get(ASSIGNMENTS, summary="List the course's assignments")
def list_assignments(
    db: SessionDep,
    catalog: CatalogDep,
    access: ContentViewDep,
    archived: Annotated[bool, Query(description="Include archived assignments.")] = False,
) -> AssignmentList:
    """Oldest first, each with its rules and how many learners attempted it."""
    rows = staff.list_assignments(db, access.course, archived=archived)
    found = [assignment_out(db, catalog, access.course, row) for row in rows]
    return AssignmentList(assignments=found, count=len(found))


@router.post(ASSIGNMENTS, status_code=status.HTTP_201_CREATED, summary="Set an assignment")
def create_assignment(
    body: AssignmentIn, db: SessionDep, catalog: CatalogDep, access: ContentEditDep
) -> AssignmentOut:
    """Its rules draw from the course's bank (`course-{slug}`) and shipped topics. 422 names
    the rule at fault (`rules.closes_at`...); 400 a source or question that does not exist."""
    created = staff.create(
        db, catalog, access.course, body.title, body.rules, created_by=access.account.user_id
    )
    return _one(db, catalog, access, created.public_id)


@router.get(
    ASSIGNMENT,
    summary="One of the course's assignments",
    response_model=AssignmentOut,
    responses=NOT_MODIFIED,
)
def get_assignment(
    aid: PublicId, request: Request, db: SessionDep, catalog: CatalogDep, access: ContentViewDep
) -> Response:
    """With its ETag: If-None-Match answers 304 while it is unchanged."""
    return tagged(request, _one(db, catalog, access, aid))


@router.put(
    ASSIGNMENT,
    summary="Change an assignment's title and rules",
    responses=error_responses(412),
)
def update_assignment(
    aid: PublicId,
    body: AssignmentIn,
    request: Request,
    db: SessionDep,
    catalog: CatalogDep,
    access: ContentEditDep,
) -> AssignmentOut:
    """Attempts already started keep their questions; new attempts follow the new rules.
    With If-Match (the ETag read), 412 when it was changed meanwhile."""
    check_if_match(request, _one(db, catalog, access, aid))
    assignment = assignments.course_assignment(db, access.course.id, aid)
    staff.update(db, catalog, access.course, assignment, body.title, body.rules)
    return _one(db, catalog, access, aid)


@router.delete(ASSIGNMENT, status_code=status.HTTP_204_NO_CONTENT, summary="Archive")
def archive_assignment(aid: PublicId, db: SessionDep, access: ContentEditDep) -> Response:
    """Out of the learners' sight (404 to them); its results stay for the staff."""
    staff.archive(db, assignments.course_assignment(db, access.course.id, aid))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/assignments/{aid}", summary="An assignment, as its learner sees it")
def learner_assignment(
    aid: PublicId, db: SessionDep, account: MaybeAccountDep, learner: LearnerDep
) -> AssignmentStart:
    """For the course's members: the rules, your attempts and grades, and whether you can
    start now (`refusal` says why not). 404 to anyone else."""
    assignment, course = learning.member_assignment(db, account, aid)
    return learning.start_view(db, assignment, course, learner.known_id())


@router.post(
    "/assignments/{aid}/attempts",
    status_code=status.HTTP_201_CREATED,
    responses=RESUMED,
)
def start_attempt(
    aid: PublicId,
    response: Response,
    db: SessionDep,
    catalog: CatalogDep,
    account: MaybeAccountDep,
    learner: LearnerDep,
    rng: RngDep,
) -> SessionView:
    """Start an attempt (201), or continue the one still open (200). 409 with the reason
    when none may start: not open yet, closed, or no attempts left. Answer it at
    /api/v1/sessions/{id}."""
    assignment, course = learning.member_assignment(db, account, aid)
    session, new = learning.start(db, catalog, assignment, course, learner.get_or_create(), rng)
    if not new:
        response.status_code = status.HTTP_200_OK
    return attempts.session_view(db, catalog, session)
