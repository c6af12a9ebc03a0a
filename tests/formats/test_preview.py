"""The import preview: what would be created, changed, left as it is, and which ids clash;
it writes nothing."""

from __future__ import annotations

from app.bank.formats import Parsed
from app.bank.formats.preview import format_preview, preview
from app.bank.loader import Problem, content_hash
from tests.formats.shipped import shipped_questions


def test_the_preview_sorts_questions_into_create_change_and_unchanged() -> None:
    first, second, third = shipped_questions()[:3]
    changed = second.model_copy(update={"prompt": second.prompt + " Changed."})
    existing = {first.id: content_hash(first), second.id: content_hash(second)}
    result = preview(Parsed(questions=[first, changed, third]), existing)
    assert (result.create, result.change, result.unchanged) == ([third.id], [second.id], [first.id])
    assert result.ok


def test_an_id_repeated_in_the_import_is_a_conflict_and_counted_once() -> None:
    first = shipped_questions()[0]
    other = first.model_copy(update={"prompt": "Another prompt."})
    result = preview(Parsed(questions=[first, other]), {})
    assert result.create == [first.id]
    [conflict] = result.conflicts
    assert conflict.question == first.id and "different content" in conflict.reason
    assert not result.ok


def test_problems_make_the_preview_not_ok_and_are_printed_with_warnings() -> None:
    problem = Problem("question 2 'x'", "type", "the question type 'match' cannot be imported")
    warning = Problem("question 1 'y'", "hints", "not in the file: a placeholder marks it")
    result = preview(Parsed(problems=[problem], warnings=[warning]), {})
    assert not result.ok
    text = format_preview(result)
    assert text.startswith("0 to create, 0 to change, 0 unchanged, 0 conflict(s), 1 problem(s)")
    assert f"Problem: {problem}" in text and f"Warning: {warning}" in text


def test_the_preview_leaves_its_inputs_as_they_were() -> None:
    question = shipped_questions()[0]
    parsed = Parsed(questions=[question])
    existing = {question.id: "0" * 64}
    preview(parsed, existing)
    assert parsed.questions == [question] and existing == {question.id: "0" * 64}
