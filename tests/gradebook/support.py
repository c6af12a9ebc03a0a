"""An assignment of four fixed choice questions, and attempts at it answered as rows (the
grader's own grading), submitted at chosen moments: the gradebook tests' data."""

from __future__ import annotations

import copy
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attempts import records
from app.attempts.models import Answer, Assignment
from app.attempts.records import SessionRecord
from app.bank.grading import grade, letter
from app.bank.schema import ChoiceQuestion, MultipleSelect
from app.courses.models import Course, CourseStaff
from app.learners.models import Learner, User
from app.questions.catalog import Catalog
from app.questions.models import QuestionRow, QuestionVersion
from tests.assignments.support import attempt, make_assignment
from tests.courses.support import make_user

# Three single-choice questions and one multiple-select (partial credit), none parameterised.
FIXED = [
    "birnn/birnn-main-advantage",
    "birnn/bigru-constructor-syntax",
    "birnn/birnn-context-at-middle-step",
    "birnn/causal-lm-bidirectional-leak",
]
MULTIPLE = "birnn-context-at-middle-step"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
How = Literal["right", "wrong", "part"]


def fixed_assignment(db: Session, catalog: Catalog, course: Course, **changes: Any) -> Assignment:
    return make_assignment(
        db, catalog, course, questions=FIXED, draws=[], shuffle_questions=False, **changes
    )


def raw_answer(question: ChoiceQuestion, how: How) -> Any:
    right = sorted(question.correct_indexes())
    wrong = [i for i in range(len(question.options)) if i not in right]
    if isinstance(question, MultipleSelect):
        picks = {"right": right, "wrong": wrong[:1], "part": right[:1]}[how]
        return [letter(i) for i in picks]
    return letter(right[0] if how == "right" else wrong[0])


def answer(
    db: Session, catalog: Catalog, session: SessionRecord, position: int, how: How
) -> Answer:
    version_id = session.version_ids[position - 1]
    question = catalog.version(db, version_id)
    assert isinstance(question, ChoiceQuestion)
    graded = grade(question, raw_answer(question, how))
    row = Answer(
        session_id=session.id,
        learner_id=session.learner_id,
        question_version_id=version_id,
        position=position,
        slot=position,
        given=graded.given,
        correct=graded.correct,
        score=graded.score,
    )
    db.add(row)
    db.flush()
    return row


def sit(
    db: Session,
    catalog: Catalog,
    assignment: Assignment,
    learner: Learner,
    answers: list[How],
    *,
    start: datetime = T0,
    minutes: float | None = 5,
) -> SessionRecord:
    """An attempt started at `start`, answered in position order, submitted `minutes` later
    (None: left in progress)."""
    session = attempt(db, catalog, assignment, learner, now=start)
    for position, how in enumerate(answers, start=1):
        answer(db, catalog, session, position, how)
    if minutes is None:
        return session
    return records.submit(db, session, start + timedelta(minutes=minutes))


def position_of(session: SessionRecord, db: Session, slug: str) -> int:
    """Where a question sits in an attempt."""
    ids = (
        select(QuestionVersion.id)
        .join(QuestionRow, QuestionRow.id == QuestionVersion.question_id)
        .where(QuestionRow.slug == slug)
    )
    mine = set(db.scalars(ids))
    return next(p for p, v in enumerate(session.version_ids, start=1) if v in mine)


def add_data_viewer(db: Session, course: Course, email: str) -> User:
    """A teaching assistant who may read results but not change them."""
    user = make_user(db, email, name="Viewer")
    db.add(
        CourseStaff(course_id=course.id, user_id=user.id, content_role="viewer", data_role="viewer")
    )
    db.flush()
    return user


# Ids of their own for the versions made here: SQLite hands a rolled-back test's ids out
# again, and the app's catalog keeps every version it read by id for the whole run.
_NEW_VERSION_IDS = itertools.count(1_500_000_000)


def publish_fix(db: Session, slug: str, *, move_key: bool = True) -> QuestionVersion:
    """A new published version of a shipped question; of a single-choice one, with its key
    moved to the first wrong option (a fixed key)."""
    row = db.scalar(
        select(QuestionRow).where(QuestionRow.slug == slug, QuestionRow.course_id.is_(None))
    )
    assert row is not None and row.published_version_id is not None
    old = db.get(QuestionVersion, row.published_version_id)
    assert old is not None
    data = copy.deepcopy(old.data)
    if move_key:
        right = next(i for i, o in enumerate(data["options"]) if o.get("correct"))
        wrong = next(i for i, o in enumerate(data["options"]) if not o.get("correct"))
        data["options"][right]["correct"] = False
        data["options"][wrong]["correct"] = True
        for option in data["options"]:
            option.pop("outcome", None)
    new = QuestionVersion(
        id=next(_NEW_VERSION_IDS),
        question_id=row.id,
        number=old.number + 1,
        content_hash=uuid.uuid4().hex,
        type=old.type,
        difficulty=old.difficulty,
        data=data,
        source_path=old.source_path,
    )
    db.add(new)
    db.flush()
    row.published_version_id = new.id
    db.flush()
    return new
