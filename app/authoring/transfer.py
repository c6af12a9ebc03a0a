"""A course bank in and out of files, in every bank format (app.bank.formats): the pages, the
API and `torchquiz bank import/export --course` all call these.

An import is two steps. `preview_import` reads the upload through the safe readers and says
what it would create, change (content hash differs from the course's newest version), leave
unchanged, and every conflict, problem and warning; it writes nothing. `apply_import` writes
it, in the caller's one transaction: new questions as drafts, changed ones as new versions,
each with the message "imported from <file>".

Binding the confirmation to the upload: the preview is kept server-side, in the database
(`keep_preview`, a `course_imports` row: any process of the site may confirm it), under a
random `import_id`, with the upload's bytes and SHA-256, the account and course it was made
for, and what the course's bank held; it lasts `PENDING_SECONDS` (expired rows are purged:
app.operations.purge), and a course keeps its `PENDING_PER_COURSE` newest. The confirmation
(`confirm_import`) names the `import_id` and nothing else: it reads the stored bytes again
(the readers are deterministic) and applies exactly what was previewed, or, when the bank
changed meanwhile, refuses (409) and asks for a new preview. No file is sent twice, and no
client can swap the content between preview and confirmation.
"""

from __future__ import annotations

import hashlib
import inspect
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.authoring import bank
from app.authoring.models import CourseImport
from app.bank.formats import Exported, Parsed
from app.bank.formats.preview import ImportPreview, preview
from app.bank.formats.registry import FormatError, module, parse
from app.bank.formats.safety import MAX_UPLOAD_BYTES, UnsafeFileError
from app.bank.schema import AnyQuestion
from app.core.db import as_utc, utcnow
from app.core.errors import AppError, ConflictError, NotFoundError
from app.courses.models import Course
from app.questions.models import QuestionRow, QuestionVersion

PENDING_SECONDS = 30 * 60  # a preview waits this long for its confirmation
PENDING_PER_COURSE = 20  # previews a course keeps (each holds its upload); oldest dropped
IMPORT_FORMATS = ("yaml", "moodle-xml", "gift", "qti21")


class UploadTooLargeError(AppError):
    status = 413


class UnreadableUploadError(AppError):
    """Malformed or hostile (zip bomb, path traversal, XML entities): nothing is read."""

    status = 422


@dataclass
class PendingImport:
    """A previewed upload, waiting for its confirmation."""

    import_id: str
    course_id: int
    user_id: int | None
    filename: str
    format: str
    sha256: str
    parsed: Parsed
    preview: ImportPreview
    bank_state: dict[str, str]  # the course's ids and content hashes the preview was made on
    data: bytes = field(default=b"", repr=False)  # the upload, read again at confirmation


def bank_state(db: Session, course: Course) -> dict[str, str]:
    """Every question of the course: id -> content hash of its newest version."""
    rows = db.execute(
        select(QuestionRow.slug, QuestionVersion.content_hash)
        .join(QuestionVersion, QuestionVersion.id == QuestionRow.current_version_id)
        .where(QuestionRow.course_id == course.id)
    )
    return {slug: digest for slug, digest in rows}


def read_upload(fmt: str, data: bytes, filename: str) -> Parsed:
    """The upload's questions; 413 when too large, 422 naming what is wrong with the file."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadTooLargeError(
            f"{filename} is {len(data):,} bytes; the limit is {MAX_UPLOAD_BYTES:,} bytes",
            field="file",
        )
    if fmt not in IMPORT_FORMATS:
        known = ", ".join(IMPORT_FORMATS)
        message = f"cannot import the format {fmt!r}: use {known}"
        raise UnreadableUploadError(message, field="format")
    try:
        return parse(fmt, data)
    except (UnsafeFileError, FormatError) as exc:
        raise UnreadableUploadError(f"cannot import {filename}: {exc}", field="file") from None


def preview_import(
    db: Session, course: Course, fmt: str, data: bytes, filename: str, *, user_id: int | None
) -> PendingImport:
    """What importing the file would do to the course's bank; writes nothing."""
    return _previewed(
        secrets.token_urlsafe(16),
        course.id,
        user_id,
        fmt,
        data,
        filename,
        bank_state(db, course),
    )


def _previewed(
    import_id: str,
    course_id: int,
    user_id: int | None,
    fmt: str,
    data: bytes,
    filename: str,
    state: dict[str, str],
) -> PendingImport:
    parsed = read_upload(fmt, data, filename)
    return PendingImport(
        import_id=import_id,
        course_id=course_id,
        user_id=user_id,
        filename=filename,
        format=fmt,
        sha256=hashlib.sha256(data).hexdigest(),
        parsed=parsed,
        preview=preview(parsed, state),
        bank_state=state,
        data=data,
    )


