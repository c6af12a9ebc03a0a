"""Reports the app opens by itself when grading or rendering a question raises: one per
question version and exception type (the unique index `uq_problem_reports_exception`), its
`occurrences` counted, reopened if it had been marked fixed.

The request that raised is being rolled back, so the report is written in a transaction of its
own. `record_error` is registered at start-up with app.core.faults, whose `reporting_errors`
goes around the grading or rendering of one version.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.bank.schema import QuestionAdapter
from app.core.db import Database, transaction, utcnow
from app.questions.models import QuestionRow, QuestionVersion
from app.reports.models import ProblemReport, ReportMessage
from app.reports.service import rendered, rendered_raw

log = logging.getLogger("torchquiz.reports")
SessionFactory = Callable[[], Session]
EXCEPTION_TYPE_LENGTH = 200  # the column's
DETAIL_LENGTH = 2000


def exception_type(exc: BaseException) -> str:
    kind = type(exc)
    return f"{kind.__module__}.{kind.__qualname__}"[:EXCEPTION_TYPE_LENGTH]


def report_exception(
    database: Database | SessionFactory,
    version_id: int,
    exc: BaseException,
    *,
    context: str,
    given: Any = None,
) -> None:
    """Open (or count once more) the exception report of this version and exception type, in
    a transaction of its own. `context` says what was being done ("grading", "rendering");
    `given`, the answer being graded. Never raises: the error being reported matters more."""
    sessions = database.sessions if isinstance(database, Database) else database
    try:
        with transaction(sessions()) as db:
            _upsert(db, version_id, exc, context, given)
    except Exception:
        log.exception("could not record the exception of question version %d", version_id)


def _upsert(db: Session, version_id: int, exc: BaseException, context: str, given: Any) -> None:
    version = db.get(QuestionVersion, version_id)
    if version is None:
        return
    question = db.get(QuestionRow, version.question_id)
    assert question is not None
    now = utcnow()
    values = {
        "public_id": str(uuid.uuid4()),
        "question_id": question.id,
        "version_id": version_id,
        "course_id": question.course_id,
        "kind": "exception",
        "seed": version.seed,
        "given": given,
        "rendered": _rendered_of(version),
        "status": "open",
        "exception_type": exception_type(exc),
        "occurrences": 1,
        "created_at": now,
        "updated_at": now,
    }
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    was_fixed = ProblemReport.status == "fixed"
    upsert = (
        dialect.insert(ProblemReport)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["version_id", "exception_type"],
            index_where=ProblemReport.exception_type.is_not(None),
            set_={
                "occurrences": ProblemReport.occurrences + 1,
                "updated_at": now,
                "status": case((was_fixed, "open"), else_=ProblemReport.status),
                "fixed_in": case((was_fixed, None), else_=ProblemReport.fixed_in),
            },
        )
        .returning(ProblemReport.id, ProblemReport.occurrences)
    )
    report_id, occurrences = db.execute(upsert).one()
    if occurrences == 1:  # new: the thread starts with what was raised
        detail = f"{context} raised {type(exc).__name__}: {exc}"[:DETAIL_LENGTH]
        db.add(ReportMessage(report_id=report_id, author_id=None, from_staff=False, body=detail))
        db.flush()


def _rendered_of(version: QuestionVersion) -> str:
    try:
        return rendered(QuestionAdapter.validate_python(version.data))
    except Exception:  # the version may be what failed to render
        return rendered_raw(version.data)


def record_error(
    db: Session | Database, version_id: int, exc: BaseException, context: str, given: Any
) -> None:
    """Record `exc`, raised while `context` ("grading", "rendering") ran on the version.

    With the request's Session: the session is rolled back first (the error ends its
    transaction anyway) and the report written on it in a transaction of its own; on SQLite a
    second connection would wait for the one this request holds. With a Database (an async
    route between two transactions): a session of its own."""
    if isinstance(db, Session):
        db.rollback()
        report_exception(lambda: db, version_id, exc, context=context, given=given)
    else:
        report_exception(db, version_id, exc, context=context, given=given)
