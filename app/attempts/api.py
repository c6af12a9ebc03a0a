"""JSON routes for practice and test sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.attempts import answering, code_runs, help, records, results, service, summary
from app.attempts.code_runs import CodeRunIn, SampleRun
from app.attempts.schemas import (
    AnswerIn,
    HintRequest,
    Hints,
    Mode,
    PracticeFeedback,
    PracticeSummary,
    SessionListItem,
    SessionQuestion,
    SessionView,
    StartSession,
    TestAck,
    TestResult,
)
from app.core.bounds import Position, PublicId, RowId, Slug
from app.core.deps import DatabaseDep, RngDep, SessionDep
from app.core.openapi import error_responses
from app.core.pagination import Limit, Offset, Page, page_of
from app.core.routing import UnitOfWorkRoute
from app.learners.deps import LearnerDep
from app.questions.deps import CatalogDep
from app.questions.schemas import Solution
from app.runner.deps import MaybeRunnerDep

router = APIRouter(prefix="/sessions", tags=["sessions"], route_class=UnitOfWorkRoute)


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(404))
def start_session(
    body: StartSession, db: SessionDep, catalog: CatalogDep, learner: LearnerDep, rng: RngDep
) -> SessionView:
    """Start practice (optionally filtered) or a 10-question test (3 easy, 4 medium, 3 hard)."""
    session = service.start_session(db, catalog, learner.get_or_create(), body, rng=rng)
    return service.session_view(db, catalog, session)


@router.get("")
def list_sessions(
    db: SessionDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    topic: Slug | None = None,
    mode: Mode | None = None,
    finished: Annotated[bool | None, Query(description="Tests: finished or still open.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[SessionListItem]:
    """My sessions, newest first: open ones to resume (`resume_position`), finished tests with
    their score."""
    found = summary.learner_sessions(
        db, catalog, learner.known_id(), topic=topic, mode=mode, finished=finished
    )
    return Page[SessionListItem](**page_of(found, limit=limit, offset=offset))


@router.get("/{session_id}/summary", responses=error_responses(409))
def practice_summary(
    session_id: PublicId, db: SessionDep, catalog: CatalogDep, learner: LearnerDep
) -> PracticeSummary:
    """A practice session at a glance; 409 for a test (see /result)."""
    session = records.get_session(db, learner.public_id, session_id)
    return summary.practice_summary(db, catalog, session)


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


@router.post("/{session_id}/questions/{position}/run", responses=error_responses(409, 422))
async def run_code(
    session_id: PublicId,
    position: Position,
    body: CodeRunIn,
    database: DatabaseDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    runner: MaybeRunnerDep,
) -> SampleRun:
    """Run code on a code question's visible samples: each sample's result, with what it
    expected and what came out, and the code's output. Not an attempt: nothing is stored."""
    return await code_runs.run_samples(
        database,
        catalog,
        runner,
        learner.public_id,
        session_id,
        position,
        body.code,
        address=learner.address,
    )


@router.get("/{session_id}/answers/{answer_id}")
def get_feedback(
    session_id: PublicId, answer_id: RowId, db: SessionDep, catalog: CatalogDep, learner: LearnerDep
) -> PracticeFeedback:
    """The grading and explanation of an earlier practice answer."""
    session = records.get_session(db, learner.public_id, session_id)
    return service.practice_feedback(db, catalog, session, answer_id)


@router.post("/{session_id}/questions/{position}/hints", responses=error_responses(409))
def reveal_hint(
    session_id: PublicId,
    position: Position,
    body: HintRequest,
    db: SessionDep,
    catalog: CatalogDep,
    learner: LearnerDep,
) -> Hints:
    """Practice: reveal a hint, in order (asking again for one shown is harmless). An answer
    given after the last hint does not count as mastered. 409 in a test, or out of order."""
    session = records.get_session(db, learner.public_id, session_id)
    return help.reveal_hint(db, catalog, session, position, body.number)


@router.post("/{session_id}/questions/{position}/solution", responses=error_responses(409))
def reveal_solution(
    session_id: PublicId,
    position: Position,
    db: SessionDep,
    catalog: CatalogDep,
    learner: LearnerDep,
) -> Solution:
    """Practice: the solution on request, recorded; an answer given after it does not count as
    mastered. (A code question's feedback leaves it out until answered correctly.) 409 in a test."""
    session = records.get_session(db, learner.public_id, session_id)
    return help.reveal_solution(db, catalog, session, position)


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
