"""Moodle XML: the shipped bank out and back, question by question; Moodle's own fractions;
a file as Moodle writes it (HTML, its types and fractions) imported into valid questions."""

from __future__ import annotations

import pytest
from lxml import etree

from app.bank.formats import moodle_xml
from app.bank.formats.mapping import PLACEHOLDER_MARK, shape_forms
from app.bank.grading import parse_shape
from app.bank.schema import (
    CodeQuestion,
    MultipleSelect,
    Numeric,
    ShortText,
    SingleChoice,
    TensorShape,
)
from tests.formats.shipped import (
    FIXTURES,
    carried,
    has_fallback,
    moodle_gradable,
    shipped_questions,
    topic_of,
)

# Moodle's allowed answer fractions (question_bank::fraction_options_full), in percent.
MOODLE_FRACTIONS = [100, 90, 83.33333, 80, 75, 70, 66.66667, 60, 50, 40, 33.33333, 30, 25, 20]
MOODLE_FRACTIONS += [16.66667, 14.28571, 12.5, 11.11111, 10, 5, 0]
MOODLE_FRACTIONS += [-f for f in MOODLE_FRACTIONS if f]


def exported() -> moodle_xml.Exported:  # type: ignore[name-defined]
    return moodle_xml.export(shipped_questions(), bank_name="bank", topic_of=topic_of())


def test_every_gradable_question_comes_back_with_what_moodle_xml_carries() -> None:
    parsed = moodle_xml.parse(exported().data)
    assert parsed.problems == []
    back = {q.id: q for q in parsed.questions}
    for question in moodle_gradable():
        assert carried(back[question.id], "moodle-xml") == carried(question, "moodle-xml")
        assert parsed.topic_of[question.id] == "birnn"
    # A question our export wrote carries every field: nothing is a placeholder.
    assert not any(PLACEHOLDER_MARK in str(q.model_dump()) for q in parsed.questions)


def test_the_export_report_names_each_skipped_and_fallback_question_with_a_reason() -> None:
    result = exported()
    skipped = {left.question for left in result.skipped}
    fallbacks = {left.question: left.reason for left in result.fallbacks}
    questions = shipped_questions()
    assert skipped == {q.id for q in questions if q.variants is not None}
    assert set(fallbacks) == {q.id for q in questions if has_fallback(q) and q.id not in skipped}
    for question in questions:
        if isinstance(question, CodeQuestion):
            assert "essay" in fallbacks[question.id]
        elif question.predict_then_run and question.id not in skipped:
            assert "cannot run the prompt's code" in fallbacks[question.id]


def test_code_questions_become_essays_with_the_starter_as_response_template() -> None:
    code = [q for q in shipped_questions() if isinstance(q, CodeQuestion)]
    assert code, "the shipped bank has code questions"
    root = etree.fromstring(moodle_xml.export(code, bank_name="code").data)
    essays = root.findall("question[@type='essay']")
    assert len(essays) == len(code)
    assert essays[0].findtext("responsetemplate/text") == code[0].starter
    assert code[0].solution_code.strip() in essays[0].findtext("graderinfo/text")


def test_multiple_select_fractions_are_our_partial_credit_and_in_moodles_list() -> None:
    questions = [q for q in shipped_questions() if isinstance(q, MultipleSelect)]
    root = etree.fromstring(moodle_xml.export(questions, bank_name="m").data)
    for question, element in zip(questions, root.findall("question"), strict=True):
        fractions = [float(a.get("fraction")) for a in element.findall("answer")]
        right = len(question.correct_indexes())
        wrong = len(question.options) - right
        for option, fraction in zip(question.options, fractions, strict=True):
            share = 100 / right if option.correct else -100 / wrong
            assert fraction == pytest.approx(share, abs=1e-5)
            assert min(abs(fraction - allowed) for allowed in MOODLE_FRACTIONS) < 1e-3
        assert element.findtext("single") == "false"


def test_single_choice_numeric_and_short_answers_use_moodles_elements() -> None:
    questions = shipped_questions()
    single = next(q for q in questions if isinstance(q, SingleChoice))
    numeric = next(q for q in questions if isinstance(q, Numeric) and q.unit and q.answer)
    text = next(q for q in questions if isinstance(q, ShortText) and q.answer.case_sensitive)
    root = etree.fromstring(moodle_xml.export([single, numeric, text], bank_name="x").data)
    choice, number, short = root.findall("question")
    fractions = sorted(a.get("fraction") for a in choice.findall("answer"))
    assert fractions == ["0"] * (len(single.options) - 1) + ["100"]
    assert choice.find("questiontext").get("format") == "markdown"
    assert float(number.findtext("answer/text")) == numeric.expected().value
    assert float(number.findtext("answer/tolerance")) == numeric.expected().tolerance
    assert number.findtext("units/unit/unit_name") == numeric.unit
    assert short.findtext("usecase") == "1"
    assert [a.findtext("text") for a in short.findall("answer")] == text.answer.accepted
    tags = [t.findtext("text") for t in choice.findall("tags/tag")]
    assert tags == [*single.tags, f"difficulty-{single.difficulty.value}"]
    assert choice.findtext("name/text") == single.id == choice.findtext("idnumber")


