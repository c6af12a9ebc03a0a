"""Practice and test sessions: start, answer, finish. Both faces (API and pages) call these."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import Table, delete, insert, select, text
from sqlalchemy.orm import Session

from app.attempts import assignments, help
from app.attempts.drawing import practice_order
from app.attempts.history import GradedAnswer, graded_answers, latest_wrong
from app.attempts.models import Answer, Flag, QuizSession
from app.attempts.order import Order, option_order, to_canonical, to_shown
from app.attempts.records import SessionRecord, version_at
from app.attempts.schemas import (
    AnswerIn,
    PracticeFeedback,
    SessionQuestion,
    SessionView,
    StartSession,
    TestAck,
)
from app.bank.grading import Grade, code_answer, grade, unanswered
from app.bank.schema import AnyQuestion, CodeQuestion
from app.core.db import add_once, as_utc, utcnow
from app.core.errors import AppError, ConflictError, NotFoundError
from app.core.faults import reporting_errors
from app.learners.models import Learner
from app.questions.catalog import Catalog, CatalogQuestion, CatalogTopic
from app.questions.service import (
    filter_questions,
    practice_question,
    public_question,
    question_in_order,
    solution,
    solution_in_order,
    with_choices,
)


def start_session(
    db: Session, catalog: Catalog, learner: Learner, request: StartSession, *, rng: random.Random
) -> SessionRecord:
    topic = catalog.topic(request.topic)
    if request.mode == "test":
        assignment = assignments.default_assignment(db, topic)
        return assignments.start_attempt(db, catalog, assignment, learner, rng=rng)
    history = graded_answers(db, learner.id, topic)
    chosen, filters = _practice_questions(catalog, topic, request, history, rng)
    if not chosen:
        raise AppError("no questions match these filters", field="filters")
    session = QuizSession(
        learner_id=learner.id,
        topic_id=topic.id,
        mode=request.mode,
        version_ids=[q.pick_version(rng) for q in chosen],
        filters=filters,
    )
    db.add(session)
    db.flush()
    return SessionRecord.of(session)


def _practice_questions(
    catalog: Catalog,
    topic: CatalogTopic,
    request: StartSession,
    history: list[GradedAnswer],
    rng: random.Random,
) -> tuple[list[CatalogQuestion], dict[str, object]]:
    if request.mistakes_only:
        wrong = latest_wrong(history, topic)
        return [catalog.question(a.slug) for a in wrong], {"mistakes_only": True}
    if request.tag is not None and request.tag not in topic.tags():
        raise NotFoundError(f"no tag '{request.tag}' in topic '{topic.slug}'", field="tag")
    chosen = filter_questions(topic, difficulty=request.difficulty, tag=request.tag)
    filters = {"difficulty": request.difficulty, "tag": request.tag}
    return practice_order(chosen, history, rng), {k: v for k, v in filters.items() if v is not None}


_ANSWERS = Answer.__table__
assert isinstance(_ANSWERS, Table)
_INSERT_ANSWER = insert(_ANSWERS)


# The distinct positions of a session's answers, one index seek per position (a "loose index
# scan"): a practice session can hold any number of attempts, and DISTINCT would read them all.
_ANSWERED_POSITIONS = text("""
    WITH RECURSIVE answered(position) AS (
        SELECT min(position) FROM answers WHERE session_id = :session
        UNION ALL
        SELECT (SELECT min(position) FROM answers
                WHERE session_id = :session AND position > answered.position)
        FROM answered WHERE answered.position IS NOT NULL
    )
    SELECT position FROM answered WHERE position IS NOT NULL
""")


def _answered_positions(db: Session, session: SessionRecord) -> list[int]:
    rows = db.connection().execute(_ANSWERED_POSITIONS, {"session": session.id})
    return [position for (position,) in rows]


def test_answers(db: Session, session: SessionRecord) -> dict[int, Answer]:
    """A test's answers by slot (one each, at most one per question)."""
    rows = db.scalars(
        select(Answer).where(Answer.session_id == session.id, Answer.slot.is_not(None))
    )
    return {a.slot: a for a in rows if a.slot is not None}