def keep_preview(db: Session, pending: PendingImport) -> None:
    """Keep the preview for its confirmation (by any process), for PENDING_SECONDS; the
    course's oldest previews beyond PENDING_PER_COURSE go."""
    now = utcnow()
    db.add(
        CourseImport(
            import_id=pending.import_id,
            course_id=pending.course_id,
            user_id=pending.user_id,
            filename=pending.filename,
            format=pending.format,
            sha256=pending.sha256,
            data=pending.data,
            bank_state=pending.bank_state,
            created_at=now,
            expires_at=now + timedelta(seconds=PENDING_SECONDS),
        )
    )
    db.flush()
    newest = (
        select(CourseImport.id)
        .where(CourseImport.course_id == pending.course_id)
        .order_by(CourseImport.id.desc())
        .limit(PENDING_PER_COURSE)
    )
    db.execute(
        delete(CourseImport).where(
            CourseImport.course_id == pending.course_id, CourseImport.id.not_in(newest)
        )
    )


def confirm_import(db: Session, course: Course, import_id: str, user_id: int | None) -> Applied:
    """Apply the preview `import_id` (this course's and this account's, still waiting), in
    the caller's transaction; it is confirmed once: a second confirmation, here or in another
    process, finds no preview (404)."""
    row = db.scalar(select(CourseImport).where(CourseImport.import_id == import_id))
    waiting = (
        row is not None
        and row.course_id == course.id
        and row.user_id == user_id
        and as_utc(row.expires_at) > utcnow()
    )
    if row is None or not waiting or not _taken(db, import_id):
        raise NotFoundError(
            f"no import {import_id} is waiting (previews last {PENDING_SECONDS // 60} "
            "minutes): preview the file again",
            field="import_id",
        )
    pending = _previewed(
        row.import_id,
        row.course_id,
        row.user_id,
        row.format,
        row.data,
        row.filename,
        dict(row.bank_state),
    )
    return apply_import(db, course, pending)


def _taken(db: Session, import_id: str) -> bool:
    """Delete the preview (back if the confirmation fails: the caller's transaction); of two
    confirmations at once, only one finds the row to delete."""
    result: Any = db.execute(delete(CourseImport).where(CourseImport.import_id == import_id))
    return bool(result.rowcount == 1)


@dataclass(frozen=True)
class Applied:
    created: list[str]
    changed: list[str]
    unchanged: list[str]


def apply_import(db: Session, course: Course, pending: PendingImport) -> Applied:
    """Write the previewed import in the caller's transaction: drafts for new ids, new versions
    for changed ones. Refused (422) when the preview has problems or conflicts, and (409) when
    the course's bank changed since the preview."""
    result = pending.preview
    if not result.ok:
        raise UnreadableUploadError(
            f"{pending.filename} has {len(result.problems)} problem(s) and "
            f"{len(result.conflicts)} conflict(s): fix the file, then import it again",
            field="file",
        )
    if bank_state(db, course) != pending.bank_state:
        raise ConflictError(
            "the course's bank changed since this preview: preview the file again", field="import"
        )
    message = f"imported from {pending.filename}"
    chosen = _first_of_each(pending.parsed.questions)
    for qid in result.create:
        bank.create_question(db, course, chosen[qid], author_id=pending.user_id, message=message)
    for qid in result.change:
        row = bank.find_question(db, course, qid)
        assert row.current_version_id is not None
        bank.save_question(
            db,
            course,
            qid,
            chosen[qid],
            base_version_id=row.current_version_id,
            author_id=pending.user_id,
            message=message,
        )
    return Applied(list(result.create), list(result.change), list(result.unchanged))


def _first_of_each(questions: Sequence[AnyQuestion]) -> dict[str, AnyQuestion]:
    chosen: dict[str, AnyQuestion] = {}
    for question in questions:
        chosen.setdefault(question.id, question)
    return chosen


def question_ids(db: Session, course: Course) -> list[tuple[str, bool]]:
    """(id, retired) of each question of the course, in the bank's order."""
    rows = db.execute(
        select(QuestionRow.slug, QuestionRow.retired_at)
        .where(QuestionRow.course_id == course.id)
        .order_by(QuestionRow.position, QuestionRow.id)
    )
    return [(slug, retired is not None) for slug, retired in rows]


def export_course(
    db: Session, course: Course, fmt: str, ids: Sequence[str] | None = None
) -> Exported:
    """The course's questions at their newest versions (all but the retired, or the `ids`
    asked for, retired or not), in format `fmt`, with the report of what was skipped or
    carried in a fallback."""
    rows = list(
        db.scalars(
            select(QuestionRow)
            .where(QuestionRow.course_id == course.id)
            .order_by(QuestionRow.position, QuestionRow.id)
        )
    )
    if ids:
        known = {row.slug for row in rows}
        missing = [qid for qid in ids if qid not in known]
        if missing:
            raise NotFoundError(f"the course has no question {', '.join(missing)}", field="ids")
        rows = [row for row in rows if row.slug in set(ids)]
    else:
        rows = [row for row in rows if row.retired_at is None]
    questions = [bank.model_of(bank.version_of(db, row)) for row in rows]
    try:
        export = module(fmt).export
    except FormatError as exc:
        raise AppError(str(exc), field="format") from None
    # Every question in the course's folder, for the formats that keep folders (categories).
    given = {"topic_of": {q.id: course.slug for q in questions}}
    accepted = inspect.signature(export).parameters
    result: Exported = export(
        questions, bank_name=course.slug, **{k: v for k, v in given.items() if k in accepted}
    )
    return result
