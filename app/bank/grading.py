"""Grade a learner's answer against a question. Pure functions: no database, no I/O.

A malformed answer raises AnswerFormatError, which callers report without recording an attempt.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from app.bank.checks import compare, expected_text, from_run, observed_text
from app.bank.indexing import IndexSyntaxError, parse_index, select
from app.bank.schema import (
    AnyQuestion,
    ChoiceQuestion,
    CodeQuestion,
    CodeTest,
    MultipleSelect,
    Numeric,
    ShortText,
    SingleChoice,
    TensorShape,
    TextAnswer,
)
from app.core.bounds import shown
from app.core.errors import AnswerFormatError
from app.runner.protocol import MAX_CODE_BYTES, RunResult

SYNTAX_ERRORS = {"SyntaxError", "IndentationError", "TabError"}
# A code answer keeps its run's output (stdout) to show it: the first characters, not all of it.
MAX_SHOWN_OUTPUT = 4000

# Shown when a shape answer cannot be read; also the placeholder in the answer box.
SHAPE_FORMS = "4, 7, 6 or [4, 7, 6] or (4, 7, 6) or torch.Size([4, 7, 6])"
_TORCH_SIZE = re.compile(r"torch\.Size\((.*)\)", re.DOTALL)
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


@dataclass(frozen=True)
class Grade:
    correct: bool
    score: float  # 0.0 to 1.0
    given: Any  # the answer in canonical form, as stored


def letter(index: int) -> str:
    return chr(ord("A") + index)


def grade(question: AnyQuestion, raw: Any) -> Grade:
    """Grade an answer given as data. Code questions need a run: see grade_code."""
    if isinstance(question, CodeQuestion):
        raise TypeError("a code answer is graded from its run in the sandbox (grade_code)")
    grader = _GRADERS[type(question)]
    return grader(question, raw)


def code_of(raw: Any) -> str:
    """The code of a code answer, or a format error that does not count as an attempt."""
    code = _single(raw)
    if not isinstance(code, str) or not code.strip():
        raise AnswerFormatError("write some Python code")
    if len(code.encode()) > MAX_CODE_BYTES:
        raise AnswerFormatError(f"keep the code under {MAX_CODE_BYTES // 1024} KiB")
    return code


def code_answer(question: CodeQuestion, raw: Any) -> str:
    """As code_of; the starter sent back unchanged is not an attempt either."""
    code = code_of(raw)
    if _is_starter(question, code):
        raise AnswerFormatError("this is the starter code unchanged: change it to answer")
    return code


def unanswered(question: AnyQuestion, raw: Any) -> bool:
    """No answer at all: nothing given, or a code question's starter sent back unchanged."""
    values = raw if isinstance(raw, list) else [raw]
    if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
        return True
    code = _single(raw)
    return (
        isinstance(question, CodeQuestion) and isinstance(code, str) and _is_starter(question, code)
    )


def _is_starter(question: CodeQuestion, code: str) -> bool:
    # A browser sends a textarea's line breaks as CRLF.
    return code.replace("\r\n", "\n").strip() == question.starter.strip()


def grade_code(question: CodeQuestion, code: str, run: RunResult) -> Grade:
    """Each hidden test passes when what it observed matches its expectation; partial credit
    is the share of tests passed. Code that does not parse is not an attempt."""
    exception = run.exception
    if exception is not None and exception.type in SYNTAX_ERRORS:
        where = f" on line {exception.line}" if exception.line else ""
        raise AnswerFormatError(f"your code has a {exception.type}{where}: {exception.message}")
    reports = report_tests(question.tests, run)
    passed = sum(r["passed"] for r in reports)
    given = {"code": code, "tests": reports, "stdout": shown_output(run.stdout)}
    return Grade(passed == len(reports), passed / len(reports), given)


def report_tests(tests: Sequence[CodeTest], run: RunResult) -> list[dict[str, Any]]:
    """Each test's outcome in words, as stored in a code answer's `given`: its name, whether it
    passed, the first problem (`message`), and what it `expected` and what it `got` (answers
    stored before these two keys lack them)."""
    failed_before_tests = _why_no_tests(run)
    by_name = {test.name: test for test in run.tests}
    reports: list[dict[str, Any]] = []
    for test in tests:
        expected = expected_text(test.expect)
        ran = by_name.get(test.name)
        if failed_before_tests or ran is None:
            why = failed_before_tests or "this test did not run"
            reports.append(_report(test.name, [why], expected, why))
            continue
        seen = from_run(ran)
        reports.append(
            _report(
                test.name, compare(test.expect, seen), expected, observed_text(test.expect, seen)
            )
        )
    return reports


