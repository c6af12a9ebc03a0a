"""Practice and test sessions: start, answer, finish. Both faces (API and pages) call these."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import Table, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.attempts.models import Answer, QuizSession
from app.attempts.records import SessionRecord, reload_session
from app.attempts.schemas import (
    AnswerIn,
    DifficultyScore,
    PracticeFeedback,
    ReviewItem,
    SessionQuestion,
    SessionView,
    StartSession,
    TestAck,
    TestResult,
)
from app.bank.schema import AnyQuestion, CodeQuestion, Difficulty
from app.core.db import as_utc, utcnow
from app.core.errors import AppError, ConflictError, NotFoundError
from app.learners.models import Learner
from app.progress.service import mistaken_question_slugs
from app.questions.catalog import Catalog, CatalogQuestion, CatalogTopic
from app.questions.grading import Grade, code_of, grade
from app.questions.schemas import Solution
from app.questions.service import (
    filter_questions,
    practice_question,
    public_question,
    solution,
    with_choices,
)

# A test draws 3 easy, 4 medium and 3 hard questions (topped up from other levels if short).
TEST_MIX = {Difficulty.easy: 3, Difficulty.medium: 4, Difficulty.hard: 3}


def start_session(
    db: Session, catalog: Catalog, learner: Learner, request: StartSession, *, rng: random.Random
) -> SessionRecord:
    topic = catalog.topic(request.topic)
    filters: dict[str, object] = {}
    if request.mode == "test":
        chosen = draw_test(topic, rng)
    else:
        chosen, filters = _practice_questions(db, catalog, learner, topic, request)
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
    db: Session, catalog: Catalog, learner: Learner, topic: CatalogTopic, request: StartSession
) -> tuple[list[CatalogQuestion], dict[str, object]]:
    if request.mistakes_only:
        slugs = mistaken_question_slugs(db, catalog, learner.id, topic)
        return [catalog.question(s) for s in slugs], {"mistakes_only": True}
    if request.tag is not None and request.tag not in topic.tags():
        raise NotFoundError(f"no tag '{request.tag}' in topic '{topic.slug}'", field="tag")
    chosen = filter_questions(topic, difficulty=request.difficulty, tag=request.tag)
    filters = {"difficulty": request.difficulty, "tag": request.tag}
    return chosen, {k: v for k, v in filters.items() if v is not None}


def draw_test(topic: CatalogTopic, rng: random.Random) -> list[CatalogQuestion]:
    picked: list[CatalogQuestion] = []
    for difficulty, count in TEST_MIX.items():
        pool = filter_questions(topic, difficulty=difficulty)
        picked += rng.sample(pool, min(count, len(pool)))
    rest = [q for q in topic.questions if q not in picked]
    picked += rng.sample(rest, min(sum(TEST_MIX.values()) - len(picked), len(rest)))
    return sorted(picked, key=lambda q: q.position)


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


def _test_answers(db: Session, session: SessionRecord) -> dict[int, Answer]:
    """A test's answers by slot (one each, at most one per question)."""
    rows = db.scalars(
        select(Answer).where(Answer.session_id == session.id, Answer.slot.is_not(None))
    )
    return {a.slot: a for a in rows if a.slot is not None}


def session_view(db: Session, catalog: Catalog, session: SessionRecord) -> SessionView:
    end = as_utc(session.finished_at) if session.finished_at else utcnow()
    return SessionView(
        id=session.public_id,
        mode=session.mode,
        topic=catalog.topic_by_id(session.topic_id).slug,
        total=len(session.version_ids),
        filters=session.filters,
        started_at=as_utc(session.started_at),
        finished_at=as_utc(session.finished_at) if session.finished_at else None,
        elapsed_seconds=int((end - as_utc(session.started_at)).total_seconds()),
        answered_positions=_answered_positions(db, session),
    )


def _version_at(session: SessionRecord, position: int) -> int:
    if not 1 <= position <= len(session.version_ids):
        raise NotFoundError(
            f"position {position} is outside this session (1 to {len(session.version_ids)})",
            field="position",
        )
    return session.version_ids[position - 1]


def session_question(
    db: Session, catalog: Catalog, session: SessionRecord, position: int
) -> SessionQuestion:
    version_id = _version_at(session, position)
    if session.mode == "test":
        # A test shows its saved answer so a reload loses nothing.
        saved = _test_answers(db, session).get(position)
        return SessionQuestion(
            position=position,
            question=catalog.view(db, version_id, public_question),
            answered=saved is not None,
            saved_answer=saved.given if saved else None,
        )
    answered = db.scalar(
        select(Answer.id)
        .where(Answer.session_id == session.id, Answer.position == position)
        .limit(1)
    )
    practice = catalog.view(db, version_id, practice_question)
    return SessionQuestion(position=position, question=practice, answered=answered is not None)


