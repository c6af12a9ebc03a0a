"""Problem reports: a learner files one on a question of their own session, staff (or site
administrators, for the shipped bank) reply and set its status. Both faces call these.

A report is kept as the learner saw the question: its version, variant seed, their latest
answer there and the prompt as rendered, so a later edit of the question does not change what
the report is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from app.attempts import records
from app.attempts.models import Answer, QuizSession
from app.bank.grading import letter
from app.bank.schema import AnyQuestion, ChoiceQuestion
from app.core import events
from app.core.db import as_utc, utcnow
from app.core.errors import AppError, NotFoundError
from app.core.markdown import render, render_inline
from app.learners.models import Learner, User
from app.questions.catalog import Catalog
from app.questions.models import QuestionRow, QuestionVersion
from app.reports.models import ProblemReport, ReportMessage
from app.reports.schemas import (
    MessageOut,
    ReportIn,
    ReportOut,
    ReportSummary,
    Status,
    StatusPatch,
)

KIND_LABELS = {
    "answer_wrong": "The marked answer is wrong",
    "unclear": "The question is unclear",
    "typo": "A typo",
    "code_broken": "The code does not run",
    "other": "Something else",
    "exception": "The app failed grading or showing it",
}
STATUS_LABELS: dict[str, str] = {
    "open": "Open",
    "acknowledged": "Acknowledged",
    "fixed": "Fixed",
    "wont_fix": "Won't fix",
}
# Still being worked on: a learner's second report on the same version joins this thread.
STILL_OPEN = ("open", "acknowledged")


class InvalidReportError(AppError):
    status = 422
    code = "validation_error"


def status_text(status: str, fixed_in: int | None) -> str:
    if status == "fixed" and fixed_in is not None:
        return f"Fixed in version {fixed_in}"
    return STATUS_LABELS.get(status, status)


# --- filing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filed:
    report: ProblemReport
    new: bool  # False: the text went to the learner's open report on this version


def file_report(db: Session, catalog: Catalog, learner_public_id: str, body: ReportIn) -> Filed:
    """A report on the question at `position` of one of the learner's own sessions (anyone
    else's is a 404, as app.attempts has it). One open report per learner and version: filing
    again adds the text to that thread."""
    session = records.get_session(db, learner_public_id, body.session)
    version_id = records.version_at(session, body.position)
    author = learner_user(db, session.learner_id)
    existing = db.scalar(
        select(ProblemReport)
        .where(
            ProblemReport.learner_id == session.learner_id,
            ProblemReport.version_id == version_id,
            ProblemReport.status.in_(STILL_OPEN),
            ProblemReport.exception_type.is_(None),
        )
        .order_by(ProblemReport.id.desc())
        .limit(1)
    )
    if existing is not None:
        text = body.text or f"Reported again: {KIND_LABELS[body.kind].lower()}."
        add_message(db, existing, text, author_id=author, from_staff=False)
        return Filed(existing, new=False)
    version = db.get(QuestionVersion, version_id)
    question = db.get(QuestionRow, version.question_id) if version else None
    assert version is not None and question is not None  # a session's versions exist
    report = ProblemReport(
        question_id=question.id,
        version_id=version_id,
        course_id=question.course_id,
        learner_id=session.learner_id,
        session_id=session.id,
        position=body.position,
        kind=body.kind,
        seed=version.seed,
        given=_latest_given(db, session.id, body.position),
        rendered=rendered(catalog.version(db, version_id)),
    )
    db.add(report)
    db.flush()
    if body.text:
        add_message(db, report, body.text, author_id=author, from_staff=False)
    events.report_filed(db, filed_event(report, question.slug, body.text or ""))
    return Filed(report, new=True)


def filed_event(report: ProblemReport, slug: str, text: str) -> events.ReportFiled:
    """The domain event of a new report, as plain values (app.core.events)."""
    return events.ReportFiled(
        report_public_id=report.public_id,
        report_id=report.id,
        course_id=report.course_id,
        question_id=report.question_id,
        question_slug=slug,
        version_id=report.version_id,
        learner_id=report.learner_id,
        kind=report.kind,
        text=text,
        filed_at=as_utc(report.created_at),
    )


def _latest_given(db: Session, session_id: int, position: int) -> Any:
    """The newest answer at the position (practice keeps every attempt; a test one per slot)."""
    return db.scalar(
        select(Answer.given)
        .where(Answer.session_id == session_id, Answer.position == position)
        .order_by(Answer.id.desc())
        .limit(1)
    )


def learner_user(db: Session, learner_id: int | None) -> int | None:
    """The learner's account, if they have one (a message's author)."""
    if learner_id is None:
        return None
    return db.scalar(select(Learner.user_id).where(Learner.id == learner_id))


def rendered(question: AnyQuestion) -> str:
    """The prompt as pages render it, and a choice question's options under their own
    letters (the file's order: the letters `given` is stored in)."""
    html = render(question.prompt)
    if isinstance(question, ChoiceQuestion):
        items = Markup("").join(
            Markup("<li>{}. {}</li>").format(letter(i), render_inline(o.text))
            for i, o in enumerate(question.options)
        )
        html = html + Markup('<ul class="report-options">') + items + Markup("</ul>")
    return str(html)


def rendered_raw(data: dict[str, Any]) -> str:
    """For a version that cannot be read or rendered: its prompt as plain, escaped text."""
    prompt = data.get("prompt") if isinstance(data, dict) else None
    return str(Markup("<pre>{}</pre>").format(escape(str(prompt or ""))))


# --- threads -------------------------------------------------------------------------------


def add_message(
    db: Session, report: ProblemReport, body: str, *, author_id: int | None, from_staff: bool
) -> ReportMessage:
    message = ReportMessage(
        report_id=report.id, author_id=author_id, from_staff=from_staff, body=body
    )
    db.add(message)
    report.updated_at = utcnow()
    db.flush()
    return message


def set_status(db: Session, report: ProblemReport, patch: StatusPatch) -> ProblemReport:
    """`fixed` names the version that fixes it: a version number the question has."""
    if patch.status == "fixed":
        if patch.fixed_in is None:
            raise InvalidReportError(
                "say which version fixes it: `fixed_in`, a version number", field="fixed_in"
            )
        found = db.scalar(
            select(QuestionVersion.id)
            .where(
                QuestionVersion.question_id == report.question_id,
                QuestionVersion.number == patch.fixed_in,
            )
            .limit(1)
        )
        if found is None:
            raise InvalidReportError(
                f"the question has no version {patch.fixed_in}", field="fixed_in"
            )
    elif patch.fixed_in is not None:
        raise InvalidReportError("`fixed_in` goes with the status `fixed` only", field="fixed_in")
    report.status, report.fixed_in = patch.status, patch.fixed_in
    report.updated_at = utcnow()
    db.flush()
    return report


# --- finding -------------------------------------------------------------------------------


def learner_report(db: Session, learner_public_id: str, rid: str) -> ProblemReport:
    """One of the learner's own reports; anyone else's is as unknown as a missing one."""
    report = db.scalar(
        select(ProblemReport)
        .join(Learner, Learner.id == ProblemReport.learner_id)
        .where(ProblemReport.public_id == rid, Learner.public_id == learner_public_id)
    )
    if report is None:
        raise NotFoundError(f"no report '{rid}'", field="report")
    return report


def staff_report(db: Session, course_id: int | None, rid: str) -> ProblemReport:
    """A report on the course's bank (None: the shipped bank); another's is a 404."""
    report = db.scalar(
        select(ProblemReport).where(_in_bank(course_id), ProblemReport.public_id == rid)
    )
    if report is None:
        raise NotFoundError(f"no report '{rid}' here", field="report")
    return report


def _in_bank(course_id: int | None) -> ColumnElement[bool]:
    if course_id is None:
        return ProblemReport.course_id.is_(None)
    return ProblemReport.course_id == course_id


_SUMMARY = (
    select(ProblemReport, QuestionRow.slug, QuestionVersion.number)
    .join(QuestionRow, QuestionRow.id == ProblemReport.question_id)
    .join(QuestionVersion, QuestionVersion.id == ProblemReport.version_id)
    .order_by(ProblemReport.updated_at.desc(), ProblemReport.id.desc())
)


def bank_reports(
    db: Session, course_id: int | None, *, status: Status | None = None, question: str | None = None
) -> list[ReportSummary]:
    """A bank's reports, most recently active first; by status, and by question id."""
    query = _SUMMARY.where(_in_bank(course_id))
    if status is not None:
        query = query.where(ProblemReport.status == status)
    if question is not None:
        query = query.where(QuestionRow.slug == question)
    return [_summary(r, slug, number) for r, slug, number in db.execute(query)]


def learner_reports(db: Session, learner_id: int | None) -> list[ReportSummary]:
    if learner_id is None:
        return []
    query = _SUMMARY.where(ProblemReport.learner_id == learner_id)
    return [_summary(r, slug, number) for r, slug, number in db.execute(query)]


def _summary(report: ProblemReport, slug: str, number: int) -> ReportSummary:
    return ReportSummary(
        id=report.public_id,
        question=slug,
        version=number,
        kind=report.kind,
        status=report.status,
        status_text=status_text(report.status, report.fixed_in),
        fixed_in=report.fixed_in,
        occurrences=report.occurrences,
        created_at=as_utc(report.created_at),
        updated_at=as_utc(report.updated_at),
    )


def report_view(db: Session, report: ProblemReport, *, for_staff: bool) -> ReportOut:
    """The report and its thread. Learners see no names: staff are "staff" to them."""
    slug, number = db.execute(
        select(QuestionRow.slug, QuestionVersion.number)
        .join(QuestionVersion, QuestionVersion.question_id == QuestionRow.id)
        .where(QuestionVersion.id == report.version_id)
    ).one()
    session = (
        db.scalar(select(QuizSession.public_id).where(QuizSession.id == report.session_id))
        if report.session_id
        else None
    )
    rows = db.execute(
        select(ReportMessage, User.display_name, User.email)
        .outerjoin(User, User.id == ReportMessage.author_id)
        .where(ReportMessage.report_id == report.id)
        .order_by(ReportMessage.id)
    )
    messages = [
        MessageOut(
            from_staff=m.from_staff,
            author=(name or email) if for_staff else None,
            body=m.body,
            created_at=as_utc(m.created_at),
        )
        for m, name, email in rows
    ]
    return ReportOut(
        **_summary(report, slug, number).model_dump(),
        seed=report.seed,
        session=session,
        position=report.position,
        given=report.given,
        rendered_html=report.rendered,
        messages=messages,
    )
