"""Content views: topics, questions as learners see them, and solutions after answering."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from app.bank.grading import SHAPE_FORMS, format_answer, letter
from app.bank.schema import (
    AnyQuestion,
    ChoiceQuestion,
    CodeQuestion,
    Difficulty,
    Numeric,
    ShortText,
    TensorShape,
)
from app.core.markdown import python_blocks, render, render_inline
from app.questions.catalog import Catalog, CatalogQuestion, CatalogTopic
from app.questions.schemas import (
    OptionPublic,
    OptionReview,
    QuestionForPractice,
    QuestionPublic,
    SampleTest,
    Solution,
    SolutionStepView,
    TopicDetail,
    TopicSummary,
)

Q = TypeVar("Q", bound=QuestionPublic)


def topic_summary(topic: CatalogTopic) -> TopicSummary:
    t = topic.topic
    return TopicSummary(
        slug=topic.slug,
        title=t.title,
        category=t.category,
        estimated_minutes=t.estimated_minutes,
        summary=t.summary,
        summary_html=render(t.summary),
        modes=[m.value for m in t.modes],
        question_count=len(topic.questions),
        difficulty_counts=topic.difficulty_counts(),
        tags=topic.tags(),
    )


def list_topics(catalog: Catalog) -> list[TopicSummary]:
    return [topic_summary(t) for t in catalog.topics.values()]


def topic_detail(catalog: Catalog, slug: str) -> TopicDetail:
    topic = catalog.topic(slug)
    return TopicDetail(
        **topic_summary(topic).model_dump(),
        notes=topic.topic.notes,
        notes_html=render(topic.topic.notes),
    )


def filter_questions(
    topic: CatalogTopic, *, difficulty: Difficulty | None = None, tag: str | None = None
) -> list[CatalogQuestion]:
    return [
        q
        for q in topic.questions
        if (difficulty is None or q.difficulty == difficulty)
        and (tag is None or tag in q.model.tags)
    ]


def public_question(question: AnyQuestion) -> QuestionPublic:
    return QuestionPublic(**_public_fields(question))


def practice_question(question: AnyQuestion) -> QuestionForPractice:
    return QuestionForPractice(
        **_public_fields(question),
        hints_html=[render(h) for h in question.hints],
        hints_total=len(question.hints),
        snippet=question_snippet(question),
        predict_then_run=question.predict_then_run,
    )


def question_snippet(question: AnyQuestion) -> str | None:
    """The code a question shows: its prompt's first Python block."""
    blocks = python_blocks(question.prompt)
    return blocks[0] if blocks else None


def _public_fields(question: AnyQuestion) -> dict[str, object]:
    fields: dict[str, object] = {
        "id": question.id,
        "type": question.type,
        "difficulty": question.difficulty.value,
        "tags": question.tags,
        "prompt": question.prompt,
        "prompt_html": render(question.prompt),
    }
    if isinstance(question, ChoiceQuestion):
        fields["options"] = [
            OptionPublic(label=letter(i), text=o.text, text_html=render_inline(o.text))
            for i, o in enumerate(question.options)
        ]
    elif isinstance(question, Numeric):
        fields["unit"] = question.unit
        fields["answer_format"] = "a number, such as 15493 or 0.25"
    elif isinstance(question, TensorShape):
        fields["answer_format"] = SHAPE_FORMS
    elif isinstance(question, ShortText) and (index_of := question.answer.index_of):
        fields["answer_format"] = (
            f"an indexing expression on {index_of.tensor}, with integers, slices and ..."
        )
    elif isinstance(question, ShortText):
        fields["answer_format"] = "a short answer"
    elif isinstance(question, CodeQuestion):
        fields["starter"] = question.starter
        fields["tests"] = [test.name for test in question.tests]
        fields["samples"] = [SampleTest(name=t.name, code=t.code) for t in question.samples]
        fields["answer_format"] = "Python code; hidden tests run it in the sandbox"
    return fields


def correct_answer_text(question: AnyQuestion) -> str:
    if isinstance(question, ChoiceQuestion):
        return ", ".join(letter(i) for i in sorted(question.correct_indexes()))
    if isinstance(question, Numeric):
        answer = question.expected()
        shown = f"{int(answer.value)}" if answer.value.is_integer() else f"{answer.value:g}"
        if answer.tolerance:
            shown += f" (± {answer.tolerance:g})"
        return f"{shown} {question.unit}" if question.unit else shown
    if isinstance(question, TensorShape):
        return format_answer(question.expected())
    if isinstance(question, CodeQuestion):
        return f"code that passes all {len(question.tests)} tests (one is shown below)"
    return question.answer.accepted[0]


def question_in_order(view: Q, order: Sequence[int] | None) -> Q:
    """A question view with its options in an attempt's order (app.attempts.order), lettered
    as shown; None keeps the file's order."""
    if order is None or view.options is None:
        return view
    options = [
        view.options[index].model_copy(update={"label": letter(shown)})
        for shown, index in enumerate(order)
    ]
    return view.model_copy(update={"options": options})


def solution_in_order(solution: Solution, order: Sequence[int] | None) -> Solution:
    """The explanation with its options, and the letters of the right answer, as shown."""
    if order is None or solution.options is None:
        return solution
    options = [
        solution.options[index].model_copy(update={"label": letter(shown)})
        for shown, index in enumerate(order)
    ]
    right = ", ".join(o.label for o in options if o.correct)
    return solution.model_copy(update={"options": options, "correct_answer": right})


def with_choices(solution: Solution, given: object) -> Solution:
    """The explanation of an answer: each option says whether this answer chose it."""
    if solution.options is None:
        return solution
    chosen = set(given if isinstance(given, list) else [given])
    options = [o.model_copy(update={"chosen": o.label in chosen}) for o in solution.options]
    return solution.model_copy(update={"options": options})


def solution(question: AnyQuestion) -> Solution:
    """The full explanation, before anyone answered (no option chosen)."""
    options = None
    if isinstance(question, ChoiceQuestion):
        options = [
            OptionReview(
                label=letter(i),
                text_html=render_inline(o.text),
                correct=o.correct,
                chosen=False,
                feedback_html=render(o.feedback),
            )
            for i, o in enumerate(question.options)
        ]
    return Solution(
        correct_answer=correct_answer_text(question),
        options=options,
        steps=[
            SolutionStepView(title=s.title, body_html=render(s.body))
            for s in question.solution_steps
        ],
        final_answer_html=render(question.final_answer),
        reference_code_html=render(f"```python\n{question.solution_code}\n```")
        if isinstance(question, CodeQuestion)
        else None,
        quick_check_html=render(question.quick_check),
        common_mistakes_html=[render(m) for m in question.common_mistakes],
    )
