"""The real bank in questions/: valid, big enough, and true about the installed torch."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from app.bank.loader import Bank, BankInvalidError, LoadedQuestion, load_bank
from app.bank.report import SCHEMA_DIR, claim_problems, editor_schemas
from app.bank.schema import QUESTION_TYPE_NAMES, ChoiceQuestion, Difficulty

REAL_BANK = Path(__file__).resolve().parents[2] / "questions"


def _load_or_none() -> Bank | None:
    try:
        return load_bank(REAL_BANK)
    except BankInvalidError:
        return None  # test_real_bank_loads_without_problems shows the report


_BANK = _load_or_none()


@pytest.fixture(scope="module")
def questions() -> list[LoadedQuestion]:
    bank = load_bank(REAL_BANK)
    return [q for topic in bank.topics.values() for q in topic.questions]


def _checked_questions() -> list[Any]:
    if _BANK is None:
        return []
    return [
        pytest.param(q, id=q.question.id)
        for topic in _BANK.topics.values()
        for q in topic.questions
        if q.question.check is not None
    ]


def test_real_bank_loads_without_problems() -> None:
    try:
        load_bank(REAL_BANK)
    except BankInvalidError as exc:
        pytest.fail(str(exc))


def test_real_bank_has_at_least_36_questions(questions: list[LoadedQuestion]) -> None:
    assert len(questions) >= 36


def test_real_bank_has_at_least_10_questions_per_difficulty(
    questions: list[LoadedQuestion],
) -> None:
    counts = Counter(q.question.difficulty for q in questions)
    for difficulty in Difficulty:
        assert counts[difficulty] >= 10, dict(counts)


def test_real_bank_has_at_least_15_checked_questions(questions: list[LoadedQuestion]) -> None:
    assert sum(q.question.check is not None for q in questions) >= 15


def test_real_bank_has_every_question_type(questions: list[LoadedQuestion]) -> None:
    assert {q.question.type for q in questions} == QUESTION_TYPE_NAMES
    assert len(QUESTION_TYPE_NAMES) == 6


@pytest.mark.parametrize("loaded", _checked_questions())
def test_check_holds_against_installed_torch(loaded: LoadedQuestion) -> None:
    question = loaded.question
    assert question.check is not None
    mismatches = claim_problems(question)
    assert not mismatches, (
        f"{loaded.path.relative_to(REAL_BANK)}: with torch {torch.__version__}, the check "
        "does not hold:\n  " + "\n  ".join(mismatches)
    )


def test_every_choice_option_has_feedback(questions: list[LoadedQuestion]) -> None:
    missing = [
        f"{q.question.id} option {i}"
        for q in questions
        if isinstance(q.question, ChoiceQuestion)
        for i, option in enumerate(q.question.options)
        if not option.feedback.strip()
    ]
    assert not missing
    # ...and the loaded bank really has choice questions, so the test above checked something.
    assert any(isinstance(q.question, ChoiceQuestion) for q in questions)


def test_every_choice_option_feedback_is_in_the_file(questions: list[LoadedQuestion]) -> None:
    for q in questions:
        if not isinstance(q.question, ChoiceQuestion):
            continue
        raw = yaml.safe_load(q.path.read_text(encoding="utf-8"))
        for i, option in enumerate(raw["options"]):
            assert str(option.get("feedback", "")).strip(), f"{q.path.name}: options[{i}]"


def test_committed_editor_schemas_are_up_to_date() -> None:
    expected = editor_schemas()
    committed = {p.name for p in SCHEMA_DIR.glob("*.json")}
    hint = "run `torchquiz questions schema --write` and commit questions/_schema/"
    assert committed == set(expected), f"questions/_schema/ holds {sorted(committed)}; {hint}"
    for name, text in expected.items():
        assert (SCHEMA_DIR / name).read_text(encoding="utf-8") == text, (
            f"questions/_schema/{name} is out of date with app/bank/schema.py; {hint}"
        )


def test_every_question_file_validates_against_committed_json_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((SCHEMA_DIR / "question.schema.json").read_text(encoding="utf-8"))
    topic_schema = json.loads((SCHEMA_DIR / "topic.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    topic_validator = jsonschema.validators.validator_for(topic_schema)(topic_schema)
    files = sorted(REAL_BANK.glob("[!._]*/*.yaml"))
    assert files
    errors = []
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        use = topic_validator if path.name == "topic.yaml" else validator
        errors += [f"{path.relative_to(REAL_BANK)}: {e.message}" for e in use.iter_errors(data)]
    assert not errors, "\n".join(errors)
