"""Problem report pages: the form beside a question, a learner's reports, staff threads.

The form beside a question (templates/reports/_report_form.html) posts to /reports and goes
back to the page it came from (`next`, a path on this site), which says the report was sent;
a refused form is shown again on a page of its own with the problem next to its field. Staff
pages are a course's (/courses/{slug}/reports, behind its content permissions) or, for the
shipped bank, the site administrators' (/admin/reports).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from app.accounts.web import local_path
from app.core.bounds import Position, PublicId, Slug
from app.core.deps import SessionDep
from app.core.errors import AppError
from app.core.forms import field_problems
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page, templates
from app.courses.deps import ContentViewDep, CourseAccess, course_access
from app.learners.deps import AdminDep, CsrfProtected, LearnerDep
from app.questions.deps import CatalogDep
from app.reports import service
from app.reports.models import ProblemReport
from app.reports.schemas import MessageIn, ReportIn, Status, StatusPatch
from app.reports.service import KIND_LABELS, STATUS_LABELS
from app.reports.web import file_and_announce, staff_reply

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
ContentEditDep = Annotated[CourseAccess, Depends(course_access("content:edit"))]
FormText = Annotated[str, Form()]
LEARNER_KINDS = {k: v for k, v in KIND_LABELS.items() if k != "exception"}
# For templates/reports/_report_form.html, included by pages of other features.
templates.env.globals["report_kinds"] = LEARNER_KINDS
NOTICES = {
    "sent": "Your message is added to the thread.",
    "reply": "Reply sent: the learner sees it on their report.",
    "status": "Status saved.",
}


def _parse(model: type[BaseModel], values: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    try:
        return model.model_validate(values), {}
    except ValidationError as exc:
        return None, field_problems(exc)


def _go(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def back_to(next_path: str, report: ProblemReport, position: int) -> str:
    """The page the form was on, told which report was sent for which position (the form's
    include shows it), scrolled back to that form."""
    parts = urlsplit(local_path(next_path))
    sent = urlencode({"report": report.public_id, "report_at": position})
    query = f"{parts.query}&{sent}" if parts.query else sent
    return urlunsplit(("", "", parts.path, query, f"report-{position}"))


# --- filing --------------------------------------------------------------------------------


def _new_page(
    request: Request, values: dict[str, str], problems: dict[str, str], status: int = 200
) -> Response:
    context = {"values": values, "problems": problems, "kinds": LEARNER_KINDS}
    return render_page(request, "reports/new.html", context, status_code=status)


@router.get("/reports/new")
def new_report_page(
    request: Request,
    db: SessionDep,
    session: PublicId,
    position: Position,
    next: str = "/reports",
) -> Response:
    """The report form on a page of its own (where a refused form is shown again)."""
    values = {"session": session, "position": str(position), "next": local_path(next)}
    return _new_page(request, values, {})


@router.post("/reports", dependencies=[CsrfProtected])
def file_report_form(
    request: Request,
    db: SessionDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    background: BackgroundTasks,
    session: FormText = "",
    position: FormText = "",
    kind: FormText = "",
    text: FormText = "",
    next: FormText = "/reports",
) -> Response:
    values = {"session": session, "position": position, "kind": kind, "text": text}
    form, problems = _parse(ReportIn, values)
    if form is None:
        return _new_page(request, {**values, "next": local_path(next)}, problems, status=422)
    filed = file_and_announce(request, db, catalog, learner.public_id, form, background)
    return _go(back_to(next, filed.report, form.position))


# --- a learner's own reports ---------------------------------------------------------------


@router.get("/reports")
def my_reports_page(request: Request, db: SessionDep, learner: LearnerDep) -> Response:
    context = {"reports": service.learner_reports(db, learner.known_id()), "kinds": KIND_LABELS}
    return render_page(request, "reports/mine.html", context)


def _my_report_page(
    request: Request,
    db: Session,
    report: ProblemReport,
    problems: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context = {
        "report": service.report_view(db, report, for_staff=False),
        "kinds": KIND_LABELS,
        "problems": problems or {},
        "notice": NOTICES.get(request.query_params.get("done", "")),
    }
    return render_page(request, "reports/report.html", context, status_code=status)


@router.get("/reports/{rid}")
def my_report_page(
    rid: PublicId, request: Request, db: SessionDep, learner: LearnerDep
) -> Response:
    return _my_report_page(request, db, service.learner_report(db, learner.public_id, rid))


@router.post("/reports/{rid}/messages", dependencies=[CsrfProtected])
def my_message_form(
    rid: PublicId, request: Request, db: SessionDep, learner: LearnerDep, text: FormText = ""
) -> Response:
    report = service.learner_report(db, learner.public_id, rid)
    form, problems = _parse(MessageIn, {"text": text})
    if form is None:
        return _my_report_page(request, db, report, problems, status=422)
    author = service.learner_user(db, report.learner_id)
    service.add_message(db, report, form.text, author_id=author, from_staff=False)
    return _go(f"/reports/{rid}?done=sent")


# --- staff: a course's bank, or the shipped bank for site administrators --------------------


def _staff_list(
    request: Request,
    db: Session,
    course_id: int | None,
    base: str,
    title: str,
    status: Status | None,
    question: str | None,
    extra: dict[str, Any],
) -> Response:
    context = {
        "reports": service.bank_reports(db, course_id, status=status, question=question),
        "base": base,
        "title": title,
        "filters": {"status": status or "", "question": question or ""},
        "statuses": STATUS_LABELS,
        "kinds": KIND_LABELS,
        **extra,
    }
    return render_page(request, "reports/staff_list.html", context)


def _staff_page(
    request: Request,
    db: Session,
    report: ProblemReport,
    base: str,
    can_edit: bool,
    extra: dict[str, Any],
    problems: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context = {
        "report": service.report_view(db, report, for_staff=True),
        "base": base,
        "can_edit": can_edit,
        "statuses": STATUS_LABELS,
        "kinds": KIND_LABELS,
        "problems": problems or {},
        "values": values or {},
        "notice": NOTICES.get(request.query_params.get("done", "")),
        **extra,
    }
    return render_page(request, "reports/staff_report.html", context, status_code=status)


def _course_extra(access: CourseAccess) -> dict[str, Any]:
    return {"course": access.course, "title": f"Problem reports: {access.course.title}"}


def _course_base(access: CourseAccess) -> str:
    return f"/courses/{access.course.slug}/reports"


ADMIN_BASE = "/admin/reports"
ADMIN_EXTRA = {"course": None, "title": "Problem reports on the shipped bank"}


def _reply(
    request: Request,
    db: Session,
    course_id: int | None,
    rid: str,
    text: str,
    user_id: int,
    base: str,
    extra: dict[str, Any],
) -> Response:
    report = service.staff_report(db, course_id, rid)
    form, problems = _parse(MessageIn, {"text": text})
    if form is None:
        values = {"text": text}
        return _staff_page(request, db, report, base, True, extra, problems, values, 422)
    staff_reply(db, course_id, rid, form.text, user_id)
    return _go(f"{base}/{rid}?done=reply")


def _set_status(
    request: Request,
    db: Session,
    course_id: int | None,
    rid: str,
    values: dict[str, str],
    base: str,
    extra: dict[str, Any],
) -> Response:
    report = service.staff_report(db, course_id, rid)
    fields = {"status": values["status"], "fixed_in": values["fixed_in"] or None}
    form, problems = _parse(StatusPatch, fields)
    if form is not None:
        try:
            service.set_status(db, report, form)  # refuses before it changes anything
            return _go(f"{base}/{rid}?done=status")
        except AppError as error:
            problems = {error.field or "status": error.message}
    return _staff_page(request, db, report, base, True, extra, problems, values, 422)


@router.get("/courses/{slug}/reports")
def course_reports_page(
    request: Request,
    db: SessionDep,
    access: ContentViewDep,
    status: Status | None = None,
    question: Slug | None = None,
) -> Response:
    extra = _course_extra(access)
    base = _course_base(access)
    return _staff_list(request, db, access.course.id, base, extra["title"], status, question, extra)


@router.get("/courses/{slug}/reports/{rid}")
def course_report_page(
    rid: PublicId, request: Request, db: SessionDep, access: ContentViewDep
) -> Response:
    report = service.staff_report(db, access.course.id, rid)
    can_edit = access.can("content:edit")
    return _staff_page(request, db, report, _course_base(access), can_edit, _course_extra(access))


@router.post("/courses/{slug}/reports/{rid}/messages", dependencies=[CsrfProtected])
def course_reply_form(
    rid: PublicId, request: Request, db: SessionDep, access: ContentEditDep, text: FormText = ""
) -> Response:
    user_id, base, extra = access.account.user_id, _course_base(access), _course_extra(access)
    return _reply(request, db, access.course.id, rid, text, user_id, base, extra)


@router.post("/courses/{slug}/reports/{rid}/status", dependencies=[CsrfProtected])
def course_status_form(
    rid: PublicId,
    request: Request,
    db: SessionDep,
    access: ContentEditDep,
    status: FormText = "",
    fixed_in: FormText = "",
) -> Response:
    values = {"status": status, "fixed_in": fixed_in.strip()}
    base, extra = _course_base(access), _course_extra(access)
    return _set_status(request, db, access.course.id, rid, values, base, extra)


@router.get("/admin/reports")
def shipped_reports_page(
    request: Request,
    db: SessionDep,
    admin: AdminDep,
    status: Status | None = None,
    question: Slug | None = None,
) -> Response:
    title = ADMIN_EXTRA["title"]
    return _staff_list(request, db, None, ADMIN_BASE, str(title), status, question, ADMIN_EXTRA)


@router.get("/admin/reports/{rid}")
def shipped_report_page(
    rid: PublicId, request: Request, db: SessionDep, admin: AdminDep
) -> Response:
    report = service.staff_report(db, None, rid)
    return _staff_page(request, db, report, ADMIN_BASE, True, ADMIN_EXTRA)


@router.post("/admin/reports/{rid}/messages", dependencies=[CsrfProtected])
def shipped_reply_form(
    rid: PublicId, request: Request, db: SessionDep, admin: AdminDep, text: FormText = ""
) -> Response:
    return _reply(request, db, None, rid, text, admin.user_id, ADMIN_BASE, ADMIN_EXTRA)


@router.post("/admin/reports/{rid}/status", dependencies=[CsrfProtected])
def shipped_status_form(
    rid: PublicId,
    request: Request,
    db: SessionDep,
    admin: AdminDep,
    status: FormText = "",
    fixed_in: FormText = "",
) -> Response:
    values = {"status": status, "fixed_in": fixed_in.strip()}
    return _set_status(request, db, None, rid, values, ADMIN_BASE, ADMIN_EXTRA)