def test_tensor_shapes_export_every_form_grading_accepts_and_come_back_as_shapes() -> None:
    shape = next(
        q for q in shipped_questions() if isinstance(q, TensorShape) and q.answer is not None
    )
    root = etree.fromstring(moodle_xml.export([shape], bank_name="s").data)
    forms = [a.findtext("text") for a in root.findall("question/answer")]
    assert forms == shape_forms(shape.expected())
    assert all(parse_shape(form) == shape.expected() for form in forms)
    dims = ", ".join(map(str, shape.expected()))
    assert {f"({dims})", f"[{dims}]", dims, f"torch.Size([{dims}])"} <= set(forms)
    [back] = moodle_xml.parse(etree.tostring(root)).questions
    assert isinstance(back, TensorShape) and back.answer == shape.expected()


def test_one_dimensional_and_scalar_shapes_keep_forms_grading_reads() -> None:
    assert "(5,)" in shape_forms([5]) and "[5]" in shape_forms([5]) and "5" in shape_forms([5])
    assert set(shape_forms([])) == {"()", "[]", "torch.Size([])"}
    assert all(parse_shape(form) == [] for form in shape_forms([]))


def test_a_file_written_by_moodle_imports_as_valid_questions_with_marked_placeholders() -> None:
    parsed = moodle_xml.parse((FIXTURES / "moodle_foreign.xml").read_bytes())
    by_type = {q.type: q for q in parsed.questions}
    assert sorted(by_type) == ["multiple_select", "numeric", "short_text", "single_choice"]
    assert len(parsed.questions) == 5  # two single choices: multichoice and truefalse
    first = parsed.questions[0]
    assert first.id == "which-layer-reads-both-ways"
    assert first.prompt.startswith("Which layer reads a sequence **both ways**?")
    assert "```\nnn.LSTM(10, 20, bidirectional=True)\n```" in first.prompt
    assert first.hints == ["Think of the `bidirectional` argument."]
    assert first.tags == ["rnn-layers"] and first.difficulty.value == "easy"
    assert first.solution_steps[0].body == "A bidirectional layer adds a reverse pass."
    assert first.final_answer.startswith(PLACEHOLDER_MARK)
    assert parsed.topic_of[first.id] == "recurrent-nets"
    truefalse = parsed.questions[2]
    assert [(o.text, o.correct) for o in truefalse.options] == [("True", True), ("False", False)]
    numeric = by_type["numeric"]
    assert numeric.answer.value == 40 and numeric.unit == "features"
    short = by_type["short_text"]
    assert short.answer.accepted == ["bidirectional", "bidirectional=True"]
    assert short.answer.case_sensitive is True
    warned = {(w.path.split("'")[1], w.field) for w in parsed.warnings}
    assert ("Which layer reads both ways?", "options") in warned  # 50% on a single choice
    assert ("Which layer reads both ways?", "options[1].feedback") in warned
    assert ("Pick the recurrent layers", "options") in warned  # fractions differ from ours
    assert ("Argument name", "answer") in warned  # the 50% answer left out
    assert ("Explain packing", "type") in warned  # an essay: not imported


def test_an_unknown_question_type_is_a_problem_and_the_rest_still_imports() -> None:
    parsed = moodle_xml.parse((FIXTURES / "moodle_foreign.xml").read_bytes())
    [problem] = parsed.problems
    assert problem.path == "question 7 'Drag the words'" and problem.field == "type"
    assert "'ddwtos' cannot be imported" in problem.message
    assert len(parsed.questions) == 5


def test_a_choice_without_a_full_mark_option_is_a_problem_naming_the_field() -> None:
    xml = b"""<quiz><question type="multichoice"><name><text>q</text></name>
    <questiontext format="markdown"><text>Pick</text></questiontext><single>true</single>
    <answer fraction="0"><text>a</text></answer><answer fraction="0"><text>b</text></answer>
    </question></quiz>"""
    parsed = moodle_xml.parse(xml)
    assert parsed.questions == []
    [problem] = parsed.problems
    assert (problem.path, problem.field) == ("question 1 'q'", "options")
    assert "exactly one correct option" in problem.message
