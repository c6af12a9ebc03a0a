"""The study modes' content: proven with the real torch installed here, and every malformed
file reported by file and field (no database: the bank loader and the checks only)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.bank.loader import BankInvalidError, Problem, load_bank
from app.bank.schema import note_sections
from app.study.checks import bug_problems, failures, study_problems, worked_problems

REAL_BANK = Path(__file__).resolve().parents[2] / "questions"
BIRNN = REAL_BANK / "birnn"
A_BUG = BIRNN / "bugs" / "last-step-as-summary.yaml"
A_SERIES = BIRNN / "worked" / "count-bidirectional-parameters.yaml"
TOPIC = {
    "title": "Recurrent layers",
    "category": "PyTorch",
    "estimated_minutes": 30,
    "summary": "How recurrent layers read sequences.",
    "modes": ["learn", "flashcards", "spot_the_bug", "worked_examples"],
    "notes": "## Shapes\n\nSome notes.\n\n## Reading `h_n`\n\nMore notes.",
    "flashcards": [{"front": "What is h_n?", "back": "The final states.", "note": "Shapes"}],
}


def read(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def write(root: Path, relpath: str, data: Any) -> None:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def problems_of(root: Path) -> list[Problem]:
    with pytest.raises(BankInvalidError) as info:
        load_bank(root)
    return info.value.problems


@pytest.fixture
def small_bank(tmp_path: Path) -> Path:
    """A valid bank: one topic with a card, a copy of a real bug and of a real series."""
    root = tmp_path / "bank"
    write(root, "rnn/topic.yaml", TOPIC)
    write(root, "rnn/bugs/last-step-as-summary.yaml", read(A_BUG))
    write(root, "rnn/worked/count-bidirectional-parameters.yaml", read(A_SERIES))
    return root


# --- the real content, against real torch ---


def test_the_real_study_content_agrees_with_torch() -> None:
    bank = load_bank(REAL_BANK)
    assert study_problems(bank, REAL_BANK) == []


def test_the_topic_has_enough_study_content_for_each_mode() -> None:
    topic = load_bank(REAL_BANK).topics["birnn"]
    assert len(topic.topic.flashcards) >= 12
    assert len(topic.bugs) >= 4
    assert len(topic.worked) >= 1
    sections = set(note_sections(topic.topic.notes))
    assert {card.note for card in topic.topic.flashcards} <= sections


def test_each_real_bugs_snippet_fails_a_test_and_its_fix_passes_every_one() -> None:
    for bug in load_bank(REAL_BANK).topics["birnn"].bugs:
        assert failures(bug.tests, bug.code), f"{bug.id}: the snippet passes every test"
        assert failures(bug.tests, bug.fixed_code) == [], bug.id


def test_a_bug_whose_snippet_passes_every_test_is_reported() -> None:
    bug = load_bank(REAL_BANK).topics["birnn"].bugs[0]
    harmless = bug.model_copy(update={"code": bug.fixed_code})
    assert bug_problems(harmless) == [("code", "the buggy snippet already passes every test")]


def test_a_worked_problem_claiming_a_wrong_count_is_reported() -> None:
    series = load_bank(REAL_BANK).topics["birnn"].worked[0]
    check = series.problems[0].check
    values = {**(check.expect.values or {}), "total": 1}
    wrong_check = check.model_copy(
        update={"expect": check.expect.model_copy(update={"values": values})}
    )
    problems = list(series.problems)
    problems[0] = problems[0].model_copy(update={"check": wrong_check})
    found = worked_problems(series.model_copy(update={"problems": problems}))
    assert [field for field, _ in found] == ["problems[0].check"]
    assert "claims total == 1" in found[0][1]


# --- the loader: every problem by file and field ---


def test_a_small_valid_bank_loads_its_bugs_and_series(small_bank: Path) -> None:
    topic = load_bank(small_bank).topics["rnn"]
    assert [bug.id for bug in topic.bugs] == ["last-step-as-summary"]
    assert [series.id for series in topic.worked] == ["count-bidirectional-parameters"]


def test_a_flashcard_naming_no_section_of_the_notes_is_reported(small_bank: Path) -> None:
    cards = [*TOPIC["flashcards"], {"front": "F", "back": "B", "note": "Packing"}]  # type: ignore[list-item]
    write(small_bank, "rnn/topic.yaml", {**TOPIC, "flashcards": cards})
    (problem,) = problems_of(small_bank)
    assert (problem.path, problem.field) == ("rnn/topic.yaml", "flashcards[1].note")
    assert "'Packing' is not a `##` heading" in problem.message
    assert "Reading `h_n`" in problem.message  # says which sections there are


def test_a_bug_line_past_the_end_of_the_code_is_reported(small_bank: Path) -> None:
    write(small_bank, "rnn/bugs/last-step-as-summary.yaml", {**read(A_BUG), "bug_line": 40})
    (problem,) = problems_of(small_bank)
    assert (problem.path, problem.field) == ("rnn/bugs/last-step-as-summary.yaml", "bug_line")
    assert "the code has 8 lines" in problem.message


def test_a_fix_that_changes_another_line_is_reported(small_bank: Path) -> None:
    data = read(A_BUG)
    data["fixed_code"] = data["fixed_code"].replace("torch.manual_seed(0)", "torch.manual_seed(1)")
    write(small_bank, "rnn/bugs/last-step-as-summary.yaml", data)
    (problem,) = problems_of(small_bank)
    assert problem.field == "fixed_code"
    assert "line 8 changed and no other line" in problem.message
    assert "changed: [4, 8]" in problem.message


def test_a_bug_file_with_a_misspelt_field_and_a_wrong_id_is_reported(small_bank: Path) -> None:
    data = {**read(A_BUG), "hint": ["typo"]}
    write(small_bank, "rnn/bugs/last-step-as-summary.yaml", data)
    write(small_bank, "rnn/bugs/another-name.yaml", read(A_BUG))
    found = {(p.path, p.field) for p in problems_of(small_bank)}
    assert found == {
        ("rnn/bugs/last-step-as-summary.yaml", "hint"),
        ("rnn/bugs/another-name.yaml", "id"),
    }


def test_a_worked_step_whose_answer_is_not_claimed_by_the_check_is_reported(
    small_bank: Path,
) -> None:
    data = read(A_SERIES)
    data["problems"][1]["steps"][2]["answer_from"] = "unclaimed"
    write(small_bank, "rnn/worked/count-bidirectional-parameters.yaml", data)
    (problem,) = problems_of(small_bank)
    assert problem.path == "rnn/worked/count-bidirectional-parameters.yaml"
    assert problem.field == "problems[1]"
    assert "step 3: answer_from 'unclaimed' needs a shape or a number" in problem.message


def test_a_series_whose_steps_cannot_fade_is_reported(small_bank: Path) -> None:
    data = read(A_SERIES)
    data["problems"][2]["steps"] = copy.deepcopy(data["problems"][2]["steps"][:2])
    write(small_bank, "rnn/worked/count-bidirectional-parameters.yaml", data)
    (problem,) = problems_of(small_bank)
    assert problem.field == "problems"
    assert "problem 3 leaves 2 steps to the learner: it needs more than 2" in problem.message


def test_a_step_with_both_kinds_of_answer_is_reported(small_bank: Path) -> None:
    data = read(A_SERIES)
    data["problems"][0]["steps"][0]["text"] = {"accepted": ["(64, 8)"]}
    write(small_bank, "rnn/worked/count-bidirectional-parameters.yaml", data)
    (problem,) = problems_of(small_bank)
    assert problem.field == "problems[0].steps[0]"
    assert "either answer_from or text" in problem.message
