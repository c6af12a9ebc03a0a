"""What the report pages and API share beyond the service: filing with the staff's mail sent
after the response, and a staff reply."""

from __future__ import annotations

from fastapi import BackgroundTasks, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.questions.catalog import Catalog
from app.questions.models import QuestionRow
from app.reports import notify, service
from app.reports.models import ProblemReport
from app.reports.schemas import ReportIn


def file_and_announce(
    request: Request,
    db: Session,
    catalog: Catalog,
    learner_public_id: str,
    body: ReportIn,
    background: BackgroundTasks,
) -> service.Filed:
    """File the report; a new one is mailed to the staff once the response has gone (a
    background task: after the transaction, never failing the report)."""
    filed = service.file_report(db, catalog, learner_public_id, body)
    if filed.new:
        slug = db.scalar(select(QuestionRow.slug).where(QuestionRow.id == filed.report.question_id))
        announcement = notify.announce(
            db, filed.report, slug or "?", body.text, str(request.base_url)
        )
        background.add_task(notify.deliver, request.app.state.settings, announcement)
    return filed


def staff_reply(
    db: Session, course_id: int | None, rid: str, body: str, user_id: int
) -> ProblemReport:
    report = service.staff_report(db, course_id, rid)
    service.add_message(db, report, body, author_id=user_id, from_staff=True)
    return report
