"""Domain events, handed to whoever listens: the features that tell other systems (webhooks,
an LMS's grade passback) register handlers at start-up (app.main); the code where the thing
happens calls the event without knowing who listens.

Handlers run inside the caller's transaction with plain values, and only write rows (outbox
messages): never the network, so a slow receiver never holds a learner's submit, and a
rolled-back change never announces itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class AttemptSubmitted:
    """A test attempt just submitted and scored (once per attempt, by whichever request or
    process submitted it). `percent` is the attempt's own score, before any late penalty or
    staff override (the gradebook's final grade may differ)."""

    session_id: int
    session_public_id: str
    assignment_id: int
    learner_id: int
    attempt: int | None
    points: float
    total: int
    percent: float
    started_at: datetime
    submitted_at: datetime
    # Submitted by the server at its deadline (time ran out) rather than by the learner.
    timed_out: bool = False


@dataclass(frozen=True)
class ReportFiled:
    """A learner's new problem report on a question (not a message added to one of theirs)."""

    report_public_id: str
    report_id: int
    course_id: int | None
    question_id: int
    question_slug: str | None
    version_id: int
    learner_id: int | None
    kind: str
    text: str
    filed_at: datetime


AttemptHandler = Callable[[Session, AttemptSubmitted], None]
ReportHandler = Callable[[Session, ReportFiled], None]
# (db, assignment id, learner id): a grade changed other than by an attempt (an override set
# or removed, a regrade applied).
GradeHandler = Callable[[Session, int, int], None]
_attempt_handlers: list[AttemptHandler] = []
_report_handlers: list[ReportHandler] = []
_grade_handlers: list[GradeHandler] = []


def on_attempt_submitted(handler: AttemptHandler) -> None:
    """Call `handler` for every submitted attempt (registered once, however often asked)."""
    if handler not in _attempt_handlers:
        _attempt_handlers.append(handler)


def on_report_filed(handler: ReportHandler) -> None:
    """Call `handler` for every new problem report (registered once, however often asked)."""
    if handler not in _report_handlers:
        _report_handlers.append(handler)


def on_grade_changed(handler: GradeHandler) -> None:
    """Call `handler` for every grade staff change by hand or by a regrade (registered once,
    however often asked)."""
    if handler not in _grade_handlers:
        _grade_handlers.append(handler)


def grade_changed(db: Session, assignment_id: int, learner_id: int) -> None:
    for handle in list(_grade_handlers):
        handle(db, assignment_id, learner_id)


def attempt_submitted(db: Session, event: AttemptSubmitted) -> None:
    for handle in list(_attempt_handlers):
        handle(db, event)


def report_filed(db: Session, event: ReportFiled) -> None:
    for handle in list(_report_handlers):
        handle(db, event)