def _report(name: str, problems: list[str], expected: str, got: str) -> dict[str, Any]:
    message = problems[0] if problems else "passed"
    return {
        "name": name,
        "passed": not problems,
        "message": _storable(message),
        "expected": expected,
        "got": _storable(got),
    }


def shown_output(text: str) -> str:
    """A run's output as kept and shown beside its result: the first MAX_SHOWN_OUTPUT
    characters, with no NUL or lone surrogate (what a learner printed may hold either)."""
    if len(text) > MAX_SHOWN_OUTPUT:
        cut = f"\n[…cut: only the first {MAX_SHOWN_OUTPUT:,} characters are shown]"
        text = text[:MAX_SHOWN_OUTPUT] + cut
    return _storable(text)


def _storable(text: str) -> str:
    """Text from a learner's run as a database stores it (app.core.bounds.storable_text)."""
    return shown(text.replace("\x00", "\ufffd"))


def _why_no_tests(run: RunResult) -> str | None:
    if run.limit is not None:
        return f"your code was stopped: {run.limit.message}"
    if run.exception is not None:
        line = f" (line {run.exception.line})" if run.exception.line else ""
        return f"your code raised {run.exception.type}{line}: {run.exception.message}"
    if run.exit_code is not None:
        return "your code called sys.exit before the tests could run"
    return None


def _single(raw: Any) -> Any:
    """Forms send every field as a list; a one-item list means the item."""
    if isinstance(raw, list | tuple) and len(raw) == 1:
        return raw[0]
    return raw


def _option_index(question: ChoiceQuestion, raw: Any) -> int:
    text = str(raw).strip().upper()
    valid = ", ".join(letter(i) for i in range(len(question.options)))
    if len(text) != 1 or not ("A" <= text < letter(len(question.options))):
        raise AnswerFormatError(f"choose one of the options {valid}; got {str(raw)[:40]!r}")
    return ord(text) - ord("A")


def grade_single_choice(question: SingleChoice, raw: Any) -> Grade:
    raw = _single(raw)
    if raw is None or raw == "" or isinstance(raw, list):
        raise AnswerFormatError("choose exactly one option")
    index = _option_index(question, raw)
    correct = index in question.correct_indexes()
    return Grade(correct, 1.0 if correct else 0.0, letter(index))


def grade_multiple_select(question: MultipleSelect, raw: Any) -> Grade:
    picks = raw if isinstance(raw, list | tuple) else [raw]
    chosen = frozenset(_option_index(question, p) for p in picks if p not in (None, ""))
    if not chosen:
        raise AnswerFormatError("choose at least one option")
    right = question.correct_indexes()
    wrong = len(question.options) - len(right)
    # Right picks earn their share of the right options, wrong picks lose their share of the
    # wrong ones: ticking every box always earns nothing.
    penalty = len(chosen - right) / wrong if wrong else 0.0
    score = max(0.0, len(chosen & right) / len(right) - penalty)
    return Grade(chosen == right, score, sorted(letter(i) for i in chosen))


def parse_number(raw: Any) -> float:
    raw = _single(raw)
    if isinstance(raw, bool):
        raise AnswerFormatError("enter a number, such as 15493 or 0.25")
    if isinstance(raw, int | float):
        value = float(raw)
    else:
        text = str(raw).strip().replace("_", "")
        if _THOUSANDS.match(text):
            text = text.replace(",", "")
        try:
            value = float(text)
        except ValueError:
            raise AnswerFormatError(
                f"enter a number, such as 15493, 15,493 or 1.5e4; got {str(raw)[:40]!r}"
            ) from None
    if not math.isfinite(value):
        raise AnswerFormatError("enter a finite number")
    return value


def grade_numeric(question: Numeric, raw: Any) -> Grade:
    value = parse_number(raw)
    expected = question.expected()
    correct = math.isclose(value, expected.value, rel_tol=0.0, abs_tol=expected.tolerance + 1e-12)
    given: int | float = int(value) if value.is_integer() else value
    return Grade(correct, 1.0 if correct else 0.0, given)


