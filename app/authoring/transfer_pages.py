"""Import and export pages of a course's bank: upload a file, read its preview, confirm it;
choose a format (and questions), read the export's report, download the file. The same
functions as the API (app.authoring.transfer); a refused upload is the form again with the
problem next to the file field, and the error's status (413, 422)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request, UploadFile
from starlette.responses import RedirectResponse, Response

from app.authoring import transfer
from app.authoring.transfer_api import EditDep, export_report, file_response, read_file
from app.bank.formats.registry import NAMES
from app.core.bounds import Slug
from app.core.deps import SessionDep
from app.core.errors import AppError
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.courses.deps import ContentViewDep, CourseAccess
from app.learners.deps import CsrfProtected

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)

FORMAT_LABELS = {
    "yaml": "torchquiz YAML (zip)",
    "moodle-xml": "Moodle XML",
    "gift": "GIFT",
    "qti21": "QTI 2.1 package (Canvas, Blackboard)",
    "qti30": "QTI 3.0 package (export only)",
}
ExportFormat = Literal["yaml", "moodle-xml", "gift", "qti21", "qti30"]


def _import_page(
    request: Request,
    access: CourseAccess,
    *,
    problems: dict[str, str] | None = None,
    chosen: str = "yaml",
    notice: str | None = None,
    status: int = 200,
) -> Response:
    context = {
        "course": access.course,
        "formats": {k: FORMAT_LABELS[k] for k in transfer.IMPORT_FORMATS},
        "chosen": chosen,
        "problems": problems or {},
        "notice": notice,
    }
    return render_page(request, "authoring/import.html", context, status_code=status)


@router.get("/courses/{slug}/import")
def import_page(
    request: Request,
    db: SessionDep,
    access: EditDep,
    created: Annotated[int | None, Query(ge=0)] = None,
    changed: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    notice = None
    if created is not None and changed is not None:
        notice = f"Imported: {created} new question(s) saved as drafts, {changed} changed."
    return _import_page(request, access, notice=notice)


@router.post("/courses/{slug}/import", dependencies=[CsrfProtected])
def import_preview_form(
    request: Request,
    db: SessionDep,
    access: EditDep,
    format: Annotated[str, Form()] = "yaml",
    file: UploadFile | None = None,
) -> Response:
    if file is None or not file.filename:
        problem = {"file": "Choose a file to import."}
        return _import_page(request, access, problems=problem, chosen=format, status=422)
    try:
        pending = transfer.preview_import(
            db,
            access.course,
            format,
            read_file(file),
            file.filename,
            user_id=access.account.user_id,
        )
    except AppError as error:
        field = "format" if error.field == "format" else "file"
        problem = {field: error.message}
        return _import_page(request, access, problems=problem, chosen=format, status=error.status)
    transfer.keep_preview(db, pending)
    context: dict[str, Any] = {
        "course": access.course,
        "pending": pending,
        "preview": pending.preview,
        "format_label": FORMAT_LABELS[pending.format],
        "minutes": transfer.PENDING_SECONDS // 60,
    }
    return render_page(request, "authoring/import_preview.html", context)


@router.post("/courses/{slug}/import/{import_id}", dependencies=[CsrfProtected])
def import_confirm_form(
    import_id: Annotated[str, Path(max_length=64)],
    request: Request,
    db: SessionDep,
    access: EditDep,
) -> Response:
    try:
        applied = transfer.confirm_import(db, access.course, import_id, access.account.user_id)
    except AppError as error:
        db.rollback()  # nothing of a refused import is kept (its preview still waits)
        return _import_page(request, access, problems={"file": error.message}, status=error.status)
    url = request.url_for("import_page", slug=access.course.slug).include_query_params(
        created=len(applied.created), changed=len(applied.changed)
    )
    return RedirectResponse(url, status_code=303)


@router.get("/courses/{slug}/export")
def export_page(
    request: Request,
    db: SessionDep,
    access: ContentViewDep,
    format: ExportFormat | None = None,
    ids: Annotated[list[Slug] | None, Query()] = None,
) -> Response:
    """The form; with a format chosen, the export's report and its download link."""
    context: dict[str, Any] = {
        "course": access.course,
        "formats": {k: FORMAT_LABELS[k] for k in NAMES},
        "chosen": format or "yaml",
        "questions": transfer.question_ids(db, access.course),
        "ids": ids or [],
        "report": None,
    }
    if format is not None:
        try:
            exported = transfer.export_course(db, access.course, format, ids)
        except AppError as error:
            context["problem"] = error.message
            return render_page(request, "authoring/export.html", context, status_code=error.status)
        context["report"] = export_report(exported)
        context["filename"] = exported.filename
        context["size"] = len(exported.data)
        context["query"] = urlencode([("format", format), *(("ids", qid) for qid in ids or [])])
    return render_page(request, "authoring/export.html", context)


@router.get("/courses/{slug}/export/file")
def export_file(
    db: SessionDep,
    access: ContentViewDep,
    format: ExportFormat = "yaml",
    ids: Annotated[list[Slug] | None, Query()] = None,
) -> Response:
    return file_response(transfer.export_course(db, access.course, format, ids))
