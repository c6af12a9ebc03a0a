"""Run a question's `check` block against the installed torch and say what really happened.

The bank is trusted content, so its snippets run in this process. Learner code never
comes through here.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

from app.bank.schema import AnyQuestion, Check, Numeric, TensorShape


@dataclass
class Observation:
    """What the snippet did: the exception it raised, or the variables it left."""

    exception: BaseException | None = None
    namespace: dict[str, Any] = field(default_factory=dict)
    warnings: list[warnings.WarningMessage] = field(default_factory=list)

    def describe(self, names: list[str]) -> str:
        if self.exception is not None:
            return f"raises {type(self.exception).__name__}: {_first_line(self.exception)}"
        shown = [
            f"{name}={_describe_value(self.namespace[name])}"
            for name in names
            if name in self.namespace
        ]
        shown += [f"warns {w.category.__name__}: {w.message}" for w in self.warnings]
        return "runs" + (f", {', '.join(shown)}" if shown else "")


def observe(code: str) -> Observation:
    seen = Observation(namespace={"__name__": "__check__"})
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        try:
            exec(compile(code, "<check>", "exec"), seen.namespace)  # noqa: S102 - trusted bank content
        except Exception as exc:  # any exception is an observation
            seen.exception = exc
    seen.warnings = list(caught)
    return seen


def run_check(check: Check) -> list[str]:
    """Run the snippet; return one line per mismatch between the claim and torch (empty if none)."""
    seen = observe(check.code)
    expect = check.expect
    names = [*(expect.shapes or {}), *(expect.values or {})]
    really = seen.describe(names)
    if expect.raises is not None:
        return _check_raises(expect.raises, expect.message_contains, seen, really)
    if seen.exception is not None:
        return [f"claims it runs; really {really}"]
    problems = []
    for name, shape in (expect.shapes or {}).items():
        actual = _shape_of(seen.namespace.get(name))
        if actual != shape:
            problems.append(f"claims {name} has shape {tuple(shape)}; really {really}")
    for name, value in (expect.values or {}).items():
        if name not in seen.namespace or not _same_value(_plain(seen.namespace[name]), value):
            problems.append(f"claims {name} == {value!r}; really {really}")
    if expect.warns is not None and not any(
        expect.warns in {cls.__name__ for cls in w.category.__mro__} for w in seen.warnings
    ):
        problems.append(f"claims it warns {expect.warns}; really {really}")
    return problems


def answer_mismatches(question: AnyQuestion) -> list[str]:
    """The answer must be what the check asserts, so a checked question cannot drift from it."""
    check = question.check
    if check is None or check.answer_from is None:
        return []
    var = check.answer_from
    if isinstance(question, TensorShape):
        claimed = (check.expect.shapes or {}).get(var)
        if claimed != question.answer:
            return [f"answer {tuple(question.answer)} differs from the check's shape of {var}"]
    elif isinstance(question, Numeric):
        claimed_value = (check.expect.values or {}).get(var)
        if not isinstance(claimed_value, int | float) or not math.isclose(
            claimed_value, question.answer.value, abs_tol=question.answer.tolerance
        ):
            return [f"answer {question.answer.value} differs from the check's value of {var}"]
    else:
        return [f"answer_from is only for tensor_shape and numeric questions, not {question.type}"]
    return []


def _check_raises(
    expected: str, message_part: str | None, seen: Observation, really: str
) -> list[str]:
    exc = seen.exception
    if exc is None or expected not in {cls.__name__ for cls in type(exc).__mro__}:
        return [f"claims it raises {expected}; really {really}"]
    if message_part is not None and message_part not in str(exc):
        return [f"claims the {expected} message contains {message_part!r}; really {really}"]
    return []


def _shape_of(value: Any) -> list[int] | None:
    shape = getattr(value, "shape", None)
    return list(shape) if shape is not None else None


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


def _describe_value(value: Any) -> str:
    shape = _shape_of(value)
    if shape is not None and getattr(value, "ndim", 0) != 0:
        return f"shape {tuple(shape)}"
    return repr(_plain(value))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"
