"""HTML pages for practice and tests. Forms post and redirect; they work without JavaScript."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, field_validator
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from app.attempts import answering, assignments, code_runs, help, results, service, summary
from app.attempts.records import SessionRecord, get_session
from app.attempts.rules import default_test
from app.attempts.schemas import AnswerIn, PracticeFeedback, StartSession, TestAck
from app.bank.grading import format_answer
from app.bank.schema import Difficulty
from app.core.bounds import Position, PublicId, RowId, Slug, Tag, Text
from app.core.deps import DatabaseDep, RngDep, SessionDep
from app.core.errors import AnswerFormatError, AppError
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.learners.deps import CsrfProtected, CurrentLearner, LearnerDep
from app.questions.catalog import Catalog
from app.questions.deps import CatalogDep
from app.questions.service import topic_summary
from app.runner.client import REFUSALS, Runner, RunnerState, refusal_note
from app.runner.deps import MaybeRunnerDep, RunnerDep, RunnerStateDep
from app.runner.protocol import MAX_CODE_BYTES, RunRequest

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)


class StartForm(BaseModel):
    difficulty: Difficulty | None = None
    tag: Tag | None = None

    @field_validator("difficulty", "tag", mode="before")
    @classmethod
    def _blank_is_any(cls, value: Any) -> Any:
        return None if value == "" else value


class AnswerForm(BaseModel):
    answer: list[Text] = []
    # When the page was shown (ms since the epoch), to measure time taken without JavaScript.
    shown_at: int | None = None
    go: Literal["check", "next", "previous", "finish", "stay"] = "check"
    # A test's "Flag this question" checkbox: sent when ticked, absent when not.
    flag: Literal["on"] | None = None

    def to_answer(self, position: int, *, test: bool = False) -> AnswerIn:
        taken = None
        if self.shown_at is not None:
            taken = min(max(0, int(time.time() * 1000) - self.shown_at), 86_400_000)
        flagged = self.flag == "on" if test else None
        return AnswerIn(position=position, answer=self.answer, time_taken_ms=taken, flagged=flagged)


def prefill(given: Any) -> list[str]:
    """What the answer controls show: option letters stay a list, anything else is text."""
    if given is None:
        return []
    if isinstance(given, dict) and "code" in given:
        return [given["code"]]
    if isinstance(given, list) and all(isinstance(g, str) for g in given) and given:
        return list(given)
    return [format_answer(given)]


def _redirect(request: Request, name: str, **params: Any) -> RedirectResponse:
    return RedirectResponse(request.url_for(name, **params), status_code=303)


def _start(
    request: Request,
    db: Session,
    catalog: Catalog,
    learner: CurrentLearner,
    start: StartSession,
    rng: random.Random,
) -> RedirectResponse:
    session = service.start_session(db, catalog, learner.get_or_create(), start, rng=rng)
    page = "practice_page" if start.mode == "practice" else "test_page"
    return _redirect(request, page, session_id=session.public_id, position=1)


# --- practice ---


@router.get("/topics/{slug}/practice")
def practice_start_page(slug: Slug, request: Request, catalog: CatalogDep) -> Response:
    topic = catalog.topic(slug)
    return render_page(request, "attempts/practice_start.html", {"topic": topic_summary(topic)})


@router.post("/topics/{slug}/practice", dependencies=[CsrfProtected])
def start_practice(
    slug: Slug,
    form: Annotated[StartForm, Form()],
    request: Request,
    db: SessionDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    rng: RngDep,
) -> Response:
    start = StartSession(topic=slug, mode="practice", difficulty=form.difficulty, tag=form.tag)
    return _start(request, db, catalog, learner, start, rng)


@router.post("/topics/{slug}/mistakes", dependencies=[CsrfProtected])
def practise_mistakes(
    slug: Slug,
    request: Request,
    db: SessionDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    rng: RngDep,
) -> Response:
    start = StartSession(topic=slug, mode="practice", mistakes_only=True)
    return _start(request, db, catalog, learner, start, rng)


def _practice_context(
    db: Session,
    catalog: Catalog,
    session: SessionRecord,
    position: int,
    answer_id: int | None,
) -> dict[str, Any]:
    view = service.session_view(db, catalog, session)
    if answer_id is None:  # coming back to a question: its latest answer, never a blank page
        answer_id = service.latest_answer_id(db, session, position)
    feedback = None
    if answer_id is not None:
        feedback = service.practice_feedback(db, catalog, session, answer_id, position)
    solution = feedback.solution if feedback else None
    return {
        "session": view,
        "topic": topic_summary(catalog.session_topic(db, view.topic)),
        "item": service.session_question(db, catalog, session, position),
        "feedback": feedback,
        "solution": solution or help.revealed_solution(db, catalog, session, position),
        "prefill": prefill(feedback.given) if feedback else [],
        "shown_at": int(time.time() * 1000),
    }


@router.get("/practice/{session_id}/{position:int}")
async def practice_page(
    session_id: PublicId,
    position: Position,
    request: Request,
    database: DatabaseDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    runner: MaybeRunnerDep,
    runner_state: RunnerStateDep,
    answer: RowId | None = None,
) -> Response:
    context = await database.run(
        _practice_context_of, catalog, learner.public_id, session_id, position, answer
    )
    context["runner_note"] = runner_state.note()
    item, feedback = context["item"], context["feedback"]
    if feedback and item.question.predict_then_run and item.question.snippet:
        context.update(await _real_run(runner, runner_state, item.question.snippet))
    return render_page(request, "attempts/practice.html", context)


async def _real_run(runner: Runner | None, state: RunnerState, snippet: str) -> dict[str, Any]:
    """The prompt's code as the sandbox runs it (`real_run`), or why it cannot run now
    (`real_run_note`): the page never waits for a runner that is warming up."""
    if runner is None or not state.ready:
        return {"real_run_note": state.note()}
    try:
        # Bank content, so a trusted run: cached by the runner, the same for every learner.
        return {"real_run": await runner.run(RunRequest(code=snippet, kind="check"))}
    except REFUSALS as exc:
        return {"real_run_note": refusal_note(exc)}


def _refused(
    request: Request, name: str, context: dict[str, Any], exc: AppError, key: str
) -> Response:
    """The page again, saying in `key` why the code did not run (503 with Retry-After while
    the runner warms up, 429 when the learner runs too often)."""
    context[key] = refusal_note(exc)
    return render_page(request, name, context, status_code=exc.status, headers=exc.headers)


@router.post("/practice/{session_id}/{position:int}/run", dependencies=[CsrfProtected])
async def practice_run(
    session_id: PublicId,
    position: Position,
    code: Annotated[Text, Form(max_length=MAX_CODE_BYTES)],
    request: Request,
    database: DatabaseDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    runner: RunnerDep,
    answer: Annotated[RowId | None, Form()] = None,
) -> Response:
    """Without JavaScript: run the (edited) code and show the page again with its result."""
    context = await database.run(
        _practice_context_of, catalog, learner.public_id, session_id, position, answer
    )
    context["run_code"] = code
    run = RunRequest(code=code, kind="snippet", learner=learner.public_id, address=learner.address)
    try:
        context["run_result"] = await runner.run(run)
    except REFUSALS as exc:
        return _refused(request, "attempts/practice.html", context, exc, "run_refused")
    return render_page(request, "attempts/practice.html", context)


@router.post("/practice/{session_id}/{position:int}/samples", dependencies=[CsrfProtected])
async def practice_code_run(
    session_id: PublicId,
    position: Position,
    form: Annotated[AnswerForm, Form()],
    request: Request,
    database: DatabaseDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    runner: MaybeRunnerDep,
) -> Response:
    """Run: the editor's code on a code question's samples; the page again, code kept."""
    context = await database.run(
        _practice_context_of, catalog, learner.public_id, session_id, position
    )
    run = code_runs.run_samples(
        database,
        catalog,
        runner,
        learner.public_id,
        session_id,
        position,
        _editor_code(form),
        address=learner.address,
    )
    return await _code_run(request, "attempts/practice.html", context, form, run)


def _editor_code(form: AnswerForm) -> str:
    return form.answer[0] if len(form.answer) == 1 else ""


async def _code_run(
    request: Request,
    name: str,
    context: dict[str, Any],
    form: AnswerForm,
    run: Awaitable[code_runs.SampleRun],
) -> Response:
    """The page `name` again with the editor's code and what its Run did (`code_run`), or
    why it did not run: no code (`code_run_error`, 422) or a refusal (`code_run_refused`)."""
    context["prefill"] = [_editor_code(form)]
    try:
        context["code_run"] = await run
    except code_runs.CodeRunError as exc:
        if exc.field != "code":
            raise  # not a code question: the error page says so
        context["code_run_error"] = exc.message
        return render_page(request, name, context, status_code=exc.status)
    except REFUSALS as exc:
        return _refused(request, name, context, exc, "code_run_refused")
    return render_page(request, name, context)


@router.post("/practice/{session_id}/{position:int}", dependencies=[CsrfProtected])
async def practice_answer(
    session_id: PublicId,
    position: Position,
    form: Annotated[AnswerForm, Form()],
    request: Request,
    database: DatabaseDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    runner: MaybeRunnerDep,
) -> Response:
    body = form.to_answer(position)
    try:
        feedback = await answering.answer(
            database, catalog, runner, learner.public_id, session_id, body, address=learner.address
        )
    except AnswerFormatError as exc:
        # Not an attempt: show the question again with the message and what was typed.
        context = await database.run(
            _practice_context_of, catalog, learner.public_id, session_id, position
        )
        context.update(error=exc.message, prefill=form.answer)
        return render_page(request, "attempts/practice.html", context, status_code=422)
    except REFUSALS as exc:  # a code answer the runner cannot run now: not an attempt either
        context = await database.run(
            _practice_context_of, catalog, learner.public_id, session_id, position
        )
        context["prefill"] = form.answer
        return _refused(request, "attempts/practice.html", context, exc, "answer_refused")
    assert isinstance(feedback, PracticeFeedback)
    url = request.url_for("practice_page", session_id=session_id, position=position)
    return RedirectResponse(f"{url}?answer={feedback.answer_id}#feedback", status_code=303)


@router.post("/practice/{session_id}/{position:int}/hints", dependencies=[CsrfProtected])
def practice_hint(
    session_id: PublicId,
    position: Position,
    number: Annotated[int, Form(ge=1, le=20)],
    request: Request,
    db: SessionDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    answer: Annotated[RowId | None, Form()] = None,
) -> Response:
    """Reveal a hint (recorded, app.attempts.help) and show the page again at it."""
    session = get_session(db, learner.public_id, session_id)
    help.reveal_hint(db, catalog, session, position, number)
    return _back_to_practice(request, session_id, position, answer, f"hint-{number}")


@router.post("/practice/{session_id}/{position:int}/solution", dependencies=[CsrfProtected])
def practice_solution(
    session_id: PublicId,
    position: Position,
    request: Request,
    db: SessionDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    answer: Annotated[RowId | None, Form()] = None,
) -> Response:
    """ "Show solution" (recorded: an answer after it is not counted as mastered)."""
    help.reveal_solution(db, catalog, get_session(db, learner.public_id, session_id), position)
    return _back_to_practice(request, session_id, position, answer, "explanation")


def _back_to_practice(
    request: Request, session_id: str, position: int, answer: int | None, anchor: str
) -> RedirectResponse:
    url = request.url_for("practice_page", session_id=session_id, position=position)
    query = f"?answer={answer}" if answer is not None else ""
    return RedirectResponse(f"{url}{query}#{anchor}", status_code=303)


def _practice_context_of(
    db: Session,
    catalog: Catalog,
    learner: str,
    session_id: str,
    position: int,
    answer_id: int | None = None,
) -> dict[str, Any]:
    session = get_session(db, learner, session_id)
    return _practice_context(db, catalog, session, position, answer_id)


@router.get("/practice/{session_id}/summary", name="practice_summary_page")
def practice_summary_page(
    session_id: PublicId, request: Request, db: SessionDep, catalog: CatalogDep, learner: LearnerDep
) -> Response:
    session = get_session(db, learner.public_id, session_id)
    if session.mode != "practice":
        return _redirect(request, "test_summary_page", session_id=session_id)
    found = summary.practice_summary(db, catalog, session)
    context = {
        "summary": found,
        "topic": topic_summary(catalog.session_topic(db, found.session.topic)),
    }
    return render_page(request, "attempts/practice_summary.html", context)


# --- tests ---


@router.get("/topics/{slug}/test")
def test_start_page(slug: Slug, request: Request, catalog: CatalogDep) -> Response:
    topic = catalog.topic(slug)
    context = {"topic": topic_summary(topic), "rules": default_test(slug)}
    return render_page(request, "attempts/test_start.html", context)


@router.post("/topics/{slug}/test", dependencies=[CsrfProtected])
def start_test(
    slug: Slug,
    request: Request,
    db: SessionDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    rng: RngDep,
) -> Response:
    return _start(request, db, catalog, learner, StartSession(topic=slug, mode="test"), rng)


def _test_context(
    db: Session, catalog: Catalog, session: SessionRecord, position: int
) -> dict[str, Any]:
    view = service.session_view(db, catalog, session)
    item = service.session_question(db, catalog, session, position)
    return {
        "session": view,
        "topic": topic_summary(catalog.session_topic(db, view.topic)),
        "item": item,
        "prefill": prefill(item.saved_answer),
        "shown_at": int(time.time() * 1000),
    }


@router.get("/tests/{session_id}/{position:int}")
def test_page(
    session_id: PublicId,
    position: Position,
    request: Request,
    db: SessionDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    runner_state: RunnerStateDep,
    saved: Position | None = None,
) -> Response:
    session = get_session(db, learner.public_id, session_id)
    if session.finished_at is not None:
        return _redirect(request, "test_result_page", session_id=session_id)
    context = _test_context(db, catalog, session, position)
    context.update(saved_position=saved, runner_note=runner_state.note())
    context["saved_verdict"] = saved and _verdict(db, session, saved)
    return render_page(request, "attempts/test.html", context)


def _verdict(db: Session, session: SessionRecord, position: int) -> str | None:
    """A saved answer's grading in words, where the assignment gives feedback immediately."""
    rules = assignments.session_rules(db, session)
    answer = service.test_answers(db, session).get(position)
    if rules is None or rules.feedback != "immediately" or answer is None:
        return None
    if answer.correct:
        return "correct"
    return "partly correct" if answer.score > 0 else "incorrect"


