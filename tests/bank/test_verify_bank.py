"""The shipped bank verified once through the run's runner, 20 seeds per template: every claim
holds, and the result lists every claim by field (and seed, for templates)."""

from __future__ import annotations

import pytest

from app.bank.loader import load_bank
from app.bank.schema import AnyQuestion, ChoiceQuestion, CodeQuestion
from app.bank.verify import Verification, verify_many
from app.runner.client import RunnerClient
from tests.bank.conftest import REAL_BANK
from tests.in_thread import run_coroutine

QUESTIONS: list[AnyQuestion] = [
    loaded.question for topic in load_bank(REAL_BANK).topics.values() for loaded in topic.questions
]


@pytest.fixture(scope="module")
def verified(runner_url: str) -> dict[str, Verification]:
    async def verify() -> list[Verification]:
        client = RunnerClient(runner_url)
        try:
            return await verify_many(QUESTIONS, client, seeds=20)
        finally:
            await client.aclose()

    return {result.question: result for result in run_coroutine(verify)}


def test_every_claim_of_the_shipped_bank_holds(verified: dict[str, Verification]) -> None:
    failures = [f"{q}: {claim}" for q, r in verified.items() for claim in r.failures]
    assert failures == []
    assert set(verified) == {q.id for q in QUESTIONS}


def test_every_question_renders_grades_its_key_and_refuses_a_malformed_answer(
    verified: dict[str, Verification],
) -> None:
    for question in QUESTIONS:
        fields = {claim.field for claim in verified[question.id].claims}
        assert {"render", "malformed answer"} <= fields, question.id
        if not isinstance(question, CodeQuestion):
            key = "answer" if not isinstance(question, ChoiceQuestion) else "options"
            assert any(f.startswith(key) for f in fields), question.id


def test_every_option_is_graded_and_every_outcome_is_run(verified: dict[str, Verification]) -> None:
    choices = [q for q in QUESTIONS if isinstance(q, ChoiceQuestion)]
    assert choices
    for question in choices:
        fields = {claim.field for claim in verified[question.id].claims}
        for index, option in enumerate(question.options):
            if not option.correct or question.type == "single_choice":
                assert f"options[{index}]" in fields, (question.id, index)
            if option.outcome is not None:
                assert f"options[{index}].outcome" in fields, (question.id, index)


def test_every_template_is_verified_on_twenty_seeds_each_computed_twice(
    verified: dict[str, Verification],
) -> None:
    templates = [q for q in QUESTIONS if q.variants is not None]
    assert len(templates) == 2
    for question in templates:
        claims = verified[question.id].claims
        seeds = {claim.seed for claim in claims}
        assert len(seeds) == 20 and None not in seeds
        for seed in seeds:
            fields = {c.field for c in claims if c.seed == seed}
            assert {"check", "variants", "render", "answer", "malformed answer"} <= fields


def test_every_code_question_proves_its_reference_and_its_buggy_solutions(
    verified: dict[str, Verification],
) -> None:
    code = [q for q in QUESTIONS if isinstance(q, CodeQuestion)]
    assert len(code) == 6
    for question in code:
        assert question.buggy_solutions, f"{question.id} has no buggy solution"
        fields = {claim.field for claim in verified[question.id].claims}
        assert {f"tests[{t.name!r}]" for t in question.tests} <= fields
        assert {f"samples[{t.name!r}]" for t in question.samples} <= fields
        assert "solution_code" in fields
        assert {f"buggy_solutions[{i}]" for i in range(len(question.buggy_solutions))} <= fields
