"""A course with staff of each content role, a question of its own bank in a learner's session,
and reports filed over the API as a learner would, for the problem report tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI
from sqlalchemy.orm import Session

from app.attempts.models import Answer, QuizSession
from app.authoring import bank
from app.bank.schema import QuestionAdapter
from app.courses.models import CourseStaff
from app.learners.models import Learner, User
from app.questions.models import QuestionRow
from tests.assignments.support import Class, make_class
from tests.courses.support import Visitor, make_user, signed_in

QUESTIONS_DIR = Path(__file__).resolve().parents[2] / "questions"
# A shipped numeric question, as a course question of its own (no torch check to run).
SOURCE: dict[str, Any] = {
    **yaml.safe_load((QUESTIONS_DIR / "birnn/gru-stacked-bidir-param-count.yaml").read_text()),
    "check": None,
}


def course_question(db: Session, klass: Class, slug: str = "reported-question") -> QuestionRow:
    question = QuestionAdapter.validate_python({**SOURCE, "id": slug})
    return bank.create_question(
        db, klass.course, question, author_id=klass.owner.id, message="created"
    )


def session_on(
    db: Session, learner: Learner, questions: list[QuestionRow], mode: str = "practice"
) -> QuizSession:
    """A session over the questions' newest versions, as a practice start would store it."""
    session = QuizSession(
        learner_id=learner.id,
        topic_id=questions[0].topic_id,
        mode=mode,
        version_ids=[q.current_version_id for q in questions],
        filters={},
    )
    db.add(session)
    db.flush()
    return session


def answered(db: Session, session: QuizSession, position: int, given: Any) -> None:
    db.add(
        Answer(
            session_id=session.id,
            learner_id=session.learner_id,
            question_version_id=session.version_ids[position - 1],
            position=position,
            given=given,
            correct=False,
            score=0.0,
        )
    )
    db.flush()


@dataclass
class Staffed:
    """A course (owner and learners from make_class), an editor and a viewer of its content,
    a question of its bank in learner 0's practice session."""

    klass: Class
    editor: User
    viewer: User
    question: QuestionRow
    session: QuizSession

    @property
    def slug(self) -> str:
        return self.klass.course.slug

    def visitor(self, app: FastAPI, db: Session, user: User) -> Visitor:
        return signed_in(app, db, user)

    def learner(self, app: FastAPI, db: Session) -> Visitor:
        return signed_in(app, db, self.klass.learners[0])


def staffed_course(db: Session, prefix: str = "r") -> Staffed:
    klass = make_class(db, learners=2, prefix=prefix)
    people = {}
    for role in ("editor", "viewer"):
        people[role] = make_user(db, f"{prefix}-{role}@example.org", name=f"The {role}")
        db.add(
            CourseStaff(
                course_id=klass.course.id,
                user_id=people[role].id,
                content_role=role,
                data_role="none",
            )
        )
    question = course_question(db, klass)
    learner = klass.learner_of(db, klass.learners[0])
    session = session_on(db, learner, [question])
    return Staffed(klass, people["editor"], people["viewer"], question, session)


def file(visitor: Visitor, session: str, position: int = 1, **body: Any) -> Any:
    payload = {"session": session, "position": position, "kind": "answer_wrong", **body}
    return visitor.client.post("/api/v1/reports", json=payload)
