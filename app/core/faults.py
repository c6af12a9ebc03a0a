"""Faults of a question's own making, handed to whoever records them.

When grading or rendering a question raises (a bug in its content or in our grader, not the
learner's input), the learner still gets the error; and the fault is recorded against the
question version, so its staff see it without waiting for a learner to report it. The
problem-report feature registers its recorder at start-up (app.main); the attempts code wraps
its grading and rendering in `reporting_errors` without knowing who listens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.core.db import Database
from app.core.errors import AppError

# (the request's session or the database, version id, the exception, "grading" or
# "rendering", the answer being graded)
Recorder = Callable[[Session | Database, int, BaseException, str, Any], None]
_recorders: list[Recorder] = []


def on_question_error(recorder: Recorder) -> None:
    """Call `recorder` with every fault `reporting_errors` sees (once, however often asked)."""
    if recorder not in _recorders:
        _recorders.append(recorder)


@contextmanager
def reporting_errors(
    db: Session | Database, version_id: int, given: Any = None, *, context: str = "grading"
) -> Iterator[None]:
    """Hand an unexpected exception of the block to the recorders, then re-raise it. A refusal
    of the learner's input (AppError) is no fault of the question, and a database error is
    the database's: neither is recorded."""
    try:
        yield
    except (AppError, SQLAlchemyError):
        raise
    except Exception as exc:
        for record in _recorders:
            record(db, version_id, exc, context, given)
        raise
