"""A code question's tests in words: each report says what was expected and what came out, the
reference passes the samples as well as the hidden tests, and old answers still render."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from app.bank.checks import code_question_problems, expected_text
from app.bank.grading import MAX_SHOWN_OUTPUT, grade_code, report_tests
from app.bank.schema import CodeQuestion, Expectation
from app.core.errors import AnswerFormatError
from app.core.templating import templates
from app.runner import protocol
from app.runner.protocol import ExceptionInfo, RunResult, TensorInfo

SOLUTION = "def double(x):\n    return 2 * x\n"
STARTER = "def double(x):\n    return x\n"


def case(name: str, code: str, **expect: Any) -> dict[str, Any]:
    """A code test as a question file writes it."""
    return {"name": name, "code": code, "expect": expect}


def code_question(**changes: Any) -> CodeQuestion:
    data: dict[str, Any] = {
        "id": "double",
        "type": "code",
        "difficulty": "easy",
        "tags": ["grading"],
        "prompt": "Write `double(x)`.",
        "hints": ["Multiply."],
        "solution_steps": [{"title": "Step", "body": "Body."}],
        "final_answer": "`2 * x`",
        "quick_check": "double(2) is 4.",
        "common_mistakes": ["Returning x."],
        "starter": STARTER,
        "samples": [case("doubles 2", "got = double(2)\n", values={"got": 4})],
        "tests": [
            case("doubles 5", "got = double(5)\n", values={"got": 10}),
            case(
                "keeps a tensor's shape",
                "import torch\nt = double(torch.zeros(2, 3))\n",
                shapes={"t": [2, 3]},
            ),
        ],
        "solution_code": SOLUTION,
        **changes,
    }
    return CodeQuestion.model_validate(data)


def ran(tests: list[protocol.TestRun], **fields: Any) -> RunResult:
    return RunResult(ok=True, tests=tests, **fields)


def test_each_report_says_what_was_expected_and_what_came_out() -> None:
    question = code_question()
    run = ran(
        [
            protocol.TestRun(name="doubles 5", values={"got": 5}),
            protocol.TestRun(
                name="keeps a tensor's shape",
                tensors=[TensorInfo(name="t", shape=[2, 3], dtype="float32")],
            ),
        ],
        stdout="doubling\n",
    )

    graded = grade_code(question, STARTER, run)

    failed, passed = graded.given["tests"]
    assert failed == {
        "name": "doubles 5",
        "passed": False,
        "message": "claims got == 10; really runs, got=5",
        "expected": "got == 10",
        "got": "runs, got=5",
    }
    assert passed["passed"] and passed["expected"] == "t has shape (2, 3)"
    assert passed["got"] == "runs, t=shape (2, 3)"
    assert graded.given["stdout"] == "doubling\n"
    assert graded.score == 0.5


def test_code_that_raises_before_the_tests_fails_each_with_the_error_and_its_line() -> None:
    question = code_question()
    error = ExceptionInfo(type="NameError", message="name 'y' is not defined", traceback="", line=3)

    reports = report_tests(question.tests, RunResult(ok=False, exception=error))

    assert [r["passed"] for r in reports] == [False, False]
    for report in reports:
        assert report["got"] == "your code raised NameError (line 3): name 'y' is not defined"
        assert report["expected"] in ("got == 10", "t has shape (2, 3)")


def test_a_syntax_error_is_no_attempt_and_names_its_line() -> None:
    error = ExceptionInfo(type="SyntaxError", message="invalid syntax", traceback="", line=2)
    with pytest.raises(AnswerFormatError, match="SyntaxError on line 2"):
        grade_code(code_question(), "def (", RunResult(ok=False, exception=error))


def test_what_a_submission_printed_is_kept_cut_and_storable() -> None:
    question = code_question()
    long = "x" * (MAX_SHOWN_OUTPUT + 10) + "\x00"

    given = grade_code(question, SOLUTION, ran([], stdout=long)).given

    assert given["stdout"].startswith("x" * MAX_SHOWN_OUTPUT)
    assert f"[…cut: only the first {MAX_SHOWN_OUTPUT:,} characters are shown]" in given["stdout"]
    assert "\x00" not in grade_code(question, SOLUTION, ran([], stdout="a\x00b")).given["stdout"]


@pytest.mark.parametrize(
    ("expect", "words"),
    [
        ({"raises": "ValueError"}, "raises ValueError"),
        (
            {"raises": "RuntimeError", "message_contains": "size"},
            "raises RuntimeError with a message containing 'size'",
        ),
        ({"runs": True}, "runs to the end"),
        ({"values": {"ok": True}, "warns": "UserWarning"}, "ok == True, warns UserWarning"),
    ],
)
def test_an_expectation_in_words(expect: dict[str, Any], words: str) -> None:
    assert expected_text(Expectation.model_validate(expect)) == words


def test_a_reference_that_fails_a_sample_is_a_problem_of_the_bank() -> None:
    wrong_sample = case("doubles 3", "got = double(3)\n", values={"got": 7})
    question = code_question(samples=[wrong_sample])

    problems = code_question_problems(question)

    assert problems == [
        "solution_code fails sample 'doubles 3': claims got == 7; really runs, got=6"
    ]
    assert code_question_problems(code_question()) == []


def test_a_starter_that_passes_every_hidden_test_is_a_problem_of_the_bank() -> None:
    assert code_question_problems(code_question(starter=SOLUTION)) == [
        "the starter code already passes every test"
    ]


def test_a_code_question_needs_samples_with_names_of_their_own() -> None:
    with pytest.raises(ValidationError, match="samples"):
        code_question(samples=[])
    clash = case("doubles 5", "got = double(5)\n", values={"got": 10})
    with pytest.raises(ValidationError, match="repeated: \\['doubles 5'\\]"):
        code_question(samples=[clash])


def test_the_report_of_an_answer_stored_before_expected_and_got_shows_its_message() -> None:
    old = [
        {"name": "doubles 5", "passed": False, "message": "claims got == 10; really runs, got=5"}
    ]
    new = report_tests(
        code_question().tests[:1], ran([protocol.TestRun(name="doubles 5", values={"got": 5})])
    )
    partial = templates.env.get_template("attempts/_test_report.html")

    old_html = partial.render(tests=old, caption="Hidden tests")
    new_html = partial.render(tests=new, caption="Hidden tests")

    assert "claims got == 10; really runs, got=5" in old_html and "Expected:" not in old_html
    assert "Expected: got == 10" in new_html and "Got: runs, got=5" in new_html
    assert "0 of 1 passed." in new_html and "Failed: “doubles 5”" in new_html
