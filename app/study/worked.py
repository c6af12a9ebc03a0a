"""Worked examples with faded steps: problem n of a series leaves its last n - 1 steps to the
learner, each answer graded by the bank's graders as a question of its answer's kind."""

from __future__ import annotations

from typing import Any, TypeVar

from app.bank.grading import SHAPE_FORMS, format_answer, grade
from app.bank.schema import (
    Check,
    FadedStep,
    LearningMode,
    Numeric,
    NumericAnswer,
    ShortText,
    TensorShape,
    WorkedSeries,
)
from app.core.errors import AnswerFormatError, NotFoundError
from app.core.markdown import render
from app.questions.catalog import Catalog
from app.study.schemas import ProblemView, SeriesSummary, StepAnswer, StepVerdict, StepView
from app.study.service import OutOfRangeError, StudyContent, in_range, offered

Q = TypeVar("Q", Numeric, TensorShape, ShortText)


def _series(study: StudyContent, catalog: Catalog, slug: str) -> dict[str, WorkedSeries]:
    offered(catalog, slug, LearningMode.worked_examples)
    return study.worked.get(slug, {})


def series_list(study: StudyContent, catalog: Catalog, slug: str) -> list[SeriesSummary]:
    return [_series_summary(s) for s in _series(study, catalog, slug).values()]


def find_series(study: StudyContent, catalog: Catalog, slug: str, series_id: str) -> WorkedSeries:
    try:
        return _series(study, catalog, slug)[series_id]
    except KeyError:
        raise NotFoundError(
            f"no worked example '{series_id}' in '{slug}'", field="series"
        ) from None


def _series_summary(series: WorkedSeries) -> SeriesSummary:
    return SeriesSummary(
        id=series.id,
        title=series.title,
        idea_html=render(series.idea),
        problems=len(series.problems),
    )


def faded_steps(series: WorkedSeries, number: int) -> range:
    """The steps problem `number` leaves to the learner: its last number - 1 (they fade)."""
    steps = len(series.problems[number - 1].steps)
    return range(steps - number + 2, steps + 1)


def problem_view(series: WorkedSeries, number: int) -> ProblemView:
    in_range("problem", number, len(series.problems))
    problem, faded = series.problems[number - 1], faded_steps(series, number)
    steps = [
        StepView(
            number=index,
            title=step.title,
            faded=index in faded,
            worked_html=None if index in faded else _worked(step, problem.check),
            ask_html=render(step.ask),
            answer_format=_answer_format(step, problem.check) if index in faded else None,
        )
        for index, step in enumerate(problem.steps, start=1)
    ]
    return ProblemView(
        series=_series_summary(series),
        number=number,
        statement_html=render(problem.statement),
        steps=steps,
    )


def check_steps(series: WorkedSeries, number: int, answers: list[StepAnswer]) -> list[StepVerdict]:
    """Grade the answers to problem `number`'s faded steps; a blank answer is left out."""
    in_range("problem", number, len(series.problems))
    problem, faded = series.problems[number - 1], faded_steps(series, number)
    verdicts = []
    for given in answers:
        if given.step not in faded:
            left = ", ".join(map(str, faded)) or "none"
            raise OutOfRangeError(
                f"step {given.step} is not left to you in problem {number} (those are: {left})",
                field="step",
            )
        if given.answer.strip():
            step = problem.steps[given.step - 1]
            verdicts.append(_verdict(step, problem.check, given))
    return verdicts


def _verdict(step: FadedStep, check: Check, given: StepAnswer) -> StepVerdict:
    worked = _worked(step, check)
    try:
        correct = grade(step_question(step, check), given.answer).correct
    except AnswerFormatError as exc:
        message = f"Step {given.step}: cannot read that answer: {exc.message}."
        return StepVerdict(
            step=given.step, given=given.answer, readable=False, correct=False,
            message=message, worked_html=worked,
        )  # fmt: skip
    said = "correct" if correct else "not right yet"
    message = f"Step {given.step}: {said} (you answered {given.answer.strip()})."
    return StepVerdict(
        step=given.step, given=given.answer, readable=True, correct=correct,
        message=message, worked_html=worked,
    )  # fmt: skip


def step_question(step: FadedStep, check: Check) -> Numeric | TensorShape | ShortText:
    """The step as the bank question of its answer's kind, so the bank's graders grade it (they
    read only the answer). A shape or number is the one the problem's check claims, which the
    suite proves with real torch (app.study.checks)."""
    if step.text is not None:
        return _answer_only(ShortText, {"type": "short_text", "answer": step.text})
    name = step.answer_from or ""
    shapes, values = check.expect.shapes or {}, check.expect.values or {}
    if name in shapes:
        return _answer_only(TensorShape, {"type": "tensor_shape", "answer": shapes[name]})
    answer = NumericAnswer(value=float(values[name]), tolerance=step.tolerance)
    return _answer_only(Numeric, {"type": "numeric", "answer": answer})


def _answer_only(kind: type[Q], fields: dict[str, Any]) -> Q:
    """A question with its answer only (not validated: it has no prompt, hints...)."""
    return kind.model_construct(**fields)


def _answer_text(step: FadedStep, check: Check) -> str:
    question = step_question(step, check)
    if isinstance(question, ShortText):
        return question.answer.accepted[0]
    if isinstance(question, TensorShape):
        return format_answer(question.expected())
    value = question.expected().value
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _worked(step: FadedStep, check: Check) -> str:
    return render(step.worked.replace("{{answer}}", _answer_text(step, check)))


def _answer_format(step: FadedStep, check: Check) -> str:
    question = step_question(step, check)
    if isinstance(question, TensorShape):
        return SHAPE_FORMS
    return "a number, such as 42 or 0.25" if isinstance(question, Numeric) else "a short answer"
