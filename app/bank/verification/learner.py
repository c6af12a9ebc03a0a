"""Claims about what a learner meets, checked with the app's own functions: every text
renders (app.core.markdown), the declared answer grades 1.0, every distractor and declared wrong
answer grades below 1.0 with its feedback, and a malformed answer is refused (the grading
function's AnswerFormatError, which the app reports without recording an attempt)."""

from __future__ import annotations

from typing import Any

from app.bank.grading import code_answer, grade, letter
from app.bank.schema import (
    PLACEHOLDER,
    AnyQuestion,
    ChoiceQuestion,
    CodeQuestion,
    FreeAnswerQuestion,
    MultipleSelect,
    Numeric,
    ShortText,
    SingleChoice,
    TensorShape,
)
from app.bank.variants import format_answer
from app.bank.verification.claim import Claim
from app.core.errors import AnswerFormatError
from app.core.markdown import render, render_inline

# Answers no question type can read: each type's grading function must refuse its own.
_MALFORMED: dict[str, Any] = {
    "single_choice": "not an option",
    "multiple_select": [],
    "numeric": "about twelve",
    "tensor_shape": "four by seven",
    "short_text": "   ",
}


def learner_claims(question: AnyQuestion, seed: int | None, values: dict[str, int]) -> list[Claim]:
    """Rendering and grading of one concrete question (a variant's, for a template)."""
    claims = render_claims(question) + grading_claims(question)
    return [Claim(c.field, c.claims, c.observed, c.passed, seed, values, c.detail) for c in claims]


def render_claims(question: AnyQuestion) -> list[Claim]:
    failures = [
        Claim(path, "renders as learners see it", why, False)
        for path, text, inline in _texts(question)
        if (why := _render_problem(text, inline))
    ]
    texts = len(_texts(question))
    return failures or [Claim("render", "renders as learners see it", f"{texts} texts", True)]


def _texts(question: AnyQuestion) -> list[tuple[str, str, bool]]:
    """(field path, Markdown, shown inline) of every text a learner may see."""
    texts = [("prompt", question.prompt, False)]
    texts += [(f"hints[{i}]", hint, False) for i, hint in enumerate(question.hints)]
    texts += [
        (f"solution_steps[{i}].body", s.body, False) for i, s in enumerate(question.solution_steps)
    ]
    texts += [("final_answer", question.final_answer, False)]
    texts += [("quick_check", question.quick_check, False)]
    texts += [(f"common_mistakes[{i}]", m, False) for i, m in enumerate(question.common_mistakes)]
    if isinstance(question, ChoiceQuestion):
        for i, option in enumerate(question.options):
            texts += [(f"options[{i}].text", option.text, True)]
            texts += [(f"options[{i}].feedback", option.feedback, False)]
    if isinstance(question, FreeAnswerQuestion):
        texts += [
            (f"wrong_answers[{i}].feedback", wrong.feedback, False)
            for i, wrong in enumerate(question.wrong_answers)
        ]
    return texts


def _render_problem(text: str, inline: bool) -> str | None:
    left = PLACEHOLDER.search(text)
    if left:
        return f"shows the placeholder {left.group(0)} unfilled"
    try:
        html = render_inline(text) if inline else render(text)
    except Exception as exc:  # whatever the renderer raises is the finding
        return f"rendering raises {type(exc).__name__}: {exc}"
    return None if str(html).strip() else "renders as nothing"


def grading_claims(question: AnyQuestion) -> list[Claim]:
    if isinstance(question, CodeQuestion):
        return [_refused(question, question.starter, "the starter code unchanged")]
    claims = [_key_claim(question)]
    if isinstance(question, SingleChoice | MultipleSelect):
        claims += _distractor_claims(question)
    if isinstance(question, Numeric | TensorShape | ShortText):
        claims += _wrong_answer_claims(question)
    return [*claims, _refused(question, _MALFORMED[question.type], "a malformed answer")]


def _key(question: AnyQuestion) -> tuple[str, Any]:
    """Where the declared correct answer is, and that answer as a learner sends it."""
    if isinstance(question, MultipleSelect):
        return "options", [letter(i) for i in sorted(question.correct_indexes())]
    if isinstance(question, ChoiceQuestion):
        (index,) = question.correct_indexes()
        return f"options[{index}]", letter(index)
    if isinstance(question, Numeric):
        value = question.expected().value
        return "answer", str(int(value)) if value.is_integer() else repr(value)
    if isinstance(question, TensorShape):
        return "answer", format_answer(question.expected())
    assert isinstance(question, ShortText)
    return "answer", question.answer.accepted[0]


def _key_claim(question: AnyQuestion) -> Claim:
    field, answer = _key(question)
    score, seen = _score(question, answer)
    return Claim(field, f"the answer {answer!r} grades 1.0", seen, score == 1.0)


def _distractor_claims(question: SingleChoice | MultipleSelect) -> list[Claim]:
    """Each wrong option, chosen (beside the right ones, for multiple select), scores below 1."""
    _, key = _key(question)
    claims = []
    for index, option in enumerate(question.options):
        if option.correct:
            continue
        answer = [*key, letter(index)] if isinstance(question, MultipleSelect) else letter(index)
        score, seen = _score(question, answer)
        below = score is not None and score < 1.0
        claims.append(
            Claim(f"options[{index}]", f"choosing {answer!r} grades below 1.0", seen, below)
        )
    return claims


def _wrong_answer_claims(question: Numeric | TensorShape | ShortText) -> list[Claim]:
    claims = []
    for index, wrong in enumerate(question.wrong_answers):
        score, seen = _score(question, wrong.answer)
        claims.append(
            Claim(
                f"wrong_answers[{index}]",
                f"the wrong answer {wrong.answer!r} grades below 1.0",
                seen,
                score is not None and score < 1.0,
            )
        )
    return claims


def _score(question: AnyQuestion, answer: Any) -> tuple[float | None, str]:
    try:
        score = grade(question, answer).score
    except AnswerFormatError as exc:
        return None, f"refused: {exc}"
    return score, f"grades {score:g}"


def _refused(question: AnyQuestion, answer: Any, what: str) -> Claim:
    shown = "" if isinstance(question, CodeQuestion) else f" ({answer!r})"
    claims = f"{what}{shown} is refused without costing an attempt"
    try:
        if isinstance(question, CodeQuestion):
            code_answer(question, answer)
            return Claim("malformed answer", claims, "accepted as an answer", False)
        score = grade(question, answer).score
    except AnswerFormatError as exc:
        return Claim("malformed answer", claims, f"refused: {exc}", True)
    return Claim("malformed answer", claims, f"graded {score:g}, costing an attempt", False)
