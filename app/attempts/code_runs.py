"""Run: a learner's code tried on a code question's visible samples, in the sandbox.

A Run is not an attempt: it stores nothing, and untouched starter code may be run. Like a code
answer (app.attempts.answering), its database work is one short transaction before the runner
is asked, never one held across the wait. The pages and the API both call run_samples.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from app.attempts import service
from app.attempts.records import get_session
from app.bank.grading import code_of, report_tests, shown_output
from app.bank.schema import CodeQuestion
from app.core.bounds import Text
from app.core.db import Database
from app.core.errors import AnswerFormatError, AppError
from app.questions.catalog import Catalog
from app.runner.client import OFF_HERE, Runner, RunnerOffError
from app.runner.protocol import MAX_CODE_BYTES, ExceptionInfo, LimitHit, RunRequest, TestSpec


class CodeRunError(AppError):
    """A Run that cannot be made: not a code question, or no code to run."""

    status = 422
    code = "invalid_run"


class CodeRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Text = Field(
        max_length=MAX_CODE_BYTES, description="The learner's code, as the editor holds it."
    )


class CodeTestReport(BaseModel):
    name: str = Field(description="The test, in words.")
    passed: bool
    message: str = Field(description="Why it failed (its first problem), or 'passed'.")
    expected: str | None = Field(
        default=None, description="What the test expects; absent from answers stored before it."
    )
    got: str | None = Field(default=None, description="What came out of the learner's code.")
    code: str | None = Field(default=None, description="A sample's code (hidden tests: none).")


class SampleRun(BaseModel):
    """What the learner's code did on the samples: each one's result, and its output."""

    position: int
    passed: int = Field(description="How many samples passed.")
    total: int
    samples: list[CodeTestReport]
    stdout: str = Field(description="What the code printed, cut past its first characters.")
    stderr: str
    exception: ExceptionInfo | None = Field(
        default=None, description="The exception the learner's code raised, with its line."
    )
    exit_code: int | None = Field(default=None, description="Set when the code called sys.exit.")
    limit: LimitHit | None = Field(default=None, description="The sandbox limit that stopped it.")
    elapsed_ms: float = 0.0
    torch_version: str = ""


async def run_samples(
    database: Database,
    catalog: Catalog,
    runner: Runner | None,
    learner: str,
    session_id: str,
    position: int,
    code: str,
    *,
    address: str | None = None,
) -> SampleRun:
    """Run `code` and then the question's samples on it; `address` as in answering.answer."""
    question = await database.run(_code_question, catalog, learner, session_id, position)
    try:
        code = code_of(code)
    except AnswerFormatError as exc:
        raise CodeRunError(exc.message, field="code") from None
    if runner is None:
        raise RunnerOffError(f"{OFF_HERE} Running code needs it.")
    tests = [TestSpec(name=t.name, code=t.code) for t in question.samples]
    request = RunRequest(code=code, kind="code_test", tests=tests, learner=learner, address=address)
    run = await runner.run(request)
    reports = [
        CodeTestReport(**report, code=sample.code)
        for report, sample in zip(
            report_tests(question.samples, run), question.samples, strict=True
        )
    ]
    return SampleRun(
        position=position,
        passed=sum(r.passed for r in reports),
        total=len(reports),
        samples=reports,
        stdout=shown_output(run.stdout),
        stderr=shown_output(run.stderr),
        exception=run.exception,
        exit_code=run.exit_code,
        limit=run.limit,
        elapsed_ms=run.elapsed_ms,
        torch_version=run.torch_version,
    )


def _code_question(
    db: Session, catalog: Catalog, learner: str, session_id: str, position: int
) -> CodeQuestion:
    """The code question at `position`: 404 outside the session, 409 in a finished test."""
    session = get_session(db, learner, session_id)
    _, question = service.question_to_answer(db, catalog, session, position)
    if not isinstance(question, CodeQuestion):
        raise CodeRunError(
            f"question {position} is a {question.type.replace('_', ' ')} question: "
            "only code questions have a Run",
            field="position",
        )
    return question