@router.post("/tests/{session_id}/{position:int}", dependencies=[CsrfProtected])
async def test_answer(
    session_id: PublicId,
    position: Position,
    form: Annotated[AnswerForm, Form()],
    request: Request,
    database: DatabaseDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    runner: MaybeRunnerDep,
) -> Response:
    """Save the answer (none is fine: a test may be left unanswered) and its flag, and move:
    to another question, or to the summary shown before finishing."""
    try:
        saved = await answering.answer(
            database,
            catalog,
            runner,
            learner.public_id,
            session_id,
            form.to_answer(position, test=True),
            address=learner.address,
            blank_allowed=True,
        )
    except service.FinishedError:
        return _redirect(request, "test_result_page", session_id=session_id)
    except AnswerFormatError as exc:
        context = await database.run(
            _test_context_of, catalog, learner.public_id, session_id, position
        )
        context.update(error=exc.message, prefill=form.answer)
        return render_page(request, "attempts/test.html", context, status_code=422)
    except REFUSALS as exc:  # not saved: the page keeps the code and says why
        context = await database.run(
            _test_context_of, catalog, learner.public_id, session_id, position
        )
        context["prefill"] = form.answer
        return _refused(request, "attempts/test.html", context, exc, "answer_refused")
    if form.go == "finish":
        return _redirect(request, "test_summary_page", session_id=session_id)
    assert isinstance(saved, TestAck | service.Skipped)
    step = {"next": 1, "previous": -1}.get(form.go, 0)
    target = min(max(1, position + step), saved.total)
    url = request.url_for("test_page", session_id=session_id, position=target)
    query = "" if isinstance(saved, service.Skipped) else f"?saved={position}"
    return RedirectResponse(f"{url}{query}", status_code=303)


