"""Parameterised questions: a variant's values come from its seed, and its answer from a run.

Everything here is pure. `fill` turns a template and one run of its check into an ordinary,
fully claimed question (its check now asserts the computed answer), so the rest of the app,
grading and verification treat a variant like any hand-written question.
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import ValidationError

from app.bank.checks import Observation
from app.bank.schema import PLACEHOLDER, AnyQuestion, Param, QuestionAdapter, Variants

# Seeds tried per wanted variant before giving up on finding distinct values.
_TRIES_PER_VARIANT = 20


class VariantError(ValueError):
    """A template's run gave no usable answer (it raised, hit a limit, or left no such variable)."""


def variants_of(question: AnyQuestion) -> Variants:
    if question.variants is None:
        raise ValueError(f"{question.id} is not a template: it has no variants")
    return question.variants


def draw(question: AnyQuestion, seed: int) -> dict[str, int]:
    """The values of one variant: the same seed always gives the same values."""
    rng = random.Random(f"{question.id}:{seed}")  # noqa: S311 - reproducible, not secret
    return {name: _pick(param, rng) for name, param in sorted(variants_of(question).params.items())}


def seeds(question: AnyQuestion) -> list[tuple[int, dict[str, int]]]:
    """Up to `count` (seed, values) pairs, no two with the same values: a small parameter
    space gives fewer variants rather than repeats."""
    wanted = variants_of(question).count
    found: list[tuple[int, dict[str, int]]] = []
    seen: set[tuple[tuple[str, int], ...]] = set()
    for seed in range(wanted * _TRIES_PER_VARIANT):
        values = draw(question, seed)
        key = tuple(values.items())
        if key not in seen:
            seen.add(key)
            found.append((seed, values))
            if len(found) == wanted:
                break
    return found


def check_code(question: AnyQuestion, values: dict[str, int]) -> str:
    """The template's check snippet with one variant's values in place."""
    assert question.check is not None  # the schema requires a check with variants
    return substitute(question.check.code, {k: str(v) for k, v in values.items()})


def answer_of(question: AnyQuestion, seen: Observation) -> list[int] | float:
    """The variant's answer: the shape or number its check's run left in `answer_from`."""
    assert question.check is not None and question.check.answer_from is not None
    name = question.check.answer_from
    if seen.limit is not None:
        raise VariantError(f"the check was stopped: {seen.limit}")
    if seen.exception is not None:
        raise VariantError(f"the check raises {seen.exception}: {seen.exception_message}")
    if question.type == "tensor_shape":
        if name not in seen.shapes:
            raise VariantError(f"the check leaves no tensor named {name!r}")
        return list(seen.shapes[name])
    value = seen.values.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise VariantError(f"the check leaves no number named {name!r} (got {value!r})")
    return value


def fill(question: AnyQuestion, values: dict[str, int], answer: list[int] | float) -> AnyQuestion:
    """The concrete question of one variant, its check claiming the computed answer."""
    variants = variants_of(question)
    texts = {k: str(v) for k, v in values.items()} | {"answer": format_answer(answer)}
    data: dict[str, Any] = _substitute_all(
        question.model_dump(mode="json", exclude={"variants"}), texts
    )
    check = data["check"]
    if isinstance(answer, list):
        data["answer"] = answer
        check["expect"] = {"shapes": {check["answer_from"]: answer}}
    else:
        data["answer"] = {"value": answer, "tolerance": variants.tolerance}
        check["expect"] = {"values": {check["answer_from"]: answer}}
    return QuestionAdapter.validate_python(data)


def variant_of(question: AnyQuestion, values: dict[str, int], seen: Observation) -> AnyQuestion:
    """The variant for `values`, its answer taken from what its check's run left (`seen`)."""
    return fill(question, values, answer_of(question, seen))


def variant_problem(
    question: AnyQuestion, seed: int, values: dict[str, int], seen: Observation
) -> str | None:
    """Why one variant cannot be built from its check's run, or None when it can."""
    try:
        variant_of(question, values, seen)
    except (VariantError, ValidationError) as exc:
        return f"variant {seed} ({describe(values)}): {exc}"
    return None


def format_answer(answer: list[int] | float) -> str:
    if isinstance(answer, list):
        return "(" + ", ".join(map(str, answer)) + ("," if len(answer) == 1 else "") + ")"
    return str(int(answer)) if float(answer).is_integer() else f"{answer:g}"


def describe(values: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def substitute(text: str, texts: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: texts.get(m.group(1), m.group(0)), text)


def _substitute_all(value: Any, texts: dict[str, str]) -> Any:
    if isinstance(value, str):
        return substitute(value, texts)
    if isinstance(value, dict):
        return {k: _substitute_all(v, texts) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute_all(v, texts) for v in value]
    return value


def _pick(param: Param, rng: random.Random) -> int:
    if param.choices is not None:
        return rng.choice(param.choices)
    assert param.min is not None and param.max is not None
    return rng.randint(param.min, param.max)
