"""The gradebook over the API: results, attempts, overrides, regrades, the audit log. Reading
asks `results:view`, changing `results:edit` (app.courses.deps); the logic is the service's
(app.gradebook.service, overrides, regrade, export), shared with the pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from app.attempts.assignments import course_assignment
from app.attempts.models import Assignment
from app.core.bounds import PublicId
from app.core.deps import SessionDep
from app.core.errors import AppError
from app.core.pagination import Limit, Offset, Page
from app.core.routing import UnitOfWorkRoute
from app.courses.deps import ResultsEditDep, ResultsViewDep
from app.gradebook import audit, export, overrides, regrade, service
from app.gradebook.schemas import (
    AttemptReviewOut,
    AuditEntryOut,
    GradebookOut,
    GradeRowOut,
    OverrideIn,
    OverrideRemoval,
    RegradeIn,
    RegradeOut,
)
from app.questions.deps import CatalogDep

router = APIRouter(prefix="/courses", tags=["gradebook"], route_class=UnitOfWorkRoute)
ASSIGNMENT = "/{slug}/assignments/{aid}"


def _assignment(db: SessionDep, access: ResultsViewDep, aid: PublicId) -> Assignment:
    return course_assignment(db, access.course.id, aid)


def _editable(db: SessionDep, access: ResultsEditDep, aid: PublicId) -> Assignment:
    return course_assignment(db, access.course.id, aid)


ViewedDep = Annotated[Assignment, Depends(_assignment)]
EditedDep = Annotated[Assignment, Depends(_editable)]


@router.get(ASSIGNMENT + "/gradebook", summary="An assignment's gradebook", name="api_gradebook")
def gradebook(db: SessionDep, assignment: ViewedDep) -> GradebookOut:
    """Every learner of the course (and anyone who attempted): attempts, best and latest grade
    (late penalty applied), override, final grade, time taken and submission of the best
    attempt; and per question version, its answers' score distribution. Staff are left out."""
    return GradebookOut.of(service.gradebook(db, assignment))


@router.get(
    ASSIGNMENT + "/gradebook.csv",
    summary="The gradebook as CSV",
    name="api_gradebook_csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def gradebook_csv(db: SessionDep, assignment: ViewedDep) -> Response:
    """One line per learner; text that a spreadsheet would run as a formula is defused."""
    return csv_response(service.gradebook(db, assignment))


def csv_response(book: service.Gradebook) -> Response:
    return Response(
        export.gradebook_csv(book),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{export.filename(book)}"'},
    )


@router.get(
    ASSIGNMENT + "/attempts/{session_id}",
    summary="One attempt, every answer graded",
    name="api_gradebook_attempt",
)
def attempt(
    session_id: PublicId, db: SessionDep, catalog: CatalogDep, assignment: ViewedDep
) -> AttemptReviewOut:
    """Every answer, its grading and the solution, in the learner's order, whatever the
    assignment's feedback rule (staff always see it). 409 while the attempt is in progress."""
    return AttemptReviewOut.of_review(service.attempt_review(db, catalog, assignment, session_id))


@router.put(
    ASSIGNMENT + "/overrides/{learner_id}",
    summary="Set a learner's grade by hand",
    name="api_set_override",
)
def set_override(
    learner_id: PublicId,
    body: OverrideIn,
    db: SessionDep,
    access: ResultsEditDep,
    assignment: EditedDep,
) -> GradeRowOut:
    """The grade that counts, with the reason (kept in the audit log with the grade before
    and after). 404 for someone not on this assignment's gradebook."""
    row = overrides.set_override(
        db,
        assignment,
        learner_id,
        percent=body.percent,
        reason=body.reason,
        actor_id=access.account.user_id,
    )
    return GradeRowOut.of(row)


@router.delete(
    ASSIGNMENT + "/overrides/{learner_id}",
    summary="Remove a grade set by hand",
    name="api_remove_override",
)
def remove_override(
    learner_id: PublicId,
    body: OverrideRemoval,
    db: SessionDep,
    access: ResultsEditDep,
    assignment: EditedDep,
) -> GradeRowOut:
    """Back to the best attempt's grade; the reason is kept in the audit log."""
    row = overrides.remove_override(
        db, assignment, learner_id, reason=body.reason, actor_id=access.account.user_id
    )
    return GradeRowOut.of(row)


@router.post(ASSIGNMENT + "/regrade", summary="Regrade after a question's fix", name="api_regrade")
def regrade_assignment(
    body: RegradeIn,
    db: SessionDep,
    catalog: CatalogDep,
    access: ResultsEditDep,
    assignment: EditedDep,
) -> RegradeOut:
    """`{"apply": false}`: the dry run, per attempt the score before and after and each
    changed answer; nothing is written. `{"apply": true, "expected": <the dry run's
    versions>}` applies it and audits each attempt; 409 if a question was published again
    since. Code questions are skipped (their grading needs the sandbox), and listed so."""
    if not body.apply:
        return RegradeOut.of(regrade.plan(db, catalog, assignment), applied=False)
    if body.expected is None:
        raise AppError("give the dry run's `versions` as `expected` to apply", field="expected")
    done = regrade.apply(db, catalog, assignment, body.expected, actor_id=access.account.user_id)
    return RegradeOut.of(done, applied=True)


@router.get("/{slug}/audit", summary="The course's audit log", name="api_audit_log")
def audit_log(
    db: SessionDep, access: ResultsViewDep, limit: Limit = 50, offset: Offset = 0
) -> Page[AuditEntryOut]:
    """Every change a person made to a grade in this course, newest first."""
    changes, total = audit.course_log(db, access.course.id, limit=limit, offset=offset)
    items = [AuditEntryOut.of(c) for c in changes]
    return Page(items=items, total=total, limit=limit, offset=offset)
