"""Answering, for the routes: an answer is graded and stored in one transaction; a code answer
is run in the sandbox first, between two transactions, so no database work waits on the runner."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.attempts import service
from app.attempts.records import get_session
from app.attempts.schemas import AnswerIn, PracticeFeedback, TestAck
from app.bank.grading import Grade, grade_code
from app.core.db import Database
from app.core.faults import reporting_errors
from app.questions.catalog import Catalog
from app.runner.client import OFF_HERE, Runner, RunnerOffError
from app.runner.protocol import RunRequest, TestSpec

Answered = PracticeFeedback | TestAck | service.Skipped


async def answer(
    database: Database,
    catalog: Catalog,
    runner: Runner | None,
    learner: str,
    session_id: str,
    body: AnswerIn,
    *,
    address: str | None = None,
    blank_allowed: bool = False,
) -> Answered:
    """`address`: the client's, for the runner's limit per address on a code answer's run.
    `blank_allowed`: see service.submit_answer."""
    outcome = await database.run(_submit, catalog, learner, session_id, body, blank_allowed)
    if not isinstance(outcome, service.CodeToRun):
        return outcome
    if runner is None:
        raise RunnerOffError(f"{OFF_HERE} Code answers need it.")
    tests = [TestSpec(name=t.name, code=t.code) for t in outcome.question.tests]
    request = RunRequest(
        code=outcome.code, kind="code_test", tests=tests, learner=learner, address=address
    )
    run = await runner.run(request)
    with reporting_errors(database, outcome.version_id, {"code": outcome.code}):
        graded = grade_code(outcome.question, outcome.code, run)
    return await database.run(
        _record, catalog, learner, session_id, body, outcome.version_id, graded
    )


def _submit(
    db: Session,
    catalog: Catalog,
    learner: str,
    session_id: str,
    body: AnswerIn,
    blank_allowed: bool,
) -> Answered | service.CodeToRun:
    session = get_session(db, learner, session_id)
    return service.submit_answer(db, catalog, session, body, blank_allowed=blank_allowed)


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
