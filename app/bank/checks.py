"""Compare what a snippet claims (a `check` or a code question's test) with what torch did.

What torch did is an Observation: from running trusted bank content in this process
(`observe`, used by the test suite), or from a run in the sandbox (`from_run`, used by
`torchquiz questions verify` and by code questions). Learner code only ever takes the latter.
"""

from __future__ import annotations

import contextlib
import io
import math
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any

from app.bank.schema import (
    AnyQuestion,
    Check,
    CodeQuestion,
    CodeTest,
    Expectation,
    Numeric,
    TensorShape,
)
from app.runner.protocol import RunResult, TestRun


@dataclass
class Observation:
    """What a snippet did: the exception it raised, or the variables it left, and warnings."""

    exception: str | None = None  # the exception's type name
    exception_classes: list[str] = field(default_factory=list)
    exception_message: str = ""
    shapes: dict[str, list[int]] = field(default_factory=dict)  # tensors left in variables
    values: dict[str, Any] = field(default_factory=dict)  # plain values left in variables
    warnings: list[tuple[list[str], str]] = field(default_factory=list)  # (classes, message)
    limit: str | None = None  # a sandbox limit that ended it

    def describe(self, names: list[str]) -> str:
        if self.limit is not None:
            return f"was stopped: {self.limit}"
        if self.exception is not None:
            first = self.exception_message.strip().splitlines()
            return f"raises {self.exception}: {first[0] if first else '(no message)'}"
        shown = [self._show(name) for name in names if name in self.shapes or name in self.values]
        shown += [f"warns {classes[0]}: {message}" for classes, message in self.warnings]
        return "runs" + (f", {', '.join(shown)}" if shown else "")

    def _show(self, name: str) -> str:
        if self.shapes.get(name):
            return f"{name}=shape {tuple(self.shapes[name])}"
        return f"{name}={self.values.get(name)!r}"


def observe(code: str, namespace: dict[str, Any] | None = None) -> Observation:
    """Run trusted bank content in this process (never learner code), optionally in a
    namespace another snippet left behind."""
    namespace = namespace if namespace is not None else {"__name__": "__check__"}
    seen = Observation()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        try:
            exec(compile(code, "<check>", "exec"), namespace)  # noqa: S102 - trusted bank content
        except Exception as exc:  # any exception is an observation
            seen.exception = type(exc).__name__
            seen.exception_classes = [cls.__name__ for cls in type(exc).__mro__]
            seen.exception_message = str(exc)
    seen.warnings = [([c.__name__ for c in w.category.__mro__], str(w.message)) for w in caught]
    # Shapes of tensors only, as the sandbox reports them (app.runner.observe): other objects
    # may have a `shape` that is no shape, such as the numpy module's `np.shape` function.
    # A snippet that made tensors has imported torch; this module does not import it.
    torch = sys.modules.get("torch")
    for name, value in namespace.items():
        if torch is not None and isinstance(value, torch.Tensor):
            seen.shapes[name] = list(value.shape)
        seen.values[name] = _plain(value)
    return seen


def from_run(result: RunResult | TestRun) -> Observation:
    """A sandbox run's (or one of its tests') report as an observation."""
    limit = getattr(result, "limit", None)
    seen = Observation(
        shapes={t.name: t.shape for t in result.tensors},
        values=dict(result.values),
        warnings=[(w.classes or [w.category], w.message) for w in result.warnings],
        limit=limit.message if limit else None,
    )
    if result.exception is not None:
        seen.exception = result.exception.type
        seen.exception_classes = result.exception.classes or [result.exception.type]
        seen.exception_message = result.exception.message
    return seen


def expected_text(expect: Expectation) -> str:
    """What a claim expects, in words: "pooled has shape (3, 4), ok == True"."""
    if expect.raises is not None:
        part = f" with a message containing {expect.message_contains!r}"
        return f"raises {expect.raises}" + (part if expect.message_contains else "")
    said = [f"{name} has shape {tuple(shape)}" for name, shape in (expect.shapes or {}).items()]
    said += [f"{name} == {value!r}" for name, value in (expect.values or {}).items()]
    said += [f"warns {expect.warns}"] if expect.warns is not None else []
    return ", ".join(said) or "runs to the end"


