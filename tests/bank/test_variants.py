"""Parameterised questions: the schema's rules, drawing values, and filling in a run's answer."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import yaml

from app.bank.checks import Observation, answer_mismatches, observe, run_check
from app.bank.loader import Problem
from app.bank.schema import Numeric, QuestionAdapter, TensorShape, placeholders
from app.bank.variants import (
    VariantError,
    answer_of,
    check_code,
    draw,
    fill,
    format_answer,
    seeds,
    variant_problem,
)
from tests.bank.conftest import REAL_BANK

SHAPE_FILE = REAL_BANK / "birnn" / "bilstm-hn-shape-random-sizes.yaml"
COUNT_FILE = REAL_BANK / "birnn" / "bilstm-param-count-random-sizes.yaml"


def template(path: Any = SHAPE_FILE, **changes: Any) -> Any:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update(changes)
    return QuestionAdapter.validate_python(data)


# --- drawing values ---


def test_the_same_seed_always_draws_the_same_values() -> None:
    q = template()
    assert draw(q, 3) == draw(q, 3) == draw(template(), 3)
    assert len({tuple(draw(q, seed).items()) for seed in range(10)}) > 1


def test_values_stay_within_their_range_or_choices() -> None:
    q = template()
    for seed in range(50):
        values = draw(q, seed)
        assert 2 <= values["batch"] <= 9 and 3 <= values["seq_len"] <= 30
        assert values["hidden"] in (8, 16, 32, 64) and values["layers"] in (1, 2, 3)


def test_seeds_give_count_variants_with_distinct_values() -> None:
    found = seeds(template())
    assert len(found) == 16
    assert len({tuple(values.items()) for _, values in found}) == 16


def test_a_small_parameter_space_gives_fewer_variants_not_repeats() -> None:
    data = yaml.safe_load(SHAPE_FILE.read_text())
    data["variants"]["params"] = {
        name: {"choices": [2, 3]} if name == "layers" else {"choices": [4, 4]}
        for name in data["variants"]["params"]
    }
    found = seeds(QuestionAdapter.validate_python(data))
    assert sorted(values["layers"] for _, values in found) == [2, 3]


# --- answers from a run, filled in ---


def test_a_variant_is_an_ordinary_question_whose_check_claims_the_run_answer() -> None:
    q = template()
    _, values = seeds(q)[0]
    seen = observe(check_code(q, values))
    variant = fill(q, values, answer_of(q, seen))

    assert isinstance(variant, TensorShape) and variant.variants is None
    expected = [values["layers"] * 2, values["batch"], values["hidden"]]
    assert variant.answer == expected
    assert f"hidden_size={values['hidden']}" in variant.prompt
    assert variant.final_answer == format_answer(expected)
    assert not placeholders(variant)
    assert variant.check is not None
    assert run_check(variant.check) == [] and answer_mismatches(variant) == []


def test_a_numeric_variant_takes_the_templates_tolerance() -> None:
    q = template(COUNT_FILE)
    assert isinstance(q, Numeric)
    _, values = seeds(q)[1]
    variant = fill(q, values, answer_of(q, observe(check_code(q, values))))
    assert isinstance(variant, Numeric)
    lstm = torch.nn.LSTM(values["features"], values["hidden"], values["layers"], bidirectional=True)
    assert variant.expected().value == sum(p.numel() for p in lstm.parameters())
    assert variant.expected().tolerance == 0
    assert f"{variant.expected().value:g} parameters" == variant.final_answer


@pytest.mark.parametrize(
    ("seen", "message"),
    [
        (Observation(exception="ValueError", exception_message="bad size"), "raises ValueError"),
        (Observation(limit="stopped after 5 s of CPU time"), "was stopped"),
        (Observation(shapes={"out": [1, 2]}), "no tensor named 'h_n'"),
    ],
)
def test_a_run_without_an_answer_names_the_reason(seen: Observation, message: str) -> None:
    with pytest.raises(VariantError, match=message):
        answer_of(template(), seen)


@pytest.mark.parametrize("value", [True, "12", None])
def test_a_numeric_answer_must_be_a_number(value: object) -> None:
    q = template(COUNT_FILE)
    with pytest.raises(VariantError, match="no number named 'n'"):
        answer_of(q, Observation(values={"n": value}))


def test_variant_problem_names_the_seed_and_values() -> None:
    q = template()
    seed, values = seeds(q)[2]
    line = variant_problem(q, seed, values, Observation(exception="RuntimeError"))
    assert line is not None and line.startswith(f"variant {seed} (batch={values['batch']}, ")
    assert variant_problem(q, seed, values, observe(check_code(q, values))) is None


@pytest.mark.parametrize(
    ("answer", "text"),
    [([2, 3], "(2, 3)"), ([4], "(4,)"), ([], "()"), (3360, "3360"), (0.25, "0.25"), (12.0, "12")],
)
def test_answers_are_shown_as_python_writes_them(answer: Any, text: str) -> None:
    assert format_answer(answer) == text


# --- the schema's rules, reported by the loader ---


def shape_template() -> dict[str, Any]:
    return yaml.safe_load(SHAPE_FILE.read_text(encoding="utf-8"))


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda d: d.update(answer=[1, 2, 3]), "", "the answer is computed: remove `answer`"),
        (lambda d: d["check"].update(expect={"shapes": {"h_n": [1]}}), "", "expect: {runs: true}"),
        (lambda d: d["check"].pop("answer_from"), "", "answer_from"),
        (lambda d: d.update(final_answer="{{anwser}}"), "", "unknown placeholders: anwser"),
        (lambda d: d["variants"].update(count=1), "variants.count", "greater than or equal to 2"),
        (lambda d: d["variants"].update(params={}), "variants.params", "at least 1"),
        (
            lambda d: d["variants"]["params"].update(batch={"min": 2, "max": 9, "choices": [1, 2]}),
            "variants.params.batch",
            "either choices, or both min and max",
        ),
        (
            lambda d: d["variants"]["params"].update(batch={"min": 9, "max": 2}),
            "variants.params.batch",
            "min must be below max",
        ),
        (
            lambda d: d["variants"]["params"].update(batch={"min": 9}),
            "variants.params.batch",
            "either choices, or both min and max",
        ),
    ],
)
def test_a_bad_template_is_reported_with_its_field(
    bank: Any, change: Any, field: str, message: str
) -> None:
    bank.topic()
    data = shape_template()
    change(data)
    bank.question(data)
    problem = only(bank.problems())
    assert problem.path == "rnn/bilstm-hn-shape-random-sizes.yaml"
    assert problem.field == field and message in problem.message, problem


def test_variants_are_only_for_computed_answers(bank: Any) -> None:
    bank.topic()
    data = bank.choice_question("single_choice", "pick-one", [True, False])
    data["variants"] = shape_template()["variants"]
    bank.question(data)
    assert "variants are for tensor_shape and numeric questions" in only(bank.problems()).message


def test_answer_from_without_a_claim_needs_variants(bank: Any) -> None:
    bank.topic()
    data = shape_template()
    del data["variants"]
    data["answer"] = [2, 3, 8]
    bank.question(data)
    assert "needs variants" in only(bank.problems()).message


def test_a_plain_shape_question_still_needs_its_answer(bank: Any) -> None:
    bank.topic()
    data = bank.base_question()
    del data["answer"]
    bank.question(data)
    assert "answer is required" in only(bank.problems()).message
