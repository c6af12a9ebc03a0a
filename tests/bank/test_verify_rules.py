"""The rules verify relies on, without a runner: claims tied to answers (a loader problem),
the schema's new fields, the seeds a template is verified on, and the learner's side of a
question (rendering and grading)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from app.bank.schema import QuestionAdapter
from app.bank.verification.learner import learner_claims
from app.bank.verify import Verification, verify_question, verify_seeds
from app.runner.client import RunnerClient
from tests.bank.conftest import REAL_BANK
from tests.in_thread import run_coroutine

BIRNN = REAL_BANK / "birnn"


def real(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((BIRNN / f"{name}.yaml").read_text(encoding="utf-8"))
    return data


# --- claims tied to answers: reported by the loader (and so by `torchquiz questions check`) ---


def test_a_choice_key_about_torch_without_an_outcome_is_a_loader_problem(bank: Any) -> None:
    bank.topic()
    data = real("default-layout-runs-fine")
    del data["options"][1]["outcome"]
    bank.question(data)

    problems = bank.problems()

    assert [(p.path, p.field) for p in problems] == [
        ("rnn/default-layout-runs-fine.yaml", "options[1].outcome")
    ]


def test_a_shape_answer_the_check_does_not_claim_is_a_loader_problem(bank: Any) -> None:
    bank.topic()
    data = bank.base_question("unclaimed")
    del data["check"]["answer_from"]
    bank.question(data)

    (problem,) = bank.problems()

    assert problem.field == "check.answer_from"
    assert "claim it in check.expect" in problem.message


def test_a_shape_answer_without_any_check_is_a_loader_problem(bank: Any) -> None:
    bank.topic()
    data = bank.base_question("no-check", predict_then_run=False)
    del data["check"]
    bank.question(data)

    (problem,) = bank.problems()

    assert problem.field == "check"
    assert "tensor_shape answer needs a check" in problem.message


def test_a_choice_question_about_no_code_needs_no_outcome(bank: Any) -> None:
    bank.topic()
    bank.question(bank.choice_question("single_choice", "opinion", [True, False]))

    assert bank.load().question_count() == 1


def test_an_outcome_needs_code_to_run_against() -> None:
    data = real("default-layout-runs-fine")
    del data["check"]
    data["prompt"] = "What happens when a batch-first input meets a default layer?"
    data["predict_then_run"] = False

    with pytest.raises(ValidationError, match=r"outcomes run against check\.code"):
        QuestionAdapter.validate_python(data)


def test_options_differing_only_in_case_and_spacing_are_refused() -> None:
    data = real("gru-hn-ignores-batch-first")
    data["options"][2]["text"] = "  (2,  8, 32) "

    with pytest.raises(ValidationError, match=r"options\[1\] and options\[2\] have the same text"):
        QuestionAdapter.validate_python(data)


def test_pinned_seeds_are_for_templates_only() -> None:
    data = real("gru-hn-ignores-batch-first") | {"verify_seeds": [3]}

    with pytest.raises(ValidationError, match="verify_seeds are for questions with variants"):
        QuestionAdapter.validate_python(data)


# --- the seeds a template is verified on ---


def test_a_template_is_verified_on_twenty_distinct_seeds_and_its_pinned_ones() -> None:
    data = real("bilstm-hn-shape-random-sizes") | {"verify_seeds": [500, 3]}
    question = QuestionAdapter.validate_python(data)

    tried = verify_seeds(question, 20)

    seeds = [seed for seed, _ in tried]
    assert len(seeds) == 21 and seeds[-1] == 500 and seeds.count(3) == 1
    assert len({tuple(values.items()) for _, values in tried[:20]}) == 20


def test_every_served_variant_is_verified_even_with_fewer_seeds_asked() -> None:
    question = QuestionAdapter.validate_python(real("bilstm-hn-shape-random-sizes"))
    assert question.variants is not None

    assert len(verify_seeds(question, 2)) == question.variants.count


# --- the learner's side: rendering and the real grading functions ---


def failing(data: dict[str, Any]) -> list[str]:
    question = QuestionAdapter.validate_python(data)
    return [str(claim) for claim in learner_claims(question, None, {}) if not claim.passed]


def test_the_shipped_questions_render_and_grade_their_own_answers() -> None:
    for path in sorted(BIRNN.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if path.name != "topic.yaml" and "variants" not in data:  # templates: per variant
            assert failing(data) == [], path.name


def test_a_declared_wrong_answer_the_grader_accepts_is_named() -> None:
    data = real("gru-stacked-bidir-param-count")
    value = data["answer"]["value"]
    data["wrong_answers"] = [{"answer": f"{value:,}", "feedback": "Written with commas."}]

    (line,) = failing(data)

    claim = f"claims the wrong answer '{value:,}' grades below 1.0"
    assert line == f"wrong_answers[0]: {claim}; really grades 1"


def test_an_unfilled_placeholder_is_named_by_its_field() -> None:
    data = real("gru-hn-ignores-batch-first")
    data["hints"] = ["Count {{directions}}."]

    assert failing(data) == [
        "hints[0]: claims renders as learners see it; really shows the placeholder "
        "{{directions}} unfilled"
    ]


def test_a_malformed_answer_is_refused_for_every_type() -> None:
    for path in sorted(BIRNN.glob("*.yaml")):
        if path.name == "topic.yaml":
            continue
        question = QuestionAdapter.validate_python(yaml.safe_load(path.read_text()))
        if question.variants is not None:
            continue  # graded per variant, in the runner's tests
        (claim,) = [c for c in learner_claims(question, None, {}) if c.field == "malformed answer"]
        assert claim.passed and claim.observed.startswith("refused: "), path.name


def test_a_runner_that_cannot_be_reached_fails_the_claims_that_need_it(tmp_path: Path) -> None:
    question = QuestionAdapter.validate_python(real("gru-hn-ignores-batch-first"))

    async def verify() -> Verification:
        client = RunnerClient(f"unix://{tmp_path / 'no-runner.sock'}")
        try:
            return await verify_question(question, client)
        finally:
            await client.aclose()

    result = run_coroutine(verify)

    assert {claim.field for claim in result.failures} == {"check", "options[1].outcome"}
    assert all("the code runner cannot be reached" in c.observed for c in result.failures)
    assert all(c.passed for c in result.claims if c.field in ("render", "options[1]"))
