"""Looking back over sessions: a practice session's summary, and a learner's sessions, to
resume one (a test left open, practice half done) or revisit a finished test."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attempts import assignments
from app.attempts.history import graded_answers
from app.attempts.models import Answer, QuizSession
from app.attempts.records import SessionRecord
from app.attempts.schemas import Mode, PracticeSummary, PracticeSummaryItem, SessionListItem
from app.attempts.service import session_view
from app.core.db import as_utc
from app.core.errors import ConflictError
from app.questions.catalog import Catalog


def practice_summary(db: Session, catalog: Catalog, session: SessionRecord) -> PracticeSummary:
    if session.mode != "practice":
        raise ConflictError("a test has a result, not a summary: see /result", field="session")
    view = session_view(db, catalog, session)
    topic = catalog.topic_by_id(db, session.topic_id)
    mine = [a for a in graded_answers(db, session.learner_id, topic) if a.session == view.id]
    items = []
    for position, version in enumerate(catalog.versions(db, session.version_ids), start=1):
        here = [a for a in mine if a.position == position]
        latest = here[-1] if here else None
        items.append(
            PracticeSummaryItem(
                position=position,
                question_id=version.id,
                difficulty=version.difficulty.value,
                attempts=len(here),
                correct=latest.correct if latest else None,
                helped=bool(latest and latest.helped),
                answer_id=latest.answer_id if latest else None,
            )
        )
    last = max((a.at for a in mine), default=view.started_at)
    return PracticeSummary(
        session=view,
        time_spent_seconds=int((last - view.started_at).total_seconds()),
        answered=sum(i.attempts > 0 for i in items),
        correct=sum(bool(i.correct) and not i.helped for i in items),
        correct_with_help=sum(bool(i.correct) and i.helped for i in items),
        items=items,
    )


def learner_sessions(
    db: Session,
    catalog: Catalog,
    learner_id: int | None,
    *,
    topic: str | None = None,
    mode: Mode | None = None,
    finished: bool | None = None,
) -> list[SessionListItem]:
    """Newest first. `finished` applies to tests (practice is never finished)."""
    if learner_id is None:
        return []
    if assignments.expire_learner(db, learner_id):
        db.expire_all()  # read the attempts just submitted afresh
    query = select(QuizSession).where(QuizSession.learner_id == learner_id)
    if topic is not None:
        query = query.where(QuizSession.topic_id == catalog.topic(topic).id)
    if mode is not None:
        query = query.where(QuizSession.mode == mode)
    if finished is not None:
        done = QuizSession.finished_at.is_not(None)
        query = query.where(done if finished else ~done)
    sessions = db.scalars(query.order_by(QuizSession.started_at.desc(), QuizSession.id.desc()))
    rows = list(sessions)
    answered = _answered_by_session(db, [s.id for s in rows])
    return [_listed(db, catalog, s, answered.get(s.id, set())) for s in rows]


def _answered_by_session(db: Session, ids: list[int]) -> dict[int, set[int]]:
    if not ids:
        return {}
    rows = db.execute(
        select(Answer.session_id, Answer.position)
        .where(Answer.session_id.in_(ids))
        .group_by(Answer.session_id, Answer.position)
    )
    found: dict[int, set[int]] = {}
    for session_id, position in rows:
        found.setdefault(session_id, set()).add(position)
    return found


def _listed(
    db: Session, catalog: Catalog, session: QuizSession, answered: set[int]
) -> SessionListItem:
    total = len(session.version_ids)
    unanswered = [p for p in range(1, total + 1) if p not in answered]
    open_ = session.finished_at is None
    return SessionListItem(
        id=session.public_id,
        mode=session.mode,
        topic=catalog.topic_by_id(db, session.topic_id).slug,
        total=total,
        answered=len(answered),
        started_at=as_utc(session.started_at),
        finished_at=as_utc(session.finished_at) if session.finished_at else None,
        percent=session.score if not open_ else None,
        resume_position=(unanswered[0] if unanswered else total) if open_ else None,
    )


def to_resume(sessions: list[SessionListItem]) -> list[SessionListItem]:
    """The newest open test and the newest practice with questions left: what "Resume" offers."""
    test = next((s for s in sessions if s.mode == "test" and s.finished_at is None), None)
    practice = next(
        (s for s in sessions if s.mode == "practice" and 0 < s.answered < s.total), None
    )
    return [s for s in (test, practice) if s is not None]