@router.post("/tests/{session_id}/{position:int}/samples", dependencies=[CsrfProtected])
async def test_code_run(
    session_id: PublicId,
    position: Position,
    form: Annotated[AnswerForm, Form()],
    request: Request,
    database: DatabaseDep,
    catalog: CatalogDep,
    learner: LearnerDep,
    runner: MaybeRunnerDep,
) -> Response:
    """Run, in a test: as in practice; nothing is saved (Save and next saves the answer)."""
    context = await database.run(_test_context_of, catalog, learner.public_id, session_id, position)
    run = code_runs.run_samples(
        database,
        catalog,
        runner,
        learner.public_id,
        session_id,
        position,
        _editor_code(form),
        address=learner.address,
    )
    try:
        return await _code_run(request, "attempts/test.html", context, form, run)
    except service.FinishedError:
        return _redirect(request, "test_result_page", session_id=session_id)


def _test_context_of(
    db: Session, catalog: Catalog, learner: str, session_id: str, position: int
) -> dict[str, Any]:
    return _test_context(db, catalog, get_session(db, learner, session_id), position)


@router.get("/tests/{session_id}/summary", name="test_summary_page")
def test_summary_page(
    session_id: PublicId, request: Request, db: SessionDep, catalog: CatalogDep, learner: LearnerDep
) -> Response:
    """Before finishing: what is answered, unanswered and flagged, each a link back."""
    session = get_session(db, learner.public_id, session_id)
    if session.finished_at is not None:
        return _redirect(request, "test_result_page", session_id=session_id)
    view = service.session_view(db, catalog, session)
    context = {"session": view, "topic": topic_summary(catalog.session_topic(db, view.topic))}
    return render_page(request, "attempts/test_summary.html", context)


@router.post("/tests/{session_id}/finish", dependencies=[CsrfProtected])
def finish_test(
    session_id: PublicId, request: Request, db: SessionDep, catalog: CatalogDep, learner: LearnerDep
) -> Response:
    """End the test (finishing twice is harmless) and show its result."""
    results.finish_test(db, catalog, get_session(db, learner.public_id, session_id))
    return _redirect(request, "test_result_page", session_id=session_id)


@router.get("/tests/{session_id}/result", name="test_result_page")
def test_result_page(
    session_id: PublicId, request: Request, db: SessionDep, catalog: CatalogDep, learner: LearnerDep
) -> Response:
    session = get_session(db, learner.public_id, session_id)
    if session.finished_at is None:
        return _redirect(request, "test_page", session_id=session_id, position=1)
    result = results.test_result(db, catalog, session)
    assignment = assignments.assignment_of(db, session)
    course_work = assignment if assignment is not None and not assignment.is_default else None
    context = {
        "result": result,
        "topic": topic_summary(catalog.session_topic(db, result.session.topic)),
        "assignment_url": f"/assignments/{course_work.public_id}" if course_work else None,
    }
    return render_page(request, "attempts/result.html", context)