def parse_shape(raw: Any) -> list[int]:
    """Read a shape written as 4,7,6 / [4, 7, 6] / (4, 7, 6) / torch.Size([4, 7, 6])."""
    raw = _single(raw)
    if isinstance(raw, list | tuple) and all(
        isinstance(d, int) and not isinstance(d, bool) for d in raw
    ):
        dims = [int(d) for d in raw]
    else:
        dims = _parse_shape_text(str(raw) if raw is not None else "")
    if any(d < 0 for d in dims):
        raise AnswerFormatError(f"a shape has no negative sizes; write it like {SHAPE_FORMS}")
    return dims


def _parse_shape_text(text: str) -> list[int]:
    body = text.strip()
    if len(body) > 200:
        raise AnswerFormatError(f"that is too long for a shape; write it like {SHAPE_FORMS}")
    sized = _TORCH_SIZE.fullmatch(body)
    if sized:
        body = sized[1].strip()
        if not (body.startswith("[") and body.endswith("]")):
            raise AnswerFormatError(f"torch.Size takes a list, like {SHAPE_FORMS}")
    bracketed = body[:1] in "[(" and body != ""
    if bracketed:
        if (body[0], body[-1]) not in (("[", "]"), ("(", ")")):
            raise AnswerFormatError(
                f"the brackets do not match; write the shape like {SHAPE_FORMS}"
            )
        body = body[1:-1]
    parts = [p.strip() for p in body.split(",")]
    if len(parts) > 1 and parts[-1] == "" and parts[-2] != "":
        parts.pop()  # a trailing comma, as in (4,)
    if parts == [""]:
        if bracketed:
            return []  # a 0-d tensor's shape
        raise AnswerFormatError(f"enter a shape, such as {SHAPE_FORMS}")
    if not all(p.isascii() and p.isdigit() for p in parts):
        raise AnswerFormatError(
            f"a shape is whole numbers separated by commas, like {SHAPE_FORMS}; got {text[:40]!r}"
        )
    return [int(p) for p in parts]


def grade_tensor_shape(question: TensorShape, raw: Any) -> Grade:
    dims = parse_shape(raw)
    correct = dims == question.expected()
    return Grade(correct, 1.0 if correct else 0.0, dims)


def normalise_text(text: str, *, case_sensitive: bool) -> str:
    text = " ".join(text.strip().strip("`").split())
    return text if case_sensitive else text.casefold()


def grade_short_text(question: ShortText, raw: Any) -> Grade:
    raw = _single(raw)
    if not isinstance(raw, str | int | float) or isinstance(raw, bool) or not str(raw).strip():
        raise AnswerFormatError("enter a short text answer")
    text = str(raw)
    if len(text) > 500:
        raise AnswerFormatError("keep the answer under 500 characters")
    if question.answer.index_of is not None:
        correct = _same_selection(question.answer, text)
    else:
        case = question.answer.case_sensitive
        accepted = {normalise_text(a, case_sensitive=case) for a in question.answer.accepted}
        correct = normalise_text(text, case_sensitive=case) in accepted
    return Grade(correct, 1.0 if correct else 0.0, text.strip())


def _same_selection(answer: TextAnswer, text: str) -> bool:
    """An index answer is right when it selects what an accepted expression selects: the same
    elements of the same tensor, in the same shape. Text that is not an index expression is a
    format error; an index torch would refuse for this shape (out of range) is a wrong answer."""
    assert answer.index_of is not None
    name, shape = answer.index_of.tensor, tuple(answer.index_of.shape)
    try:
        given = parse_index(text.strip().strip("`"))
    except IndexSyntaxError as exc:
        raise AnswerFormatError(f"write an indexing expression on `{name}`: {exc}") from None
    if given.name != name:
        return False
    selected = select(given, shape)
    return selected is not None and any(
        select(parse_index(reference), shape) == selected for reference in answer.accepted
    )


def format_answer(given: Any) -> str:
    """An answer as a learner would write it: "B", "A, C", "(4, 7, 6)", "15493"."""
    if given is None:
        return "nothing"
    if isinstance(given, dict) and "tests" in given:
        passed = sum(test["passed"] for test in given["tests"])
        return f"code passing {passed} of {len(given['tests'])} tests"
    if isinstance(given, list):
        if all(isinstance(d, int) for d in given):
            return "(" + ", ".join(map(str, given)) + ("," if len(given) == 1 else "") + ")"
        return ", ".join(map(str, given))
    return str(given)


_GRADERS: dict[type, Callable[[Any, Any], Grade]] = {
    SingleChoice: grade_single_choice,
    MultipleSelect: grade_multiple_select,
    Numeric: grade_numeric,
    TensorShape: grade_tensor_shape,
    ShortText: grade_short_text,
}