def session_view(db: Session, catalog: Catalog, session: SessionRecord) -> SessionView:
    now = utcnow()
    end = as_utc(session.finished_at) if session.finished_at else now
    deadline = as_utc(session.deadline_at) if session.deadline_at else None
    left = None
    if deadline is not None and session.finished_at is None:
        left = max(0, int((deadline - now).total_seconds()))
    return SessionView(
        id=session.public_id,
        mode=session.mode,
        topic=catalog.topic_by_id(db, session.topic_id).slug,
        total=len(session.version_ids),
        filters=session.filters,
        started_at=as_utc(session.started_at),
        finished_at=as_utc(session.finished_at) if session.finished_at else None,
        elapsed_seconds=int((end - as_utc(session.started_at)).total_seconds()),
        answered_positions=_answered_positions(db, session),
        flagged_positions=flagged_positions(db, session),
        assignment=assignment.public_id
        if (assignment := assignments.assignment_of(db, session))
        else None,
        attempt=session.attempt,
        deadline_at=deadline,
        seconds_left=left,
    )


def flagged_positions(db: Session, session: SessionRecord) -> list[int]:
    if session.mode != "test":
        return []
    rows = db.scalars(
        select(Flag.position).where(Flag.session_id == session.id).order_by(Flag.position)
    )
    return list(rows)


def _set_flag(db: Session, session: SessionRecord, position: int, flagged: bool | None) -> None:
    """Mark or unmark a test question to revisit; idempotent, from any tab."""
    if flagged is None:
        return
    if session.mode != "test":
        raise AppError("flags are for tests: leave out `flagged` in practice", field="flagged")
    if not flagged:
        db.execute(delete(Flag).where(Flag.session_id == session.id, Flag.position == position))
        return
    add_once(db, Flag(session_id=session.id, position=position))  # once, whatever the tabs


def session_question(
    db: Session, catalog: Catalog, session: SessionRecord, position: int
) -> SessionQuestion:
    version_id = version_at(session, position)
    order = _order(db, catalog, session, position, version_id)
    with reporting_errors(db, version_id, context="rendering"):
        return _session_question(db, catalog, session, position, version_id, order)


def _session_question(
    db: Session,
    catalog: Catalog,
    session: SessionRecord,
    position: int,
    version_id: int,
    order: Order | None,
) -> SessionQuestion:
    if session.mode == "test":
        # A test shows its saved answer so a reload loses nothing.
        saved = test_answers(db, session).get(position)
        return SessionQuestion(
            position=position,
            question=question_in_order(catalog.view(db, version_id, public_question), order),
            answered=saved is not None,
            saved_answer=to_shown(saved.given, order) if saved else None,
        )
    answered = db.scalar(
        select(Answer.id)
        .where(Answer.session_id == session.id, Answer.position == position)
        .limit(1)
    )
    practice = question_in_order(catalog.view(db, version_id, practice_question), order)
    practice = help.with_revealed_hints(practice, help.revealed(db, session, position))
    return SessionQuestion(position=position, question=practice, answered=answered is not None)


def _order(
    db: Session, catalog: Catalog, session: SessionRecord, position: int, version_id: int
) -> Order | None:
    """This attempt's order of the question's options (app.attempts.order)."""
    return option_order(catalog.version(db, version_id), session.option_seed, position)


@dataclass(frozen=True)
class CodeToRun:
    """A code answer: it is graded from a sandbox run, between two transactions."""

    question: CodeQuestion
    code: str
    version_id: int


class FinishedError(ConflictError):
    """An answer to a test that has ended (a page sends the learner to its result)."""


def question_to_answer(
    db: Session, catalog: Catalog, session: SessionRecord, position: int
) -> tuple[int, AnyQuestion]:
    version_id = version_at(session, position)
    if session.finished_at is not None:
        if session.deadline_at is not None and session.finished_at == session.deadline_at:
            raise FinishedError("time is up: the attempt was submitted at its deadline")
        raise FinishedError("this test is finished; start a new one to answer again")
    return version_id, catalog.version(db, version_id)


@dataclass(frozen=True)
class Skipped:
    """A test left at a question without an answer (see submit_answer): nothing stored."""

    total: int  # the test's questions


