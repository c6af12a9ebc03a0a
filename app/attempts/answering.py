"""Answering, for the routes: most answers are graded in one transaction; a code answer is run
in the sandbox first, between two transactions, so no database work waits on the runner."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.attempts import service
from app.attempts.records import get_session
from app.attempts.schemas import AnswerIn, PracticeFeedback, TestAck
from app.core.routing import UnitOfWork
from app.questions.catalog import Catalog
from app.questions.grading import Grade, grade_code
from app.runner.client import OFF_HERE, RunnerClient, RunnerOffError
from app.runner.protocol import RunRequest, TestSpec


async def answer(
    uow: UnitOfWork,
    catalog: Catalog,
    runner: RunnerClient | None,
    learner: str,
    session_id: str,
    body: AnswerIn,
    *,
    address: str | None = None,
) -> PracticeFeedback | TestAck:
    """`address`: the client's, for the runner's limit per address on a code answer's run."""
    outcome = await uow(_submit, catalog, learner, session_id, body)
    if not isinstance(outcome, service.CodeToRun):
        return outcome
    if runner is None:
        raise RunnerOffError(f"{OFF_HERE} Code answers need it.")
    tests = [TestSpec(name=t.name, code=t.code) for t in outcome.question.tests]
    request = RunRequest(
        code=outcome.code, kind="code_test", tests=tests, learner=learner, address=address
    )
    graded = grade_code(outcome.question, outcome.code, await runner.run(request))
    return await uow(_record, catalog, learner, session_id, body, outcome.version_id, graded)


def _submit(
    db: Session, catalog: Catalog, learner: str, session_id: str, body: AnswerIn
) -> PracticeFeedback | TestAck | service.CodeToRun:
    return service.submit_answer(db, catalog, get_session(db, learner, session_id), body)


def _record(
    db: Session,
    catalog: Catalog,
    learner: str,
    session_id: str,
    body: AnswerIn,
    version_id: int,
    graded: Grade,
) -> PracticeFeedback | TestAck:
    session = get_session(db, learner, session_id)  # afresh: a test may have ended meanwhile
    service.question_to_answer(db, catalog, session, body.position)
    return service.record_answer(db, catalog, session, body, version_id, graded)
