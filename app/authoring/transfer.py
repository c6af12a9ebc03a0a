"""A course bank in and out of files, in every bank format (app.bank.formats): the pages, the
API and `torchquiz bank import/export --course` all call these.

An import is two steps. `preview_import` reads the upload through the safe readers and says
what it would create, change (content hash differs from the course's newest version), leave
unchanged, and every conflict, problem and warning; it writes nothing. `apply_import` writes
it, in the caller's one transaction: new questions as drafts, changed ones as new versions,
each with the message "imported from <file>".

Binding the confirmation to the upload: the preview is kept server-side (`PendingImports`),
under a random `import_id`, with the upload's SHA-256, its parsed questions, the account and
course it was made for, and what the course's bank held; it lasts `PENDING_SECONDS`. The
confirmation names the `import_id` and nothing else: it applies exactly what was previewed,
or, when the bank changed meanwhile, refuses (409) and asks for a new preview. No file is
sent twice, and no client can swap the content between preview and confirmation.
Multi-process gap (issue 15): a pending import lives in the process that made the preview; a
confirmation reaching another worker answers 404 ("preview it again").
"""

from __future__ import annotations

import hashlib
import inspect
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.authoring import bank
from app.bank.formats import Exported, Parsed
from app.bank.formats.preview import ImportPreview, preview
from app.bank.formats.registry import FormatError, module, parse
from app.bank.formats.safety import MAX_UPLOAD_BYTES, UnsafeFileError
from app.bank.schema import AnyQuestion
from app.core.errors import AppError, ConflictError, NotFoundError
from app.courses.models import Course
from app.questions.models import QuestionRow, QuestionVersion

PENDING_SECONDS = 30 * 60  # a preview waits this long for its confirmation
PENDING_MAX = 50  # previews kept at once (each holds its parsed questions); oldest dropped
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
    created: float = field(default_factory=time.monotonic)


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
    parsed = read_upload(fmt, data, filename)
    state = bank_state(db, course)
    return PendingImport(
        import_id=secrets.token_urlsafe(16),
        course_id=course.id,
        user_id=user_id,
        filename=filename,
        format=fmt,
        sha256=hashlib.sha256(data).hexdigest(),
        parsed=parsed,
        preview=preview(parsed, state),
        bank_state=state,
    )


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


class PendingImports:
    """Previews waiting for their confirmation, in this process (see the module's note)."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, PendingImport] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, pending: PendingImport) -> None:
        with self._lock:
            self._expire()
            self._items[pending.import_id] = pending
            while len(self._items) > PENDING_MAX:
                self._items.popitem(last=False)

    def get(self, import_id: str, course: Course, user_id: int | None) -> PendingImport:
        """The preview, if it is this course's and this account's and still waiting."""
        with self._lock:
            self._expire()
            found = self._items.get(import_id)
        if found is None or found.course_id != course.id or found.user_id != user_id:
            raise NotFoundError(
                f"no import {import_id} is waiting (previews last {PENDING_SECONDS // 60} "
                "minutes): preview the file again",
                field="import_id",
            )
        return found

    def done(self, import_id: str) -> None:
        with self._lock:
            self._items.pop(import_id, None)

    def _expire(self) -> None:
        oldest = time.monotonic() - PENDING_SECONDS
        while self._items and next(iter(self._items.values())).created < oldest:
            self._items.popitem(last=False)


_MAKING_STORE = threading.Lock()


def pending_imports(state: object) -> PendingImports:
    """The app's store (made on first use), from `request.app.state`."""
    with _MAKING_STORE:
        store = getattr(state, "course_imports", None)
        if store is None:
            store = PendingImports()
            setattr(state, "course_imports", store)  # noqa: B010 - app.state's attribute
    return store
