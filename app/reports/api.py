"""Problem reports over the API: a learner reports, staff reply and set the status.

Learners (anonymous ones included) file on a question of their own session and follow their
reports; a course's staff answer its bank's reports (content:view reads, content:edit replies
and sets the status); site administrators answer the shipped bank's under /admin/reports.
Anyone else finds no report: 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response, status

from app.core.bounds import PublicId, Slug
from app.core.deps import SessionDep
from app.core.openapi import error_responses
from app.core.pagination import Limit, Offset, Page, page_of
from app.core.routing import UnitOfWorkRoute
from app.courses.deps import ContentViewDep, CourseAccess, course_access
from app.learners.deps import AdminDep, LearnerDep
from app.questions.deps import CatalogDep
from app.reports import service
from app.reports.schemas import (
    MessageIn,
    ReportFiled,
    ReportIn,
    ReportOut,
    ReportSummary,
    Status,
    StatusPatch,
)
from app.reports.web import file_and_announce, staff_reply

router = APIRouter(tags=["reports"], route_class=UnitOfWorkRoute)
ContentEditDep = Annotated[CourseAccess, Depends(course_access("content:edit"))]
COURSE_REPORTS = "/courses/{slug}/reports"
COURSE_REPORT = COURSE_REPORTS + "/{rid}"


# --- learners ------------------------------------------------------------------------------


@router.post(
    "/reports",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": ReportFiled, "description": "Added to my open report on that question"},
        **error_responses(404),
    },
)
def file_report(
    body: ReportIn,
    request: Request,
    response: Response,
    db: SessionDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    background: BackgroundTasks,
) -> ReportFiled:
    """Report a problem with the question at `position` of one of my sessions. 201 with a new
    report; 200 when I had an open report on that question version already: the text joins
    its thread (`added_to_existing`). 404 for a session that is not mine."""
    filed = file_and_announce(request, db, catalog, learner.public_id, body, background)
    if not filed.new:
        response.status_code = status.HTTP_200_OK
    view = service.report_view(db, filed.report, for_staff=False)
    return ReportFiled(**view.model_dump(), added_to_existing=not filed.new)


@router.get("/reports")
def my_reports(
    db: SessionDep, learner: LearnerDep, limit: Limit = 50, offset: Offset = 0
) -> Page[ReportSummary]:
    """My reports, most recently active first, each with its status."""
    found = service.learner_reports(db, learner.known_id())
    return Page[ReportSummary](**page_of(found, limit=limit, offset=offset))


@router.get("/reports/{rid}")
def my_report(rid: PublicId, db: SessionDep, learner: LearnerDep) -> ReportOut:
    """One of my reports with its thread (staff are not named)."""
    report = service.learner_report(db, learner.public_id, rid)
    return service.report_view(db, report, for_staff=False)


@router.post("/reports/{rid}/messages", status_code=status.HTTP_201_CREATED)
def add_my_message(
    rid: PublicId, body: MessageIn, db: SessionDep, learner: LearnerDep
) -> ReportOut:
    """Add to the thread of one of my reports."""
    report = service.learner_report(db, learner.public_id, rid)
    author = service.learner_user(db, report.learner_id)
    service.add_message(db, report, body.text, author_id=author, from_staff=False)
    return service.report_view(db, report, for_staff=False)


# --- a course's staff ----------------------------------------------------------------------


@router.get(COURSE_REPORTS)
def course_reports(
    db: SessionDep,
    access: ContentViewDep,
    status: Status | None = None,
    question: Slug | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ReportSummary]:
    """The reports on the course's bank, by status and question id."""
    found = service.bank_reports(db, access.course.id, status=status, question=question)
    return Page[ReportSummary](**page_of(found, limit=limit, offset=offset))


@router.get(COURSE_REPORT)
def course_report(rid: PublicId, db: SessionDep, access: ContentViewDep) -> ReportOut:
    report = service.staff_report(db, access.course.id, rid)
    return service.report_view(db, report, for_staff=True)


@router.post(COURSE_REPORT + "/messages", status_code=status.HTTP_201_CREATED)
def reply(rid: PublicId, body: MessageIn, db: SessionDep, access: ContentEditDep) -> ReportOut:
    """Reply in the thread; the learner sees it on their report."""
    report = staff_reply(db, access.course.id, rid, body.text, access.account.user_id)
    return service.report_view(db, report, for_staff=True)


@router.patch(COURSE_REPORT, responses=error_responses(422))
def set_status(
    rid: PublicId, body: StatusPatch, db: SessionDep, access: ContentEditDep
) -> ReportOut:
    """open, acknowledged, fixed (with `fixed_in`: a version number of the question; 422
    naming `fixed_in` otherwise) or wont_fix."""
    report = service.set_status(db, service.staff_report(db, access.course.id, rid), body)
    return service.report_view(db, report, for_staff=True)


# --- the shipped bank: site administrators -------------------------------------------------


@router.get("/admin/reports")
def shipped_reports(
    db: SessionDep,
    admin: AdminDep,
    status: Status | None = None,
    question: Slug | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ReportSummary]:
    """The reports on the shipped bank's questions."""
    found = service.bank_reports(db, None, status=status, question=question)
    return Page[ReportSummary](**page_of(found, limit=limit, offset=offset))


@router.get("/admin/reports/{rid}")
def shipped_report(rid: PublicId, db: SessionDep, admin: AdminDep) -> ReportOut:
    return service.report_view(db, service.staff_report(db, None, rid), for_staff=True)


@router.post("/admin/reports/{rid}/messages", status_code=status.HTTP_201_CREATED)
def reply_shipped(rid: PublicId, body: MessageIn, db: SessionDep, admin: AdminDep) -> ReportOut:
    report = staff_reply(db, None, rid, body.text, admin.user_id)
    return service.report_view(db, report, for_staff=True)


@router.patch("/admin/reports/{rid}", responses=error_responses(422))
def set_shipped_status(
    rid: PublicId, body: StatusPatch, db: SessionDep, admin: AdminDep
) -> ReportOut:
    report = service.set_status(db, service.staff_report(db, None, rid), body)
    return service.report_view(db, report, for_staff=True)
