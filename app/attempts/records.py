"""Finding a session for a request: a plain record, with practice sessions remembered."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.attempts.models import QuizSession
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
    if record.mode == "practice":
        if len(_PRACTICE_SESSIONS) >= _PRACTICE_SESSIONS_MAX:
            _PRACTICE_SESSIONS.clear()
        _PRACTICE_SESSIONS[key] = record
    return record


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
