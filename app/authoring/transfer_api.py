"""A course bank in and out of files over the API: preview an upload, confirm it, export the
bank. The same functions as the pages and the command line (app.authoring.transfer)."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, UploadFile, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from app.authoring import transfer
from app.bank.formats import Exported
from app.bank.formats.safety import MAX_UPLOAD_BYTES
from app.core.bounds import Slug
from app.core.deps import SessionDep
from app.core.routing import UnitOfWorkRoute
from app.courses.deps import ContentViewDep, CourseAccess, course_access

router = APIRouter(prefix="/courses", tags=["course banks"], route_class=UnitOfWorkRoute)
EditDep = Annotated[CourseAccess, Depends(course_access("content:edit"))]
ImportFormat = Literal["yaml", "moodle-xml", "gift", "qti21"]
ExportFormat = Literal["yaml", "moodle-xml", "gift", "qti21", "qti30"]


class ProblemOut(BaseModel):
    path: str = Field(description="The file, or the question's name and number, it concerns.")
    field: str
    message: str


class ConflictOut(BaseModel):
    question: str
    reason: str


class ImportPreviewOut(BaseModel):
    import_id: str = Field(description="Confirm with POST .../imports/{import_id}.")
    filename: str
    format: str
    sha256: str = Field(description="The upload's hash: the confirmation applies this upload.")
    create: list[str] = Field(description="Ids new to the course's bank: created as drafts.")
    change: list[str] = Field(description="Ids whose content differs: saved as new versions.")
    unchanged: list[str]
    conflicts: list[ConflictOut]
    problems: list[ProblemOut] = Field(description="Any problem stops the confirmation.")
    warnings: list[ProblemOut]
    ok: bool = Field(description="No problems and no conflicts: it can be confirmed.")

    @classmethod
    def of(cls, pending: transfer.PendingImport) -> ImportPreviewOut:
        found = pending.preview
        return cls(
            import_id=pending.import_id,
            filename=pending.filename,
            format=pending.format,
            sha256=pending.sha256,
            create=found.create,
            change=found.change,
            unchanged=found.unchanged,
            conflicts=[ConflictOut(question=c.question, reason=c.reason) for c in found.conflicts],
            problems=[ProblemOut(**vars(p)) for p in found.problems],
            warnings=[ProblemOut(**vars(p)) for p in found.warnings],
            ok=found.ok,
        )


class ImportAppliedOut(BaseModel):
    created: list[str]
    changed: list[str]
    unchanged: list[str]


def read_file(file: UploadFile) -> bytes:
    """The upload, read no further than one byte past the limit."""
    return file.file.read(MAX_UPLOAD_BYTES + 1)


@router.post(
    "/{slug}/imports",
    status_code=status.HTTP_201_CREATED,
    summary="Preview an import into the course's bank",
)
def preview_import(
    file: UploadFile,
    db: SessionDep,
    access: EditDep,
    format: Annotated[ImportFormat, Query(description="The file's format.")],
) -> ImportPreviewOut:
    """What importing the file would create, change and leave; nothing is written until the
    preview is confirmed. 413 for a file over the limit, 422 naming what is wrong with a
    malformed or hostile one (zip bomb, path traversal, XML entities or DTDs)."""
    pending = transfer.preview_import(
        db,
        access.course,
        format,
        read_file(file),
        file.filename or "upload",
        user_id=access.account.user_id,
    )
    transfer.keep_preview(db, pending)
    return ImportPreviewOut.of(pending)


@router.post("/{slug}/imports/{import_id}", summary="Confirm a previewed import")
def confirm_import(
    import_id: Annotated[str, Path(max_length=64)],
    db: SessionDep,
    access: EditDep,
) -> ImportAppliedOut:
    """Apply exactly the upload the preview read, in one transaction: 404 when no such preview
    waits (they last 30 minutes), 409 when the bank changed since, 422 when the preview had
    problems or conflicts."""
    applied = transfer.confirm_import(db, access.course, import_id, access.account.user_id)
    return ImportAppliedOut(
        created=applied.created, changed=applied.changed, unchanged=applied.unchanged
    )


@router.get(
    "/{slug}/export",
    summary="Export the course's bank",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def export_bank(
    db: SessionDep,
    access: ContentViewDep,
    format: Annotated[ExportFormat, Query(description="The format to write.")] = "yaml",
    ids: Annotated[list[Slug] | None, Query(description="Only these questions.")] = None,
) -> Response:
    """The file; its report in the `X-Export-Report` header (JSON: the questions `skipped` and
    those carried in a `fallbacks`, each with the reason)."""
    exported = transfer.export_course(db, access.course, format, ids)
    return file_response(exported)


def export_report(exported: Exported) -> dict[str, list[dict[str, str]]]:
    return {
        "skipped": [vars(left) for left in exported.skipped],
        "fallbacks": [vars(left) for left in exported.fallbacks],
    }


def file_response(exported: Exported) -> Response:
    report = json.dumps(export_report(exported), ensure_ascii=True)  # a header is ASCII
    headers = {
        "Content-Disposition": f'attachment; filename="{exported.filename}"',
        "X-Export-Report": report,
    }
    return Response(exported.data, media_type=exported.media_type, headers=headers)
