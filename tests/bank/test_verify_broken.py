"""The fixture bank of broken questions (tests/bank/broken/): verify, or the loader for a
schema mistake, rejects every one, naming the field and, for a template, the seed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from app.bank.loader import BankInvalidError, Problem, load_bank
from app.bank.schema import QuestionAdapter
from app.bank.variants import draw
from app.bank.verify import Verification, verify_many, verify_seeds
from app.runner.client import RunnerClient
from tests.bank.conftest import REAL_BANK
from tests.in_thread import run_coroutine

BROKEN = Path(__file__).resolve().parent / "broken"

# Found only by running: the loader accepts them. Name -> the fields of the failing claims.
FOUND_BY_VERIFY = {
    "wrong-key": {"options[0].outcome", "options[1].outcome"},
    "crash-one-seed": {"check"},
    "distractor-graded-correct": {"wrong_answers[0]"},
    "buggy-solution-passes": {"buggy_solutions[0]"},
    "nondeterministic-answer": {"variants"},
    "false-raises-claim": {"options[0].outcome", "options[1].outcome"},
    "shape-off-by-one": {"check"},
}
# Refused by the loader. Name -> (field, words of the message).
FOUND_BY_LOADER = {
    "invalid-yaml": ("line 5, column 7", "YAML syntax error"),
    "duplicate-options": ("options", "options[0] and options[2] have the same text"),
    "missing-explanation": ("options[1].feedback", "Field required"),
    "untied-claim": ("options[1].outcome", "needs an `outcome`"),
}


def test_the_fixture_bank_holds_every_kind_of_mistake_and_nothing_else() -> None:
    names = {path.stem for path in BROKEN.glob("*.yaml")}
    assert names == set(FOUND_BY_VERIFY) | set(FOUND_BY_LOADER)
    assert len(names) >= 10


def loaded_alone(name: str, root: Path) -> list[Problem]:
    """The loader's problems with the fixture as the only question of a topic."""
    topic = root / "broken"
    topic.mkdir(parents=True)
    shutil.copy(REAL_BANK / "birnn" / "topic.yaml", topic / "topic.yaml")
    shutil.copy(BROKEN / f"{name}.yaml", topic / f"{name}.yaml")
    try:
        load_bank(root)
    except BankInvalidError as exc:
        return exc.problems
    return []


@pytest.mark.parametrize("name", sorted(FOUND_BY_LOADER))
def test_the_loader_refuses_a_schema_mistake_naming_its_field(name: str, tmp_path: Path) -> None:
    field, words = FOUND_BY_LOADER[name]
    problems = loaded_alone(name, tmp_path)
    assert [(p.path, p.field) for p in problems] == [(f"broken/{name}.yaml", field)]
    assert words in problems[0].message


@pytest.mark.parametrize("name", sorted(FOUND_BY_VERIFY))
def test_the_loader_accepts_what_only_running_it_can_prove_false(name: str, tmp_path: Path) -> None:
    assert loaded_alone(name, tmp_path) == []


@pytest.fixture(scope="module")
def verified(runner_url: str) -> dict[str, Verification]:
    """Every fixture the loader accepts, verified once through the run's runner."""
    names = sorted(FOUND_BY_VERIFY)
    questions = [
        QuestionAdapter.validate_python(yaml.safe_load((BROKEN / f"{n}.yaml").read_text()))
        for n in names
    ]

    async def verify() -> list[Verification]:
        client = RunnerClient(runner_url)
        try:
            return await verify_many(questions, client)
        finally:
            await client.aclose()

    return dict(zip(names, run_coroutine(verify), strict=True))


@pytest.mark.parametrize("name", sorted(FOUND_BY_VERIFY))
def test_verify_rejects_each_broken_question_naming_the_field(
    name: str, verified: dict[str, Verification]
) -> None:
    result = verified[name]
    assert not result.passed
    assert {claim.field for claim in result.failures} == FOUND_BY_VERIFY[name]


def test_verify_names_the_one_seed_whose_check_crashes(verified: dict[str, Verification]) -> None:
    question = QuestionAdapter.validate_python(
        yaml.safe_load((BROKEN / "crash-one-seed.yaml").read_text())
    )
    tried = verify_seeds(question, 20)
    crashing = {seed for seed, v in tried if v["proj"] >= v["hidden"]}
    assert 0 < len(crashing) < len(tried)  # the fixture crashes on some seeds, not all

    failures = verified["crash-one-seed"].failures
    assert {claim.seed for claim in failures} == crashing
    (seed,) = crashing
    assert failures[0].values == draw(question, seed)
    assert f"check (seed {seed}: batch=" in str(failures[0])
    assert "proj_size has to be smaller than hidden_size" in failures[0].observed
    passing_seeds = {c.seed for c in verified["crash-one-seed"].claims if c.passed}
    assert passing_seeds == {seed for seed, _ in tried} - crashing


def test_verify_names_the_seeds_whose_answer_changes_between_two_runs(
    verified: dict[str, Verification],
) -> None:
    failures = verified["nondeterministic-answer"].failures
    # Dropout without a seed: two runs of one seed keep the same count only by chance.
    assert len({claim.seed for claim in failures}) >= 10
    assert all("a second run gives" in claim.observed for claim in failures)
    assert all(claim.where().startswith(f"variants (seed {claim.seed}: n=") for claim in failures)


def test_a_false_raises_claim_is_shown_beside_what_torch_did(
    verified: dict[str, Verification],
) -> None:
    key = next(
        c for c in verified["false-raises-claim"].failures if c.field == "options[0].outcome"
    )
    assert key.claims == "raises RuntimeError"
    assert key.observed.startswith("runs, out=shape (5, 10, 4)")
    assert str(key) == f"options[0].outcome: claims it raises RuntimeError; really {key.observed}"


def test_a_distractor_whose_claim_holds_is_rejected(verified: dict[str, Verification]) -> None:
    (claim,) = [c for c in verified["wrong-key"].failures if c.field == "options[1].outcome"]
    assert "a distractor says out has shape (5, 2, 6)" in claim.claims
    assert claim.observed == "runs, out=shape (5, 2, 6)"


def test_a_shape_claim_off_by_one_names_both_shapes(verified: dict[str, Verification]) -> None:
    (claim,) = verified["shape-off-by-one"].failures
    assert claim.seed is None
    assert claim.message() == "claims h_n has shape (2, 8, 33); really runs, h_n=shape (2, 8, 32)"


def test_a_wrong_answer_inside_the_tolerance_is_graded_correct_and_rejected(
    verified: dict[str, Verification],
) -> None:
    (claim,) = verified["distractor-graded-correct"].failures
    assert claim.observed == "grades 1"
    kept = [
        c for c in verified["distractor-graded-correct"].claims if c.field == "wrong_answers[1]"
    ]
    assert [c.passed for c in kept] == [True]


def test_a_buggy_solution_that_passes_every_hidden_test_is_rejected(
    verified: dict[str, Verification],
) -> None:
    (claim,) = verified["buggy-solution-passes"].failures
    assert claim.observed == "grades 1, passing every hidden test"
