"""The loader: small banks written to tmp_path, every problem reported with its file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from app.bank.loader import BankInvalidError, Problem, load_bank
from app.bank.schema import SingleChoice, TensorShape

REAL_BANK = Path(__file__).resolve().parents[2] / "questions"
BASE_FILE = REAL_BANK / "birnn" / "output-shape-batch-first.yaml"


def only_problem(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def fields(problems: list[Problem]) -> set[tuple[str, str]]:
    return {(p.path, p.field) for p in problems}


# --- a valid bank ---


def test_valid_bank_loads_topics_and_questions_in_difficulty_order(bank: Any) -> None:
    bank.topic("rnn")
    # File names sort opposite to difficulty, so the order must come from the difficulty.
    bank.question(bank.base_question("a-hard-one", difficulty="hard"))
    bank.question(bank.base_question("z-easy-one", difficulty="easy"))
    choice = bank.choice_question("single_choice", "m-choice", [False, True, False])
    bank.question({**choice, "difficulty": "medium"})

    loaded = bank.load()

    assert list(loaded.topics) == ["rnn"]
    topic = loaded.topics["rnn"]
    assert topic.topic.title == "Recurrent layers"
    assert topic.path == bank.root / "rnn" / "topic.yaml"
    assert [q.question.id for q in topic.questions] == ["z-easy-one", "m-choice", "a-hard-one"]
    assert loaded.question_count() == 3
    by_id = {q.question.id: q for q in topic.questions}
    assert isinstance(by_id["a-hard-one"].question, TensorShape)
    assert by_id["a-hard-one"].question.answer == [4, 7, 6]
    assert isinstance(by_id["m-choice"].question, SingleChoice)
    assert by_id["m-choice"].question.correct_indexes() == {1}
    for q in topic.questions:
        assert q.path == bank.root / "rnn" / f"{q.question.id}.yaml"
        assert len(q.content_hash) == 64
        int(q.content_hash, 16)


def test_copy_of_real_question_file_loads_unchanged(bank: Any) -> None:
    bank.topic("rnn")
    bank.text("rnn/output-shape-batch-first.yaml", BASE_FILE.read_text(encoding="utf-8"))

    (loaded,) = bank.load().topics["rnn"].questions

    assert loaded.question.id == "output-shape-batch-first"
    assert loaded.question.check is not None
    assert loaded.question.check.answer_from == "out"


def test_missing_bank_folder_is_reported(tmp_path: Path) -> None:
    with pytest.raises(BankInvalidError) as info:
        load_bank(tmp_path / "nowhere")
    problem = only_problem(info.value.problems)
    assert problem.path == str(tmp_path / "nowhere")
    assert "does not exist" in problem.message


# --- one problem at a time ---


def test_malformed_yaml_reports_the_line(bank: Any) -> None:
    bank.topic()
    bank.text(
        "rnn/broken.yaml",
        "id: broken\ntype: tensor_shape\ntags: [shapes, output\ndifficulty: easy\n",
    )

    problem = only_problem(bank.problems())

    assert problem.path == "rnn/broken.yaml"
    assert "YAML syntax error" in problem.message
    # The unclosed list on line 3 is noticed at line 4, where `difficulty:` starts.
    assert problem.field.startswith("line 4, column ")
    assert "rnn/broken.yaml: line 4" in str(problem)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("- id: a-list\n- type: numeric\n", id="list"),
        pytest.param("just a sentence\n", id="scalar"),
        pytest.param("", id="empty-file"),
    ],
)
def test_file_that_is_not_a_mapping_is_reported(bank: Any, text: str) -> None:
    bank.topic()
    bank.text("rnn/not-a-mapping.yaml", text)

    problem = only_problem(bank.problems())

    assert problem.path == "rnn/not-a-mapping.yaml"
    assert "mapping" in problem.message


def test_topic_file_that_is_a_list_is_reported(bank: Any) -> None:
    bank.text("rnn/topic.yaml", "- title: Recurrent layers\n")

    problem = only_problem(bank.problems())

    assert problem.path == "rnn/topic.yaml"
    assert "mapping" in problem.message


@pytest.mark.parametrize(
    ("path", "field"),
    [
        pytest.param(["prompt"], "prompt", id="top-level"),
        pytest.param(["solution_steps", 0, "body"], "solution_steps[0].body", id="nested"),
        pytest.param(["check", "code"], "check.code", id="in-check"),
    ],
)
def test_missing_required_field_names_the_field_path(
    bank: Any, path: list[Any], field: str
) -> None:
    bank.topic()
    data = bank.base_question()
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    bank.question(data)

    problem = only_problem(bank.problems())

    assert (problem.path, problem.field) == ("rnn/output-shape-batch-first.yaml", field)
    assert "required" in problem.message.lower()


def test_missing_topic_field_names_the_field(bank: Any) -> None:
    data = yaml.safe_load(bank.topic().read_text(encoding="utf-8"))
    del data["summary"]
    bank.topic(data=data)

    problem = only_problem(bank.problems())

    assert (problem.path, problem.field) == ("rnn/topic.yaml", "summary")
    assert "required" in problem.message.lower()


@pytest.mark.parametrize(
    ("where", "field"),
    [
        pytest.param([], "colour", id="top-level"),
        pytest.param(["check", "expect"], "check.expect.colour", id="nested"),
        pytest.param(["solution_steps", 1], "solution_steps[1].colour", id="in-list"),
    ],
)
def test_unknown_key_is_rejected(bank: Any, where: list[Any], field: str) -> None:
    bank.topic()
    data = bank.base_question()
    target = data
    for key in where:
        target = target[key]
    target["colour"] = "blue"
    bank.question(data)

    problem = only_problem(bank.problems())

    assert (problem.path, problem.field) == ("rnn/output-shape-batch-first.yaml", field)
    assert "extra" in problem.message.lower()


def test_wrong_enum_value_difficulty_expert(bank: Any) -> None:
    bank.topic()
    bank.question(bank.base_question(difficulty="expert"))

    problem = only_problem(bank.problems())

    assert (problem.path, problem.field) == ("rnn/output-shape-batch-first.yaml", "difficulty")
    for allowed in ("easy", "medium", "hard"):
        assert allowed in problem.message


@pytest.mark.parametrize(
    "correct",
    [pytest.param([False, False, False], id="zero"), pytest.param([True, False, True], id="two")],
)
def test_single_choice_needs_exactly_one_correct_option(bank: Any, correct: list[bool]) -> None:
    bank.topic()
    bank.question(bank.choice_question("single_choice", "pick-one", correct))

    problem = only_problem(bank.problems())

    assert (problem.path, problem.field) == ("rnn/pick-one.yaml", "options")
    assert "exactly one correct option" in problem.message


def test_single_choice_with_one_correct_option_loads(bank: Any) -> None:
    bank.topic()
    bank.question(bank.choice_question("single_choice", "pick-one", [False, False, True]))

    (loaded,) = bank.load().topics["rnn"].questions

    assert loaded.question.correct_indexes() == {2}


def test_multiple_select_with_no_correct_option(bank: Any) -> None:
    bank.topic()
    bank.question(bank.choice_question("multiple_select", "pick-some", [False, False, False]))

    problem = only_problem(bank.problems())

    assert (problem.path, problem.field) == ("rnn/pick-some.yaml", "options")
    assert "at least one correct option" in problem.message


def test_id_not_equal_to_file_name(bank: Any) -> None:
    bank.topic()
    bank.question(bank.base_question("the-real-id"), name="another-name")

    problem = only_problem(bank.problems())

    assert (problem.path, problem.field) == ("rnn/another-name.yaml", "id")
    assert "the-real-id" in problem.message
    assert "another-name" in problem.message


def test_same_id_in_two_topics(bank: Any) -> None:
    for slug in ("alpha", "beta"):
        bank.topic(slug)
        bank.question(bank.base_question("shared-id"), topic=slug)

    problem = only_problem(bank.problems())

    assert (problem.path, problem.field) == ("beta/shared-id.yaml", "id")
    assert "alpha/shared-id.yaml" in problem.message


def test_missing_topic_yaml_is_reported_and_its_questions_still_validated(bank: Any) -> None:
    bank.question(bank.base_question("fine"), topic="gru")
    bank.question(bank.base_question("bad", difficulty="expert"), topic="gru")

    problems = bank.problems()

    assert fields(problems) == {("gru/topic.yaml", ""), ("gru/bad.yaml", "difficulty")}
    missing = next(p for p in problems if p.path == "gru/topic.yaml")
    assert "missing topic file" in missing.message


def test_topic_folder_with_uppercase_name(bank: Any) -> None:
    bank.topic("rnn")
    bank.topic("Bad-Topic")
    bank.question(bank.base_question(), topic="Bad-Topic")

    problem = only_problem(bank.problems())

    assert problem.path == "Bad-Topic"
    assert "lowercase" in problem.message


def test_non_utf8_file(bank: Any) -> None:
    bank.topic()
    text = BASE_FILE.read_text(encoding="utf-8").replace("What is", "Caf\u00e9: what is")
    bank.bytes("rnn/output-shape-batch-first.yaml", text.encode("latin-1"))

    problem = only_problem(bank.problems())

    assert problem.path == "rnn/output-shape-batch-first.yaml"
    assert "UTF-8" in problem.message


@pytest.mark.parametrize(
    ("check_changes", "field", "message"),
    [
        pytest.param({"expect": {}}, "check.expect", "give one of", id="no-expectation"),
        pytest.param(
            {"expect": {"raises": "RuntimeError", "shapes": {"out": [4, 7, 6]}}},
            "check.expect",
            "cannot be combined",
            id="raises-and-shapes",
        ),
        pytest.param(
            {"expect": {"raises": "RuntimeError", "warns": "UserWarning"}},
            "check.expect",
            "cannot be combined",
            id="raises-and-warns",
        ),
        pytest.param(
            {"expect": {"runs": True, "message_contains": "size"}},
            "check.expect",
            "message_contains needs raises",
            id="message-without-raises",
        ),
        pytest.param(
            {"answer_from": "h_n"},
            "check",
            "answer_from 'h_n' is not named in expect",
            id="answer-from-unknown-variable",
        ),
        pytest.param(
            {"expect": {"shapes": {"not an identifier": [1]}}},
            "check.expect.shapes.not an identifier.[key]",
            "pattern",
            id="shape-name-not-identifier",
        ),
    ],
)
def test_bad_check_block_is_reported(
    bank: Any, check_changes: dict[str, Any], field: str, message: str
) -> None:
    bank.topic()
    data = bank.base_question()
    if "expect" in check_changes:
        data["check"].pop("answer_from")
    data["check"].update(check_changes)
    bank.question(data)

    problem = only_problem(bank.problems())

    assert (problem.path, problem.field) == ("rnn/output-shape-batch-first.yaml", field)
    assert message in problem.message


def test_missing_type_names_the_type_field(bank: Any) -> None:
    bank.topic()
    data = bank.base_question()
    del data["type"]
    bank.question(data)

    problem = only_problem(bank.problems())

    assert (problem.path, problem.field) == ("rnn/output-shape-batch-first.yaml", "type")


def test_missing_type_is_still_reported(bank: Any) -> None:
    bank.topic()
    data = bank.base_question()
    del data["type"]
    bank.question(data)

    problem = only_problem(bank.problems())

    assert problem.path == "rnn/output-shape-batch-first.yaml"
    assert "'type'" in problem.message


# --- every problem at once ---


def test_loader_reports_every_problem_with_file_and_field(bank: Any) -> None:
    bank.topic("rnn")
    bank.question(bank.base_question("still-fine"))
    bank.text("rnn/bad-yaml.yaml", "id: bad-yaml\nprompt: [unclosed\nhints: []\n")
    missing = bank.base_question("missing-prompt")
    del missing["prompt"]
    bank.question(missing)
    bank.question(bank.base_question("bad-enum", difficulty="expert"))
    bank.question(bank.base_question("extra-key", colour="blue"))
    bank.question(bank.base_question("wrong-id"), name="named-otherwise")
    bad_check = bank.base_question("bad-check")
    bad_check["check"]["answer_from"] = "h_n"
    bank.question(bad_check)
    # A second topic: a broken topic file and a duplicate of an id from the first topic.
    bank.text("zeta/topic.yaml", yaml.safe_dump({"title": "Zeta"}))
    bank.question(bank.base_question("still-fine"), topic="zeta")
    bank.topic("sigma")
    bank.question(bank.base_question("still-fine"), topic="sigma")

    with pytest.raises(BankInvalidError) as info:
        bank.load()
    problems = info.value.problems

    expected = {
        ("rnn/bad-yaml.yaml", None),  # the field is the line; checked below
        ("rnn/missing-prompt.yaml", "prompt"),
        ("rnn/bad-enum.yaml", "difficulty"),
        ("rnn/extra-key.yaml", "colour"),
        ("rnn/named-otherwise.yaml", "id"),
        ("rnn/bad-check.yaml", "check"),
        ("sigma/still-fine.yaml", "id"),
        ("zeta/topic.yaml", "category"),
        ("zeta/topic.yaml", "estimated_minutes"),
        ("zeta/topic.yaml", "summary"),
        ("zeta/topic.yaml", "modes"),
        ("zeta/topic.yaml", "notes"),
    }
    got = {(p.path, None if p.path == "rnn/bad-yaml.yaml" else p.field) for p in problems}
    assert got == expected, "\n".join(map(str, problems))
    assert len(problems) == len(expected)
    yaml_problem = next(p for p in problems if p.path == "rnn/bad-yaml.yaml")
    assert yaml_problem.field.startswith("line ")
    report = str(info.value)
    assert report.startswith(f"The question bank has {len(expected)} problem(s):")
    for problem in problems:
        assert problem.path and problem.field, problem
        assert f"{problem.path}: {problem.field}: {problem.message}" in report


# --- content hashes ---


def _only_question(root: Path) -> Any:
    (loaded,) = load_bank(root).topics["rnn"].questions
    return loaded


def test_content_hash_unchanged_by_yaml_formatting_and_key_order(bank: Any) -> None:
    other = type(bank)(bank.root.parent / "reformatted")
    bank.topic()
    other.topic()
    original = BASE_FILE.read_text(encoding="utf-8")
    bank.text("rnn/output-shape-batch-first.yaml", original)
    # Same content: keys sorted, everything in flow style, a comment, and no final newline
    # in the prompt (Markdown fields are stripped).
    data = yaml.safe_load(original)
    data["prompt"] = data["prompt"].rstrip("\n")
    reformatted = "# the same question, written differently\n" + yaml.safe_dump(
        data, sort_keys=True, default_flow_style=True, width=60
    )
    assert reformatted != original
    other.text("rnn/output-shape-batch-first.yaml", reformatted)

    assert _only_question(bank.root).content_hash == _only_question(other.root).content_hash
    assert (
        load_bank(bank.root).topics["rnn"].content_hash
        == load_bank(other.root).topics["rnn"].content_hash
    )


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: d.update(prompt=d["prompt"] + "\nAnd why?"), id="prompt"),
        pytest.param(lambda d: d.update(answer=[4, 7, 3]), id="answer"),
        pytest.param(lambda d: d["hints"].append("Another hint."), id="hint-added"),
        pytest.param(lambda d: d["hints"].reverse(), id="hints-reordered"),
        pytest.param(lambda d: d.update(difficulty="hard"), id="difficulty"),
        pytest.param(lambda d: d["check"].update(code=d["check"]["code"] + "x = 1\n"), id="check"),
    ],
)
def test_content_hash_changes_when_content_changes(bank: Any, change: Any) -> None:
    other = type(bank)(bank.root.parent / "changed")
    bank.topic()
    other.topic()
    bank.question(bank.base_question())
    data = bank.base_question()
    change(data)
    other.question(data)

    assert _only_question(bank.root).content_hash != _only_question(other.root).content_hash


def test_topic_content_hash_changes_with_the_notes(bank: Any) -> None:
    from copy import deepcopy

    other = type(bank)(bank.root.parent / "changed")
    bank.topic()
    topic = deepcopy(yaml.safe_load((bank.root / "rnn" / "topic.yaml").read_text()))
    topic["notes"] += "\n\nOne more paragraph."
    other.topic(data=topic)

    assert (
        load_bank(bank.root).topics["rnn"].content_hash
        != load_bank(other.root).topics["rnn"].content_hash
    )


# --- folders that are not topics ---


def test_schema_and_hidden_folders_are_ignored(bank: Any) -> None:
    bank.topic("rnn")
    bank.question(bank.base_question())
    junk = "this: [is not, a question\n"
    bank.text("_schema/question.schema.yaml", junk)
    bank.text("_schema/topic.yaml", junk)
    bank.text(".git/topic.yaml", junk)
    bank.text(".hidden/broken.yaml", junk)
    bank.text("_drafts/broken.yaml", junk)

    loaded = bank.load()

    assert list(loaded.topics) == ["rnn"]
    assert loaded.question_count() == 1


def test_empty_bank_is_reported(bank: Any) -> None:
    problem = only_problem(bank.problems())

    assert "no topic folders" in problem.message


def test_yml_file_is_reported_not_skipped(bank: Any) -> None:
    bank.topic()
    bank.text("rnn/forgotten.yml", "id: forgotten\n")

    problem = only_problem(bank.problems())

    assert problem.path == "rnn/forgotten.yml"
    assert ".yaml" in problem.message


# --- short text answers graded as index expressions ---


def index_question(bank: Any, **answer: Any) -> dict[str, Any]:
    """A short_text question about `h_n` of shape (4, 3, 16), its answer updated by `answer`."""
    data = bank.base_question("index-question", type="short_text")
    del data["check"], data["predict_then_run"]  # predicting what torch does needs a check
    data["answer"] = {
        "accepted": ["h_n[-2]"],
        "index_of": {"tensor": "h_n", "shape": [4, 3, 16]},
        **answer,
    }
    return data


def test_an_index_answer_loads(bank: Any) -> None:
    bank.topic()
    bank.question(index_question(bank, accepted=["h_n[-2]", "h_n[-1, :, 8:]"]))

    (loaded,) = bank.load().topics["rnn"].questions
    assert loaded.question.answer.index_of.shape == [4, 3, 16]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        pytest.param(
            {"accepted": ["h_n[-2"]}, "'h_n[-2' is not an index expression", id="not-python"
        ),
        pytest.param({"accepted": ["h_n[0.5]"]}, "whole numbers", id="float-index"),
        pytest.param({"accepted": ["out[-2]"]}, "'out[-2]' does not index h_n", id="other-name"),
        pytest.param({"accepted": ["h_n[4]"]}, "out of range for shape [4, 3, 16]", id="range"),
        pytest.param(
            {"accepted": ["h_n[0, 0, 0, 0]"]}, "out of range", id="more-indices-than-dimensions"
        ),
        pytest.param({"case_sensitive": True}, "drop case_sensitive", id="case-sensitivity-given"),
        pytest.param(
            {"index_of": {"tensor": "h_n", "shape": [100, 100]}},
            "at most 4096 elements",
            id="tensor-too-large",
        ),
        pytest.param(
            {"index_of": {"tensor": "h n", "shape": [4, 3, 16]}},
            "pattern",
            id="tensor-not-an-identifier",
        ),
    ],
)
def test_a_bad_index_answer_is_reported_with_its_field(
    bank: Any, answer: dict[str, Any], message: str
) -> None:
    bank.topic()
    bank.question(index_question(bank, **answer))

    problem = only_problem(bank.problems())

    assert problem.path == "rnn/index-question.yaml"
    assert problem.field.startswith("answer")
    assert message in problem.message
