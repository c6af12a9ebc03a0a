"""Telling staff about a new report: by email to the course's content editors and owners (site
administrators for the shipped bank), sent after the response, outside the request's
transaction, so that a slow or failing mail server never holds or fails a report.

`announce` runs in the route's transaction (it reads who to tell); `deliver` runs afterwards
as a background task with plain values only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.mail import send_mail
from app.courses.models import Course, CourseStaff
from app.learners.models import User
from app.reports.models import ProblemReport
from app.reports.service import KIND_LABELS

log = logging.getLogger("torchquiz.reports")
NOTIFIED_ROLES = ("editor", "owner")  # those who can fix a question


@dataclass(frozen=True)
class Announcement:
    """A new report, as plain values for after the transaction: who to tell, and what."""

    report_id: str
    addresses: tuple[str, ...]
    subject: str
    body: str


def recipients(db: Session, course_id: int | None) -> list[str]:
    """The course's staff who may edit its questions; the site's administrators for the
    shipped bank."""
    if course_id is None:
        query = select(User.email).where(User.site_role == "admin")
    else:
        query = (
            select(User.email)
            .join(CourseStaff, CourseStaff.user_id == User.id)
            .where(CourseStaff.course_id == course_id, CourseStaff.content_role.in_(NOTIFIED_ROLES))
        )
    return sorted({email for email in db.scalars(query) if email})


def announce(
    db: Session, report: ProblemReport, question: str, text: str, base_url: str
) -> Announcement:
    course = db.get(Course, report.course_id) if report.course_id is not None else None
    base = base_url.rstrip("/")
    link = (
        f"{base}/courses/{course.slug}/reports/{report.public_id}"
        if course is not None
        else f"{base}/admin/reports/{report.public_id}"
    )
    where = f"the course “{course.title}”" if course is not None else "the shipped bank"
    body = (
        f"A learner reported a problem with the question “{question}” of {where}.\n\n"
        f"Kind: {KIND_LABELS.get(report.kind, report.kind)}\n"
        + (f"What they wrote:\n{text}\n" if text else "")
        + f"\nRead it, reply and set its status here: {link}\n"
    )
    subject = f"Problem report on {question}"
    return Announcement(report.public_id, tuple(recipients(db, report.course_id)), subject, body)


def deliver(settings: Settings, announcement: Announcement) -> None:
    """Mail each address. Never raises: it runs after the response,
    and the report is stored whatever happens to the mail."""
    for address in announcement.addresses:
        try:
            send_mail(settings, address, announcement.subject, announcement.body)
        except Exception:  # send_mail logs SMTP failures itself; anything else, here
            log.exception("report %s: mail to %s failed", announcement.report_id, address)
    # Webhooks on a new report go through the outbox, from the report's own transaction
    # (app.core.events.report_filed in app.reports.service.file_report), not from here.
