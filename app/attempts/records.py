"""Finding a session for a request: a plain record, with practice sessions remembered."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from app.attempts.models import Answer, QuizSession
from app.attempts.rules import GRACE
from app.core import events
from app.core.db import as_utc, utcnow
from app.core.errors import NotFoundError
from app.learners.models import Learner


@dataclass(frozen=True)
class SessionRecord:
    """A session as read for one request: a plain value, cheaper to load than an ORM object
    (every session request loads one) and safe to pass around."""

    id: int
    public_id: str
    learner_id: int
    topic_id: int
    mode: str
    version_ids: list[int]
    filters: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None
    score: float | None
    assignment_id: int | None
    attempt: int | None
    deadline_at: datetime | None

    @property
    def option_seed(self) -> str | None:
        """What orders a choice question's options (app.attempts.order): the session's id, or
        None where its assignment shows them in the file's order."""
        return None if self.filters.get("shuffle_options") is False else self.public_id

    @classmethod
    def of(cls, row: Any) -> SessionRecord:
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


_SESSIONS = QuizSession.__table__
# Built once: every session request runs it, and building a select costs more than running it.
_LEARNERS_SESSION = (
    select(*(_SESSIONS.c[f.name] for f in fields(SessionRecord)))
    .join(Learner, QuizSession.learner_id == Learner.id)
    .where(QuizSession.public_id == bindparam("session"), Learner.public_id == bindparam("learner"))
)


# A practice session never changes once started (its questions, learner and topic are fixed),
# so its lookup is remembered; tests change when finished and are always read afresh.
_PRACTICE_SESSIONS: dict[tuple[str, str], SessionRecord] = {}
_PRACTICE_SESSIONS_MAX = 10_000


def get_session(db: Session, learner_public_id: str, public_id: str) -> SessionRecord:
    key = (learner_public_id, public_id)
    cached = _PRACTICE_SESSIONS.get(key)
    if cached is not None:
        return cached
    params = {"session": public_id, "learner": learner_public_id}
    # On the session's connection: the ORM's execute path costs more than this query.
    row = db.connection().execute(_LEARNERS_SESSION, params).one_or_none()
    # Someone else's session is as unknown as a missing one.
    if row is None:
        raise NotFoundError(f"no session '{public_id}'", field="session")
    record = SessionRecord.of(row)
    if time_is_up(record):
        # Time ran out with the attempt open: it counts as submitted at its deadline.
        assert record.deadline_at is not None
        record = submit(db, record, as_utc(record.deadline_at))
    if record.mode == "practice":
        if len(_PRACTICE_SESSIONS) >= _PRACTICE_SESSIONS_MAX:
            _PRACTICE_SESSIONS.clear()
        _PRACTICE_SESSIONS[key] = record
    return record


def percent_of(points: float, total: int) -> float:
    """A test's score in percent, from its answers' points (each question is worth 1)."""
    return round(100 * points / total, 1) if total else 0.0


def submit(db: Session, session: SessionRecord, at: datetime) -> SessionRecord:
    """Mark a test submitted at `at`, with its score: once, whichever tab or process asks
    first (the others find it submitted). Reads only the stored answers' points."""
    points = db.scalar(
        select(func.coalesce(func.sum(Answer.score), 0.0)).where(
            Answer.session_id == session.id, Answer.slot.is_not(None)
        )
    )
    submitted = db.execute(
        update(QuizSession)
        .where(QuizSession.id == session.id, QuizSession.finished_at.is_(None))
        .values(finished_at=at, score=percent_of(points or 0.0, len(session.version_ids)))
    )
    record = reload_session(db, session.id)
    # Told once per attempt, by the call that submitted it (webhooks, LMS grades: outbox rows).
    if submitted.rowcount == 1 and record.assignment_id is not None:  # type: ignore[attr-defined]
        events.attempt_submitted(db, submitted_event(record, points or 0.0))
    return record


def submitted_event(record: SessionRecord, points: float) -> events.AttemptSubmitted:
    """The domain event of a just-submitted attempt, as plain values (app.core.events)."""
    assert record.assignment_id is not None and record.finished_at is not None
    at = as_utc(record.finished_at)
    deadline = as_utc(record.deadline_at) if record.deadline_at else None
    return events.AttemptSubmitted(
        session_id=record.id,
        session_public_id=record.public_id,
        assignment_id=record.assignment_id,
        learner_id=record.learner_id,
        attempt=record.attempt,
        points=points,
        total=len(record.version_ids),
        percent=record.score or 0.0,
        started_at=as_utc(record.started_at),
        submitted_at=at,
        timed_out=deadline is not None and at >= deadline,
    )


def time_is_up(session: SessionRecord, now: datetime | None = None) -> bool:
    """Whether an open attempt's deadline, and the grace for an answer in flight, are past."""
    if session.finished_at is not None or session.deadline_at is None:
        return False
    return (now or utcnow()) > as_utc(session.deadline_at) + GRACE


def reload_session(db: Session, session_id: int) -> SessionRecord:
    """Read afresh, after this request changed it."""
    row = db.connection().execute(select(_SESSIONS).where(_SESSIONS.c.id == session_id)).one()
    return SessionRecord.of(row)


def version_at(session: SessionRecord, position: int) -> int:
    """The question version at a 1-based position, or a 404 naming the session's range."""
    if not 1 <= position <= len(session.version_ids):
        raise NotFoundError(
            f"position {position} is outside this session (1 to {len(session.version_ids)})",
            field="position",
        )
    return session.version_ids[position - 1]
