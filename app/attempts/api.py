"""JSON routes for practice and test sessions."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.attempts import answering, records, results, service
from app.attempts.schemas import (
    AnswerIn,
    PracticeFeedback,
    SessionQuestion,
    SessionView,
    StartSession,
    TestAck,
    TestResult,
)
from app.core.bounds import Position, PublicId, RowId
from app.core.deps import DatabaseDep, RngDep, SessionDep
from app.core.openapi import error_responses
from app.core.routing import UnitOfWorkRoute
from app.learners.deps import LearnerDep
from app.questions.deps import CatalogDep
from app.runner.deps import MaybeRunnerDep

router = APIRouter(prefix="/sessions", tags=["sessions"], route_class=UnitOfWorkRoute)


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(404))
def start_session(
    body: StartSession, db: SessionDep, catalog: CatalogDep, learner: LearnerDep, rng: RngDep
) -> SessionView:
    """Start practice (optionally filtered) or a 10-question test (3 easy, 4 medium, 3 hard)."""
    session = service.start_session(db, catalog, learner.get_or_create(), body, rng=rng)
    return service.session_view(db, catalog, session)


@router.get("/{session_id}")
def get_session(
    session_id: PublicId, db: SessionDep, catalog: CatalogDep, learner: LearnerDep
) -> SessionView:
    """A session's state: which positions are answered, elapsed time, whether it is finished."""
    return service.session_view(db, catalog, records.get_session(db, learner.public_id, session_id))


@router.get("/{session_id}/questions/{position}")
def get_session_question(
    session_id: PublicId,
    position: Position,
    db: SessionDep,
    catalog: CatalogDep,
    learner: LearnerDep,
) -> SessionQuestion:
    """The question at a 1-based position; practice includes hints, a test its saved answer."""
    session = records.get_session(db, learner.public_id, session_id)
    return service.session_question(db, catalog, session, position)


@router.post("/{session_id}/answers")
async def submit_answer(
    session_id: PublicId,
    body: AnswerIn,
    database: DatabaseDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    runner: MaybeRunnerDep,
) -> PracticeFeedback | TestAck:
    """Practice: graded at once, with the explanation. Test: saved (latest save wins).
    A code answer runs the question's hidden tests in the sandbox first."""
    answered = await answering.answer(
        database, catalog, runner, learner.public_id, session_id, body, address=learner.address
    )
    assert not isinstance(answered, service.Skipped)  # only with blank_allowed
    return answered


@router.get("/{session_id}/answers/{answer_id}")
def get_feedback(
    session_id: PublicId, answer_id: RowId, db: SessionDep, catalog: CatalogDep, learner: LearnerDep
) -> PracticeFeedback:
    """The grading and explanation of an earlier practice answer."""
    session = records.get_session(db, learner.public_id, session_id)
    return service.practice_feedback(db, catalog, session, answer_id)


@router.post("/{session_id}/finish")
def finish(
    session_id: PublicId, db: SessionDep, catalog: CatalogDep, learner: LearnerDep
) -> TestResult:
    """End a test; get its score, breakdown and review. Finishing twice gives the same result."""
    return results.finish_test(db, catalog, records.get_session(db, learner.public_id, session_id))


@router.get("/{session_id}/result")
def result(
    session_id: PublicId, db: SessionDep, catalog: CatalogDep, learner: LearnerDep
) -> TestResult:
    """A finished test's result; 409 while the test is running."""
    return results.test_result(db, catalog, records.get_session(db, learner.public_id, session_id))