def submit_answer(
    db: Session,
    catalog: Catalog,
    session: SessionRecord,
    body: AnswerIn,
    *,
    blank_allowed: bool = False,
) -> PracticeFeedback | TestAck | CodeToRun | Skipped:
    """Grade and record an answer; a code answer comes back as CodeToRun instead.

    Nothing given, or a code question's starter unchanged, is no attempt: a format error, or
    with `blank_allowed` (moving through a test) Skipped, since a test may be left unanswered.
    """
    version_id, question = question_to_answer(db, catalog, session, body.position)
    _set_flag(db, session, body.position, body.flagged)
    if blank_allowed and unanswered(question, body.answer):
        return Skipped(total=len(session.version_ids))
    if isinstance(question, CodeQuestion):
        return CodeToRun(question, code_answer(question, body.answer), version_id)
    # Graded by option identity: the letters as this attempt shows them, turned into the file's.
    order = option_order(question, session.option_seed, body.position)
    with reporting_errors(db, version_id, body.answer, context="grading"):
        result = grade(question, to_canonical(body.answer, order))  # malformed: raises
    return record_answer(db, catalog, session, body, version_id, result)


def record_answer(
    db: Session,
    catalog: Catalog,
    session: SessionRecord,
    body: AnswerIn,
    version_id: int,
    result: Grade,
) -> PracticeFeedback | TestAck:
    values = {
        "given": result.given,
        "correct": result.correct,
        "score": result.score,
        "time_taken_ms": body.time_taken_ms,
    }
    if session.mode == "practice":
        # A plain INSERT: the ORM's unit of work costs more than the write on this hot path.
        inserted = db.connection().execute(
            _INSERT_ANSWER,
            {
                "session_id": session.id,
                "learner_id": session.learner_id,
                "question_version_id": version_id,
                "position": body.position,
                "created_at": (now := utcnow()),
                "updated_at": now,
                **values,
            },
        )
        (answer_id,) = inserted.inserted_primary_key or (None,)
        assert isinstance(answer_id, int)
        return _practice_feedback(
            db, catalog, session, version_id, answer_id, body.position, result
        )
    _save_test_answer(db, session, body.position, version_id, values)
    answered = len(test_answers(db, session))
    rules = assignments.session_rules(db, session)
    right_away = rules is not None and rules.feedback == "immediately"
    return TestAck(
        position=body.position,
        answered_count=answered,
        total=len(session.version_ids),
        correct=result.correct if right_away else None,
        score=result.score if right_away else None,
    )


def _save_test_answer(
    db: Session, session: SessionRecord, position: int, version_id: int, values: dict[str, object]
) -> None:
    """One answer per test slot: the latest save wins, from any tab."""
    for _attempt in range(2):
        existing = db.scalar(
            select(Answer).where(Answer.session_id == session.id, Answer.slot == position)
        )
        if existing is not None:
            for key, value in values.items():
                setattr(existing, key, value)
            db.flush()
            return
        row = Answer(
            session_id=session.id,
            learner_id=session.learner_id,
            question_version_id=version_id,
            position=position,
            slot=position,
            **values,
        )
        if add_once(db, row):
            return
        # another tab inserted first: update that row instead


def _practice_feedback(
    db: Session,
    catalog: Catalog,
    session: SessionRecord,
    version_id: int,
    answer_id: int,
    position: int,
    result: Grade | Answer,
) -> PracticeFeedback:
    """Everything in the letters this attempt shows; `result` holds the file's."""
    question = catalog.version(db, version_id)
    order = option_order(question, session.option_seed, position)
    given = to_shown(result.given, order)
    explanation = None
    if help.solution_shown(db, question, session.id, position, correct=result.correct):
        explanation = with_choices(
            solution_in_order(catalog.view(db, version_id, solution), order), given
        )
    return PracticeFeedback(
        answer_id=answer_id,
        position=position,
        correct=result.correct,
        score=result.score,
        given=given,
        solution=explanation,
    )


def latest_answer_id(db: Session, session: SessionRecord, position: int) -> int | None:
    """The newest practice answer at a position: a page shown again shows its feedback."""
    return db.scalar(
        select(Answer.id)
        .where(Answer.session_id == session.id, Answer.position == position)
        .order_by(Answer.id.desc())
        .limit(1)
    )


def practice_feedback(
    db: Session,
    catalog: Catalog,
    session: SessionRecord,
    answer_id: int,
    position: int | None = None,
) -> PracticeFeedback:
    """An earlier answer's grading; with `position`, only if it answers that question."""
    answer = db.get(Answer, answer_id)
    if (
        answer is None
        or answer.session_id != session.id
        or (position is not None and answer.position != position)
    ):
        raise NotFoundError(f"no answer {answer_id} to this question", field="answer")
    return _practice_feedback(
        db, catalog, session, answer.question_version_id, answer.id, answer.position, answer
    )
