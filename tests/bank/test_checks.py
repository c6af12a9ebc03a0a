"""run_check and answer_mismatches against the installed torch (no mocks)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

from app.bank.checks import answer_mismatches, observe, run_check
from app.bank.schema import Check, QuestionAdapter

RNN_CODE = """\
import torch
rnn = torch.nn.RNN(input_size=5, hidden_size=3, bidirectional=True, batch_first=True)
out, h_n = rnn(torch.randn(4, 7, 5))
"""
# nn.RNN requires the input's last dimension to equal input_size: 6 != 5 raises RuntimeError.
WRONG_INPUT_CODE = "import torch\ntorch.nn.RNN(5, 3)(torch.randn(4, 7, 6))\n"
# dropout applies between layers, so one layer with dropout > 0 warns.
DROPOUT_ONE_LAYER = "import torch\ntorch.nn.GRU(4, 4, dropout=0.5)\n"
DROPOUT_TWO_LAYERS = "import torch\ntorch.nn.GRU(4, 4, num_layers=2, dropout=0.5)\n"


def check(code: str, **expect: Any) -> Check:
    return Check.model_validate({"code": code, "expect": expect})


def only_line(lines: list[str]) -> str:
    assert len(lines) == 1, lines
    return lines[0]


def test_torch_facts_the_checks_below_rely_on() -> None:
    """If torch changes one of these, the tests below need new examples, not a code fix."""
    out, _ = torch.nn.RNN(5, 3, bidirectional=True, batch_first=True)(torch.randn(4, 7, 5))
    assert list(out.shape) == [4, 7, 6]
    with pytest.raises(RuntimeError, match="input_size"):
        torch.nn.RNN(5, 3)(torch.randn(4, 7, 6))
    with pytest.warns(UserWarning, match="dropout"):
        torch.nn.GRU(4, 4, dropout=0.5)


# --- shapes ---


def test_true_shape_claim_gives_no_mismatch() -> None:
    assert run_check(check(RNN_CODE, shapes={"out": [4, 7, 6], "h_n": [2, 4, 3]})) == []


def test_false_shape_claim_names_claimed_and_real_shape() -> None:
    line = only_line(run_check(check(RNN_CODE, shapes={"out": [4, 7, 3]})))

    assert "out" in line
    assert "(4, 7, 3)" in line  # claimed
    assert "(4, 7, 6)" in line  # what torch really gave
    assert line.index("(4, 7, 3)") < line.index("really") < line.index("(4, 7, 6)")


def test_one_line_per_false_shape_claim() -> None:
    lines = run_check(check(RNN_CODE, shapes={"out": [7, 4, 6], "h_n": [4, 2, 3]}))

    assert len(lines) == 2
    assert any("out has shape (7, 4, 6)" in line for line in lines)
    assert any("h_n has shape (4, 2, 3)" in line for line in lines)


def test_shape_claim_on_missing_variable_is_a_mismatch() -> None:
    line = only_line(run_check(check(RNN_CODE, shapes={"output": [4, 7, 6]})))

    assert "output" in line


def test_shape_claim_on_code_that_raises_says_what_it_raised() -> None:
    line = only_line(run_check(check(WRONG_INPUT_CODE, shapes={"out": [4, 7, 3]})))

    assert "claims it runs" in line
    assert "RuntimeError" in line
    assert "input_size" in line


def test_runs_claim() -> None:
    assert run_check(check(RNN_CODE, runs=True)) == []
    assert "RuntimeError" in only_line(run_check(check(WRONG_INPUT_CODE, runs=True)))


# --- raises ---


def test_true_raises_claim_gives_no_mismatch() -> None:
    assert run_check(check(WRONG_INPUT_CODE, raises="RuntimeError")) == []


def test_raises_claim_matches_a_base_class() -> None:
    assert run_check(check(WRONG_INPUT_CODE, raises="Exception")) == []


def test_raises_claim_on_code_that_runs_says_really_runs() -> None:
    line = only_line(run_check(check(RNN_CODE, raises="RuntimeError")))

    assert "claims it raises RuntimeError" in line
    assert "really runs" in line


def test_raises_claim_with_the_wrong_type_reports_the_real_type() -> None:
    line = only_line(run_check(check(WRONG_INPUT_CODE, raises="ValueError")))

    assert "claims it raises ValueError" in line
    assert "really raises RuntimeError" in line
    assert "Expected 5, got 6" in line


def test_message_contains_match() -> None:
    claim = check(WRONG_INPUT_CODE, raises="RuntimeError", message_contains="must be equal to")
    assert run_check(claim) == []


def test_message_contains_mismatch_shows_claimed_text_and_real_message() -> None:
    claim = check(WRONG_INPUT_CODE, raises="RuntimeError", message_contains="hidden_size is wrong")

    line = only_line(run_check(claim))

    assert "'hidden_size is wrong'" in line
    assert "really raises RuntimeError" in line
    assert "input.size(-1) must be equal to input_size" in line


# --- values ---


def test_float_value_within_tolerance_holds() -> None:
    # float32 0.1 + 0.2 is 0.30000001192..., not exactly 0.3
    code = "import torch\ns = (torch.tensor(0.1) + torch.tensor(0.2)).item()\n"
    assert run_check(check(code, values={"s": 0.3})) == []


def test_zero_dim_tensor_value_compares_as_number() -> None:
    code = (
        "import torch\ns = torch.tensor(0.1) + torch.tensor(0.2)\nn = torch.zeros(2, 3).numel()\n"
    )
    assert run_check(check(code, values={"s": 0.3, "n": 6})) == []


def test_float_value_outside_tolerance_is_a_mismatch() -> None:
    code = "import torch\ns = (torch.tensor(0.1) + torch.tensor(0.2)).item()\n"

    line = only_line(run_check(check(code, values={"s": 0.3001})))

    assert "claims s == 0.3001" in line
    assert "really runs" in line
    assert "s=0.3000000" in line


def test_int_value_mismatch_shows_real_value() -> None:
    code = "import torch\nn = torch.zeros(2, 3).numel()\n"

    line = only_line(run_check(check(code, values={"n": 5})))

    assert "claims n == 5" in line
    assert "n=6" in line


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("import torch\nsame = torch.equal(torch.ones(2), torch.ones(2))\n", id="bool"),
        pytest.param("import torch\nsame = (torch.ones(2) > 0).all()\n", id="0-d-bool-tensor"),
    ],
)
def test_bool_values_are_exact(code: str) -> None:
    assert run_check(check(code, values={"same": True})) == []
    assert "claims same == False" in only_line(run_check(check(code, values={"same": False})))
    # 1 == True in Python, but a claim of the number 1 is not a claim of True.
    assert "claims same == 1" in only_line(run_check(check(code, values={"same": 1})))


def test_number_claim_on_bool_value_is_a_mismatch() -> None:
    code = "flag = True\n"
    assert run_check(check(code, values={"flag": 1.0}))


def test_string_value() -> None:
    code = "import torch\nkind = type(torch.nn.GRU(2, 2)).__name__\n"
    assert run_check(check(code, values={"kind": "GRU"})) == []
    assert "claims kind == 'LSTM'" in only_line(run_check(check(code, values={"kind": "LSTM"})))


def test_value_claim_on_multi_element_tensor_is_a_mismatch_not_a_crash() -> None:
    code = "import torch\nout = torch.zeros(3)\n"

    line = only_line(run_check(check(code, values={"out": 0.0})))

    assert "shape (3,)" in line


def test_snippet_output_is_not_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_check(check("print('noise from a check')\n", runs=True)) == []

    assert "noise from a check" not in capsys.readouterr().out


# --- warnings ---


def test_warns_claim_holds_when_torch_warns() -> None:
    assert run_check(check(DROPOUT_ONE_LAYER, runs=True, warns="UserWarning")) == []


def test_warns_claim_matches_a_base_category() -> None:
    assert run_check(check(DROPOUT_ONE_LAYER, runs=True, warns="Warning")) == []


def test_warns_claim_fails_when_torch_does_not_warn() -> None:
    line = only_line(run_check(check(DROPOUT_TWO_LAYERS, runs=True, warns="UserWarning")))

    assert "claims it warns UserWarning" in line
    assert "really runs" in line


def test_warns_claim_with_the_wrong_category_shows_the_real_warning() -> None:
    line = only_line(run_check(check(DROPOUT_ONE_LAYER, runs=True, warns="DeprecationWarning")))

    assert "claims it warns DeprecationWarning" in line
    assert "warns UserWarning" in line
    assert "dropout" in line


def test_warning_of_a_check_does_not_escape() -> None:
    # pytest turns escaped warnings into errors here (filterwarnings = error).
    assert run_check(check(DROPOUT_ONE_LAYER, runs=True)) == []


# --- answer_mismatches ---


BASE_SHAPE_QUESTION: dict[str, Any] = {
    "id": "q",
    "type": "tensor_shape",
    "difficulty": "easy",
    "tags": ["shapes"],
    "prompt": "What is the shape of `out`?",
    "answer": [4, 7, 6],
    "hints": ["Think."],
    "solution_steps": [{"title": "Step", "body": "Body."}],
    "final_answer": "(4, 7, 6)",
    "quick_check": "Check.",
    "common_mistakes": ["A mistake."],
    "check": {"code": RNN_CODE, "expect": {"shapes": {"out": [4, 7, 6]}}, "answer_from": "out"},
}


def question(**changes: Any) -> Any:
    data = copy.deepcopy(BASE_SHAPE_QUESTION)
    data.update(changes)
    return QuestionAdapter.validate_python(data)


def numeric(value: float, tolerance: float, claimed: Any) -> Any:
    return question(
        type="numeric",
        answer={"value": value, "tolerance": tolerance},
        check={"code": "n = 6\n", "expect": {"values": {"n": claimed}}, "answer_from": "n"},
    )


def test_answer_mismatches_tensor_shape_consistent() -> None:
    assert answer_mismatches(question()) == []


def test_answer_mismatches_tensor_shape_inconsistent() -> None:
    line = only_line(answer_mismatches(question(answer=[4, 7, 3])))

    assert "(4, 7, 3)" in line
    assert "out" in line


def test_answer_mismatches_needs_answer_from() -> None:
    data = copy.deepcopy(BASE_SHAPE_QUESTION)
    del data["check"]["answer_from"]
    assert answer_mismatches(question(answer=[1], check=data["check"])) == []
    assert answer_mismatches(question(answer=[1], check=None)) == []


def test_answer_mismatches_numeric_consistent() -> None:
    assert answer_mismatches(numeric(6, 0, 6)) == []
    assert answer_mismatches(numeric(0.3, 0.01, 0.305)) == []


def test_answer_mismatches_numeric_inconsistent() -> None:
    line = only_line(answer_mismatches(numeric(7, 0, 6)))
    assert "7" in line
    assert "n" in line
    assert only_line(answer_mismatches(numeric(0.3, 0.001, 0.305)))


def test_answer_mismatches_numeric_claim_that_is_not_a_number() -> None:
    assert only_line(answer_mismatches(numeric(6, 0, "six")))


def test_answer_from_on_a_short_text_question_is_reported() -> None:
    q = question(
        type="short_text",
        answer={"accepted": ["GRU"]},
        check={"code": "n = 6\n", "expect": {"values": {"n": 6}}, "answer_from": "n"},
    )
    assert "short_text" in only_line(answer_mismatches(q))


# --- what a snippet leaves behind ---


def test_a_check_that_imports_numpy_holds_and_its_tensors_keep_their_shapes() -> None:
    """The numpy module has a `shape` attribute (the function np.shape): it is no tensor."""
    code = "import numpy as np\nimport torch\nx = torch.zeros(2, 3)\nn = int(np.prod(x.shape))\n"

    assert run_check(check(code, shapes={"x": [2, 3]}, values={"n": 6})) == []


def test_only_tensors_are_reported_with_shapes_as_the_sandbox_reports_them() -> None:
    seen = observe(
        "import numpy as np\nimport torch\n"
        "t = torch.ones(4, 5)\narray = np.ones((2, 2))\nshape_function = np.shape\n"
    )

    assert seen.exception is None
    assert seen.shapes == {"t": [4, 5]}