@dataclass(frozen=True)
class CodeToRun:
    """A code answer: it is graded from a sandbox run, between two transactions."""

    question: CodeQuestion
    code: str
    version_id: int


def question_to_answer(
    db: Session, catalog: Catalog, session: SessionRecord, position: int
) -> tuple[int, AnyQuestion]:
    version_id = _version_at(session, position)
    if session.finished_at is not None:
        raise ConflictError("this test is finished; start a new one to answer again")
    return version_id, catalog.version(db, version_id)


def submit_answer(
    db: Session, catalog: Catalog, session: SessionRecord, body: AnswerIn
) -> PracticeFeedback | TestAck | CodeToRun:
    """Grade and record an answer; a code answer comes back as CodeToRun instead."""
    version_id, question = question_to_answer(db, catalog, session, body.position)
    if isinstance(question, CodeQuestion):
        return CodeToRun(question, code_of(body.answer), version_id)
    result = grade(question, body.answer)  # a malformed answer raises before anything is stored
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
        return _feedback(catalog.view(db, version_id, solution), answer_id, body.position, result)
    _save_test_answer(db, session, body.position, version_id, values)
    answered = len(_test_answers(db, session))
    return TestAck(position=body.position, answered_count=answered, total=len(session.version_ids))


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
        try:
            with db.begin_nested():
                db.add(
                    Answer(
                        session_id=session.id,
                        learner_id=session.learner_id,
                        question_version_id=version_id,
                        position=position,
                        slot=position,
                        **values,
                    )
                )
        except IntegrityError:
            continue  # another tab inserted first: update that row instead
        return


def _feedback(
    explanation: Solution, answer_id: int, position: int, result: Grade | Answer
) -> PracticeFeedback:
    return PracticeFeedback(
        answer_id=answer_id,
        position=position,
        correct=result.correct,
        score=result.score,
        given=result.given,
        solution=with_choices(explanation, result.given),
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
    explanation = catalog.view(db, answer.question_version_id, solution)
    return _feedback(explanation, answer.id, answer.position, answer)


def finish_test(db: Session, catalog: Catalog, session: SessionRecord) -> TestResult:
    """Idempotent: finishing twice (two tabs, even at once) returns the same result."""
    if session.mode != "test":
        raise ConflictError("only a test session can be finished")
    if session.finished_at is None:
        db.execute(
            update(QuizSession)
            .where(QuizSession.id == session.id, QuizSession.finished_at.is_(None))
            .values(finished_at=utcnow())
        )
        session = reload_session(db, session.id)
    result = test_result(db, catalog, session)
    db.execute(update(QuizSession).where(QuizSession.id == session.id).values(score=result.percent))
    return result


def test_result(db: Session, catalog: Catalog, session: SessionRecord) -> TestResult:
    if session.mode != "test" or session.finished_at is None:
        raise ConflictError("the result is shown once the test is finished")
    by_slot = _test_answers(db, session)
    questions = catalog.versions(db, session.version_ids)
    review, levels = (
        [],
        {d.value: DifficultyScore(correct=0, total=0, points=0.0) for d in Difficulty},
    )
    for position, question in enumerate(questions, start=1):
        answer = by_slot.get(position)
        level = levels[question.difficulty.value]
        level.total += 1
        if answer is not None:
            level.points += answer.score
            level.correct += int(answer.correct)
        review.append(_review_item(position, question, answer))
    for level in levels.values():
        level.points = round(level.points, 2)
    points = round(sum(level.points for level in levels.values()), 2)
    return TestResult(
        session=session_view(db, catalog, session),
        percent=round(100 * points / len(questions), 1),
        points=points,
        max_points=len(questions),
        correct_count=sum(level.correct for level in levels.values()),
        by_difficulty=levels,
        review=review,
    )


def _review_item(position: int, question: AnyQuestion, answer: Answer | None) -> ReviewItem:
    given = answer.given if answer else None
    return ReviewItem(
        position=position,
        question=public_question(question),
        given=given,
        correct=bool(answer and answer.correct),
        score=answer.score if answer else 0.0,
        solution=with_choices(solution(question), given),
    )
