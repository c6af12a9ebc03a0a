"""Help asked for in practice: hints one at a time, and a code question's solution on request.

Hints and solutions are given by the server and recorded (app.attempts.models.Reveal), so that
progress can tell an answer found alone from one given after the solution or the last hint
(app.attempts.history). A test gives no help: its review shows the solutions at the end.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.attempts.models import Answer, Reveal
from app.attempts.order import option_order
from app.attempts.records import SessionRecord, version_at
from app.attempts.schemas import Hints
from app.bank.schema import AnyQuestion, CodeQuestion
from app.core.db import add_once
from app.core.errors import ConflictError, NotFoundError
from app.questions.catalog import Catalog
from app.questions.schemas import QuestionForPractice, Solution
from app.questions.service import practice_question, solution, solution_in_order

SOLUTION = 0  # Reveal.number of the solution; hints are numbered from 1


def _practice_only(session: SessionRecord) -> None:
    if session.mode != "practice":
        raise ConflictError(
            "hints and solutions are for practice; a test shows them in its review", field="mode"
        )


def revealed(db: Session, session: SessionRecord, position: int) -> set[int]:
    """The numbers revealed at this position: hints from 1, and SOLUTION."""
    rows = db.scalars(
        select(Reveal.number).where(Reveal.session_id == session.id, Reveal.position == position)
    )
    return set(rows)


def _hint_count(shown: set[int]) -> int:
    """How many hints `revealed` found (hints are revealed in order)."""
    return max((n for n in shown if n != SOLUTION), default=0)


def with_revealed_hints(question: QuestionForPractice, shown: set[int]) -> QuestionForPractice:
    """The question with the hints revealed so far."""
    return question.model_copy(update={"hints_html": question.hints_html[: _hint_count(shown)]})


def _record(db: Session, session: SessionRecord, position: int, number: int, last: bool) -> None:
    """One row per reveal: asking again, from a second tab say, changes nothing."""
    add_once(
        db,
        Reveal(
            session_id=session.id,
            learner_id=session.learner_id,
            position=position,
            number=number,
            gives_away=last,
        ),
    )


def reveal_hint(
    db: Session, catalog: Catalog, session: SessionRecord, position: int, number: int
) -> Hints:
    """Reveal hint `number` (from 1). Hints come in order: the next one or one already shown;
    asking twice for the same hint is harmless."""
    _practice_only(session)
    view = catalog.view(db, version_at(session, position), practice_question)
    total = view.hints_total
    count = _hint_count(revealed(db, session, position))
    if not 1 <= number <= total:
        raise NotFoundError(f"this question has hints 1 to {total}; got {number}", field="number")
    if number > count + 1:
        raise ConflictError(f"hints come in order: ask for hint {count + 1} first", field="number")
    if number == count + 1:
        _record(db, session, position, number, last=number == total)
    shown = view.hints_html[: max(count, number)]
    return Hints(position=position, hints_html=shown, total=total)


def reveal_solution(
    db: Session, catalog: Catalog, session: SessionRecord, position: int
) -> Solution:
    """Show the solution on request ("Show solution"), and record that it was seen."""
    _practice_only(session)
    _record(db, session, position, SOLUTION, last=True)
    return _solution(db, catalog, session, position)


def revealed_solution(
    db: Session, catalog: Catalog, session: SessionRecord, position: int
) -> Solution | None:
    """The solution, if the learner asked for it at this position (a page shown again)."""
    if SOLUTION not in revealed(db, session, position):
        return None
    return _solution(db, catalog, session, position)


def _solution(db: Session, catalog: Catalog, session: SessionRecord, position: int) -> Solution:
    version_id = version_at(session, position)
    order = option_order(catalog.version(db, version_id), session.option_seed, position)
    return solution_in_order(catalog.view(db, version_id, solution), order)


def solution_shown(
    db: Session, question: AnyQuestion, session_id: int, position: int, *, correct: bool
) -> bool:
    """Whether practice feedback on an answer includes the solution. A code question's
    reference solution would answer it outright, so it shows only once the learner has
    answered it correctly in this session, or asked for it; any other question explains
    itself at once."""
    if not isinstance(question, CodeQuestion) or correct:
        return True
    earned = select(func.count()).where(
        Answer.session_id == session_id, Answer.position == position, Answer.correct.is_(True)
    )
    asked = select(func.count()).where(
        Reveal.session_id == session_id, Reveal.position == position, Reveal.number == SOLUTION
    )
    return bool(db.scalar(earned)) or bool(db.scalar(asked))