def observed_text(expect: Expectation, seen: Observation) -> str:
    """What really happened, about the names the claim is about (see compare)."""
    # For a claimed exception, show the tensors that exist instead.
    names = [*(expect.shapes or {}), *(expect.values or {})] or list(seen.shapes)[:6]
    return seen.describe(names)


def compare(expect: Expectation, seen: Observation) -> list[str]:
    """One line per way `seen` differs from `expect` (empty when torch agrees)."""
    really = observed_text(expect, seen)
    if seen.limit is not None:
        return [
            f"claims it {'raises ' + expect.raises if expect.raises else 'runs'}; really {really}"
        ]
    if expect.raises is not None:
        return _check_raises(expect.raises, expect.message_contains, seen, really)
    if seen.exception is not None:
        return [f"claims it runs; really {really}"]
    problems = []
    for name, shape in (expect.shapes or {}).items():
        if seen.shapes.get(name) != shape:
            problems.append(f"claims {name} has shape {tuple(shape)}; really {really}")
    for name, value in (expect.values or {}).items():
        if name not in seen.values or not _same_value(seen.values[name], value):
            problems.append(f"claims {name} == {value!r}; really {really}")
    if expect.warns is not None and not any(
        expect.warns in classes for classes, _ in seen.warnings
    ):
        problems.append(f"claims it warns {expect.warns}; really {really}")
    return problems


def run_check(check: Check) -> list[str]:
    """Run the snippet here; one line per mismatch between the claim and torch (empty if none)."""
    return compare(check.expect, observe(check.code))


def code_question_problems(question: CodeQuestion) -> list[str]:
    """The reference code passes every sample and every hidden test, and the starter code and
    every buggy solution fail some hidden test: run here."""
    problems = [
        f"solution_code fails sample {name!r}: {line}"
        for name, line in _failures(question.samples, question.solution_code)
    ]
    problems += [
        f"solution_code fails test {name!r}: {line}"
        for name, line in _failures(question.tests, question.solution_code)
    ]
    if not _failures(question.tests, question.starter):
        problems.append("the starter code already passes every test")
    problems += [
        f"buggy_solutions[{index}] passes every hidden test"
        for index, buggy in enumerate(question.buggy_solutions)
        if not _failures(question.tests, buggy.code)
    ]
    return problems


def _failures(tests: list[CodeTest], code: str) -> list[tuple[str, str]]:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    ran = observe(code, namespace)
    if ran.exception is not None:
        return [(test.name, f"the code raises {ran.exception}") for test in tests]
    failures = []
    for test in tests:
        for line in compare(test.expect, observe(test.code, dict(namespace))):
            failures.append((test.name, line))
    return failures


def answer_mismatches(question: AnyQuestion) -> list[str]:
    """The answer must be what the check asserts, so a checked question cannot drift from it."""
    check = question.check
    if check is None or not check.claims_answer():
        return []  # no claim, or a template whose variants' answers are computed from runs
    var = check.answer_from
    if isinstance(question, TensorShape):
        claimed = (check.expect.shapes or {}).get(var or "")
        if claimed != question.expected():
            return [f"answer {tuple(question.expected())} differs from the check's shape of {var}"]
    elif isinstance(question, Numeric):
        claimed_value = (check.expect.values or {}).get(var or "")
        answer = question.expected()
        if not isinstance(claimed_value, int | float) or not math.isclose(
            claimed_value, answer.value, abs_tol=answer.tolerance
        ):
            return [f"answer {answer.value} differs from the check's value of {var}"]
    else:
        return [f"answer_from is only for tensor_shape and numeric questions, not {question.type}"]
    return []


def _check_raises(
    expected: str, message_part: str | None, seen: Observation, really: str
) -> list[str]:
    if seen.exception is None or expected not in seen.exception_classes:
        return [f"claims it raises {expected}; really {really}"]
    if message_part is not None and message_part not in seen.exception_message:
        return [f"claims the {expected} message contains {message_part!r}; really {really}"]
    return []


def _plain(value: Any) -> Any:
    """0-d tensors and numpy scalars compare as Python numbers."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 1) == 0:
        return item()
    return value


def _same_value(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-9)
    if getattr(actual, "ndim", 0) != 0:
        return False  # a whole tensor never equals one plain value
    return bool(actual == expected)
