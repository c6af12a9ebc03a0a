"""A draft as a learner will see it, for one seed and mode: the views learners' pages render
(app.questions.service), the options in the order that seed gives, and the real grading of an
answer the author tries. Nothing is stored: a preview records no attempt and no session.

A template (a question with variants) has no answer until torch computes it: its preview runs
the check for the seed's values in the runner, or says why it cannot now (runner off or
warming up) instead of showing an answer torch did not compute.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from app.attempts.order import Order, option_order, to_canonical, to_shown
from app.bank.checks import from_run
from app.bank.grading import Grade, grade, letter
from app.bank.loader import content_hash
from app.bank.schema import AnyQuestion, ChoiceQuestion, CodeQuestion, Numeric, ShortText
from app.bank.variants import VariantError, check_code, draw, variant_of
from app.bank.variants import format_answer as format_computed
from app.core.errors import AnswerFormatError, AppError
from app.questions.schemas import QuestionForPractice, Solution
from app.questions.service import (
    correct_answer_text,
    practice_question,
    question_in_order,
    solution,
    solution_in_order,
    with_choices,
)
from app.runner.client import OFF_HERE, REFUSALS, Runner, RunnerOffError, RunnerState
from app.runner.protocol import RunRequest

Mode = Literal["practice", "test"]
MAX_SEED = 9999


@dataclass
class PreviewSettings:
    """The preview's controls, as the editor form posts them (`preview_*`)."""

    seed: int = 0
    mode: Mode = "practice"
    fill: bool = False
    hints: int = 0  # hints shown, in order
    solution: bool = False
    answer: str = ""  # an answer to grade, as a learner would give it

    @classmethod
    def read(cls, posted: Mapping[str, str], rng: random.Random | None = None) -> PreviewSettings:
        """Unreadable numbers fall back to the defaults: a preview control never refuses."""
        seed = _number(posted.get("preview_seed"), 0, MAX_SEED)
        if posted.get("preview_action") == "new-seed":
            seed = (rng or random.Random()).randint(0, MAX_SEED)  # noqa: S311 - a seed to show
        return cls(
            seed=seed,
            mode="test" if posted.get("preview_mode") == "test" else "practice",
            fill=posted.get("preview_fill") == "on",
            hints=_number(posted.get("preview_hints"), 0, 20),
            solution=posted.get("preview_solution") == "on",
            answer=(posted.get("preview_answer") or "").strip()[:2000],
        )


def _number(text: str | None, low: int, high: int) -> int:
    try:
        return min(max(int(text or low), low), high)
    except ValueError:
        return low


@dataclass
class Preview:
    settings: PreviewSettings
    version_hash: str  # of the content previewed (the template's, for a template)
    view: QuestionForPractice | None = None
    order: Order | None = None
    values: dict[str, int] = field(default_factory=dict)  # a template's parameters
    correct_answer: str = ""
    solution: Solution | None = None
    prefill: list[str] = field(default_factory=list)
    grade: Grade | None = None
    answer_error: str | None = None
    note: str | None = None  # why there is no learner's view now


async def preview(
    question: AnyQuestion,
    settings: PreviewSettings,
    runner: Runner | None,
    runner_state: RunnerState,
) -> Preview:
    if question.variants is None:
        return preview_now(question, settings)
    shown = Preview(settings, content_hash(question), values=draw(question, settings.seed))
    try:
        concrete = await _variant(question, shown.values, runner, runner_state)
    except (AppError, VariantError) as exc:
        shown.note = _unavailable(exc)
        return shown
    _render(shown, concrete)
    return shown


def preview_now(question: AnyQuestion, settings: PreviewSettings) -> Preview:
    """The preview without the runner: a template says it needs one (see `preview`)."""
    shown = Preview(settings, content_hash(question))
    if question.variants is not None:
        shown.values = draw(question, settings.seed)
        shown.note = "This question's answer for each seed is computed by torch: press Preview."
        return shown
    _render(shown, question)
    return shown


async def _variant(
    question: AnyQuestion,
    values: dict[str, int],
    runner: Runner | None,
    state: RunnerState,
) -> AnyQuestion:
    if runner is None:
        raise RunnerOffError(state.reason or OFF_HERE)
    refusal = state.error()
    if refusal is not None:
        raise refusal
    result = await runner.run(RunRequest(code=check_code(question, values), kind="check"))
    return variant_of(question, values, from_run(result))


def _unavailable(exc: Exception) -> str:
    reason = exc.message if isinstance(exc, AppError) else str(exc)
    if isinstance(exc, REFUSALS):
        return (
            f"This question's answer for each seed is computed by torch in the code runner, "
            f"which cannot run now: {reason}"
        )
    return f"torch could not compute this seed's answer: {reason}"


def _render(shown: Preview, question: AnyQuestion) -> None:
    settings = shown.settings
    shown.order = option_order(question, f"preview-{settings.seed}", 1)
    shown.view = question_in_order(practice_question(question), shown.order)
    explained = solution_in_order(solution(question), shown.order)
    shown.correct_answer = explained.correct_answer
    if settings.fill:
        shown.prefill = _correct_input(question, shown.order)
    if settings.answer and not isinstance(question, CodeQuestion):
        raw = _as_given(question, settings.answer)
        shown.prefill = [settings.answer] if not isinstance(raw, list) else raw
        try:
            shown.grade = grade(question, to_canonical(raw, shown.order))
        except AnswerFormatError as exc:
            shown.answer_error = exc.message
    if shown.grade is not None:
        explained = with_choices(explained, to_shown(shown.grade.given, shown.order))
    if settings.mode == "practice" and (settings.solution or shown.grade is not None):
        shown.solution = explained


def _as_given(question: AnyQuestion, text: str) -> Any:
    """An answer typed in one box, as the learner's form would send it (letters: one each)."""
    if question.type == "multiple_select":
        return [part.strip() for part in text.replace(" ", ",").split(",") if part.strip()]
    return text


def _correct_input(question: AnyQuestion, order: Order | None) -> list[str]:
    """What a learner who knows the answer types or ticks."""
    if isinstance(question, ChoiceQuestion):
        given = [letter(i) for i in sorted(question.correct_indexes())]
        return list(to_shown(given, order))
    if isinstance(question, CodeQuestion):
        return [question.solution_code]
    if isinstance(question, ShortText):
        return [question.answer.accepted[0]]
    if isinstance(question, Numeric):
        return [format_computed(question.expected().value)]
    return [correct_answer_text(question)]
