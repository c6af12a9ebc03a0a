"""The editor's form against the schema, without a server: every shipped question survives the
form both ways (so the form has an input for every field), the YAML source converts both ways,
and problems are placed next to the input they name, with the loader's own messages."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from app.authoring import editor
from app.bank.loader import Problem, content_hash, load_bank, parse_text
from app.bank.schema import AnyQuestion, QuestionAdapter

ROOT = Path(__file__).resolve().parents[2]


@cache
def shipped() -> list[AnyQuestion]:
    bank = load_bank(ROOT / "questions")
    return [q.question for t in bank.topics.values() for q in t.questions]


def posted(form: editor.EditorForm) -> editor.EditorForm:
    """The form as a browser would post it back: its inputs' names and values."""
    return editor.read_form(form.type, list(form.values.items()))


def test_the_shipped_bank_has_every_question_type_and_a_template_to_round_trip() -> None:
    questions = shipped()
    assert {q.type for q in questions} == set(editor.TYPES)
    assert any(q.variants is not None for q in questions)
    assert any(
        getattr(q, "answer", None) and getattr(q.answer, "index_of", None) for q in questions
    )


@pytest.mark.parametrize("question", shipped(), ids=lambda q: q.id)
def test_every_shipped_question_loaded_into_the_form_and_parsed_back_is_the_same_question(
    question: AnyQuestion,
) -> None:
    back, problems, _ = editor.parse_form(posted(editor.form_of(question)))
    assert problems == []
    assert back == question
    assert content_hash(back) == content_hash(question)


@pytest.mark.parametrize("question", shipped()[:12], ids=lambda q: q.id)
def test_the_yaml_tab_and_the_form_convert_into_each_other_unchanged(
    question: AnyQuestion,
) -> None:
    source = editor.yaml_of(editor.parse_form(posted(editor.form_of(question)))[0])
    from_source, problems = editor.parse_source(source)
    assert problems == []
    assert from_source == question
    assert editor.form_of(from_source).values == editor.form_of(question).values


def choice_form() -> editor.EditorForm:
    question = next(q for q in shipped() if q.type == "single_choice")
    return posted(editor.form_of(question))


def test_a_form_error_has_the_same_message_as_torchquiz_questions_check_and_its_field() -> None:
    form = choice_form()
    form.values["options.1.text"] = ""
    form.values["difficulty"] = "impossible"
    _, problems, data = editor.parse_form(form)
    from_file: list[Problem] = []
    parse_text(editor.yaml_of_data(data), "question", QuestionAdapter, from_file)
    assert problems == from_file
    fields = {p.field for p in problems}
    assert fields == {"options[1].text", "difficulty"}


def test_a_problem_is_placed_next_to_its_input_or_the_nearest_group_that_holds_it() -> None:
    form = choice_form()
    names = editor.field_names(form)
    problems = [
        Problem("question", "options[1].text", "Field required"),
        Problem("question", "options", "a single_choice question needs exactly one correct option"),
        Problem("question", "check.expect.shapes.y", "bad shape"),
        Problem("question", "", "file must hold a YAML mapping"),
    ]
    placed = editor.place_problems(problems, names)
    assert placed["options.1.text"] == ["Field required"]
    assert placed["options"] == ["a single_choice question needs exactly one correct option"]
    assert placed["check.expect"] == ["bad shape"]
    assert placed[""] == ["file must hold a YAML mapping"]


def test_an_unparsable_yaml_input_is_a_problem_named_by_its_field() -> None:
    form = choice_form()
    form.values["options.0.outcome"] = "{runs: [true"
    question, problems, _ = editor.parse_form(form)
    assert question is None
    assert any(
        p.field == "options[0].outcome" and "YAML syntax error" in p.message for p in problems
    )


def test_two_correct_options_in_a_single_choice_question_are_refused_on_the_options() -> None:
    form = choice_form()
    form.values["options.0.correct"] = "on"
    form.values["options.1.correct"] = "on"
    _, problems, _ = editor.parse_form(form)
    assert [p.message for p in problems if p.field == "options"] == [
        "Value error, a single_choice question needs exactly one correct option"
    ]


def test_an_added_empty_row_is_left_out_and_a_removed_row_moves_the_next_ones_up() -> None:
    form = choice_form()
    count = form.count("hints")
    editor.add_row(form, "hints")
    assert form.count("hints") == count + 1
    question, problems, _ = editor.parse_form(form)
    assert problems == [] and question is not None and len(question.hints) == count
    second = form.values.get("hints.1")
    editor.remove_row(form, "hints", 0)
    if second is not None:
        assert form.values["hints.0"] == second


def test_unticking_shuffle_pins_the_order_though_the_schema_defaults_to_shuffling() -> None:
    form = choice_form()
    form.values.pop("shuffle", None)
    question, problems, _ = editor.parse_form(form)
    assert problems == [] and question is not None
    assert question.shuffle is False  # type: ignore[union-attr]
