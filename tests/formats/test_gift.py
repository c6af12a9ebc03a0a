"""GIFT: the shipped bank out and back; its escapes survive any text (hypothesis); a file
written by hand as Moodle's documentation shows imports into valid questions."""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.bank.formats import gift
from app.bank.formats.gift import Marked, escape
from app.bank.formats.mapping import PLACEHOLDER_MARK
from app.bank.schema import QuestionAdapter, SingleChoice
from tests.formats.shipped import FIXTURES, carried, moodle_gradable, shipped_questions, topic_of

# Text as authors could write it: any characters but CR and NUL (which GIFT drops), GIFT's
# special characters and backslashes often.
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from("~=#{}:\\n[]%-> /`*"), st.characters(blacklist_characters="\r\0")
    ),
    min_size=1,
    max_size=60,
)


def test_every_gradable_question_comes_back_with_what_gift_carries() -> None:
    exported = gift.export(shipped_questions(), bank_name="bank", topic_of=topic_of())
    parsed = gift.parse(exported.data)
    assert parsed.problems == []
    back = {q.id: q for q in parsed.questions}
    for question in moodle_gradable():
        assert carried(back[question.id], "gift") == carried(question, "gift")
        assert parsed.topic_of[question.id] == "birnn"
    # GIFT has no hints: each comes back as a marked placeholder, with a warning.
    assert all(q.hints[0].startswith(PLACEHOLDER_MARK) for q in parsed.questions)
    assert {w.field for w in parsed.warnings} >= {"hints"}


def test_the_gift_report_names_what_gift_cannot_carry() -> None:
    exported = gift.export(shipped_questions(), bank_name="bank")
    reasons = {left.question: left.reason for left in exported.fallbacks}
    for question in shipped_questions():
        if getattr(question, "unit", None) and question.variants is None:
            assert "GIFT has no units" in reasons[question.id]
    assert {left.question for left in exported.skipped} == {
        q.id for q in shipped_questions() if q.variants is not None
    }


@settings(deadline=None)  # a loaded machine is no failure
@given(TEXT)
def test_escaping_then_reading_gives_back_any_text(text: str) -> None:
    assert Marked.read(escape(text)).chars == text
    assert "\n" not in escape(text)


def _single_choice(prompt: str, option: str, feedback: str) -> SingleChoice:
    base: dict[str, Any] = next(
        q for q in shipped_questions() if isinstance(q, SingleChoice)
    ).model_dump(mode="json", exclude={"check", "predict_then_run"})
    base["prompt"] = prompt
    base["options"] = [
        {"text": option, "correct": True, "feedback": feedback},
        {"text": option + " (not)", "correct": False, "feedback": feedback + "!"},
    ]
    question = QuestionAdapter.validate_python(base)
    assert isinstance(question, SingleChoice)
    return question


@settings(max_examples=150, deadline=None)
@given(TEXT, TEXT, TEXT)
def test_any_text_survives_a_gift_round_trip(prompt: str, option: str, feedback: str) -> None:
    assume(all(t.strip() for t in (prompt, option, feedback)))
    try:
        question = _single_choice(prompt, option, feedback)
    except ValueError:
        assume(False)  # text the schema refuses (a letter reference such as "option B")
        raise
    parsed = gift.parse(gift.export([question], bank_name="h").data)
    assert parsed.problems == []
    [back] = parsed.questions
    assert back.prompt == question.prompt
    assert [(o.text, o.correct, o.feedback) for o in back.options] == [
        (o.text, o.correct, o.feedback) for o in question.options
    ]


def test_the_prompt_carries_the_markdown_marker_and_escapes() -> None:
    question = _single_choice("What is {x: 1}?", "a = b", "# not a heading")
    block = gift.question_block(question)
    assert "[markdown]What is \\{x\\: 1\\}?" in block
    assert "=a \\= b#\\# not a heading" in block
    assert block.startswith(f"// [id:{question.id}] [tag:")


def test_a_hand_written_gift_file_imports_as_moodle_reads_it() -> None:
    parsed = gift.parse((FIXTURES / "gift_foreign.txt").read_bytes())
    by_id = {q.id: q for q in parsed.questions}
    assert sorted(by_id) == [
        "argument",
        "both-ways",
        "features",
        "gru-returns",
        "range",
        "recurrent-layers",
    ]
    gru = by_id["gru-returns"]
    assert gru.type == "single_choice" and gru.tags == ["rnn"] and gru.difficulty == "hard"
    assert gru.options[0].feedback == "Right: a GRU has no cell state."
    assert gru.solution_steps[0].body == "A GRU keeps a single hidden state."
    assert parsed.topic_of["gru-returns"] == "recurrent-nets"
    layers = by_id["recurrent-layers"]
    assert layers.type == "multiple_select"
    assert [o.correct for o in layers.options] == [True, True, False]
    both = by_id["both-ways"]
    assert both.prompt == "An RNN with bidirectional=True reads a sequence both ways."
    assert [(o.text, o.correct, o.feedback) for o in both.options] == [
        ("True", True, "Right, both ways."),
        ("False", False, "It reads one way only."),
    ]
    assert by_id["features"].answer.value == 40
    assert by_id["range"].answer.value == 0.2
    assert abs(by_id["range"].answer.tolerance - 0.1) < 1e-12
    assert by_id["argument"].answer.accepted == ["bidirectional", "bidirectional=True"]


def test_unsupported_and_broken_gift_questions_are_named_and_the_rest_imports() -> None:
    parsed = gift.parse((FIXTURES / "gift_foreign.txt").read_bytes())
    problems = {(p.path, p.field): p.message for p in parsed.problems}
    assert "'match' cannot be imported" in problems[("question 7 'Match'", "type")]
    assert problems[("question 9 'Broken'", "")] == "the answer braces { } do not match"
    assert ("question 8 'Essay'", "type") in {(w.path, w.field) for w in parsed.warnings}
    assert len(parsed.questions) == 6
