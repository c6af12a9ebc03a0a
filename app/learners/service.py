"""Find or create the learner behind a request's identity."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.learners.models import Learner


def find_learner(db: Session, public_id: str) -> Learner | None:
    return db.scalar(select(Learner).where(Learner.public_id == public_id))


def get_or_create_learner(db: Session, public_id: str) -> Learner:
    learner = find_learner(db, public_id)
    if learner is not None:
        return learner
    try:
        # Two first requests from one browser can race; the unique key settles it.
        with db.begin_nested():
            learner = Learner(public_id=public_id)
            db.add(learner)
    except IntegrityError:
        learner = find_learner(db, public_id)
        assert learner is not None
    return learner
