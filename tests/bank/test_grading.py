"""Grading of every question type, on small in-memory questions. No database."""

from __future__ import annotations

from typing import Any

import pytest

from app.bank.grading import (
    SHAPE_FORMS,
    Grade,
    format_answer,
    grade,
    letter,
    parse_number,
    parse_shape,
)
from app.bank.schema import MultipleSelect, Numeric, ShortText, SingleChoice, TensorShape
from app.core.errors import AnswerFormatError

COMMON: dict[str, Any] = {
    "difficulty": "easy",
    "tags": ["grading"],
    "prompt": "A question.",
    "hints": ["A hint."],
    "solution_steps": [{"title": "Step", "body": "Body."}],
    "final_answer": "The answer.",
    "quick_check": "A check.",
    "common_mistakes": ["A mistake."],
}


def options(correct: list[bool]) -> list[dict[str, Any]]:
    return [
        {"text": f"Option {i}", "correct": flag, "feedback": f"Feedback {i}."}
        for i, flag in enumerate(correct)
    ]


def single_choice(correct_index: int = 1, count: int = 4) -> SingleChoice:
    flags = [i == correct_index for i in range(count)]
    return SingleChoice.model_validate(
        {**COMMON, "id": "sc", "type": "single_choice", "options": options(flags)}
    )


def multiple_select(correct: list[bool]) -> MultipleSelect:
    return MultipleSelect.model_validate(
        {**COMMON, "id": "ms", "type": "multiple_select", "options": options(correct)}
    )


def numeric(value: float, tolerance: float = 0.0) -> Numeric:
    return Numeric.model_validate(
        {
            **COMMON,
            "id": "num",
            "type": "numeric",
            "answer": {"value": value, "tolerance": tolerance},
        }
    )


def tensor_shape(answer: list[int]) -> TensorShape:
    return TensorShape.model_validate(
        {**COMMON, "id": "shape", "type": "tensor_shape", "answer": answer}
    )


def short_text(accepted: list[str], case_sensitive: bool = False) -> ShortText:
    return ShortText.model_validate(
        {
            **COMMON,
            "id": "text",
            "type": "short_text",
            "answer": {"accepted": accepted, "case_sensitive": case_sensitive},
        }
    )


def assert_right(result: Grade) -> None:
    assert result.correct is True
    assert result.score == 1.0


def assert_wrong(result: Grade) -> None:
    assert result.correct is False
    assert result.score == 0.0


def test_letters() -> None:
    assert [letter(i) for i in range(7)] == list("ABCDEFG")


# --- single choice ---


def test_single_choice_right() -> None:
    result = grade(single_choice(correct_index=1), "B")
    assert_right(result)
    assert result.given == "B"


def test_single_choice_wrong() -> None:
    result = grade(single_choice(correct_index=1), "C")
    assert_wrong(result)
    assert result.given == "C"


@pytest.mark.parametrize("raw", ["b", " B ", ["B"], ("b",)])
def test_single_choice_lowercase_spaced_or_one_item_list(raw: Any) -> None:
    result = grade(single_choice(correct_index=1), raw)
    assert_right(result)
    assert result.given == "B"


@pytest.mark.parametrize("raw", ["E", "e", "Z", "1", "AB", "?", "é"])
def test_single_choice_out_of_range_letter_is_a_format_error(raw: str) -> None:
    with pytest.raises(AnswerFormatError) as info:
        grade(single_choice(count=4), raw)
    assert "A, B, C, D" in info.value.message
    assert info.value.field == "answer"


def test_single_choice_seventh_letter_is_valid_with_seven_options() -> None:
    assert_right(grade(single_choice(correct_index=6, count=7), "G"))
    with pytest.raises(AnswerFormatError):
        grade(single_choice(correct_index=6, count=7), "H")


@pytest.mark.parametrize("raw", ["", None, [], [""]])
def test_single_choice_empty_is_a_format_error(raw: Any) -> None:
    with pytest.raises(AnswerFormatError):
        grade(single_choice(), raw)


@pytest.mark.parametrize("raw", [["A", "B"], ["B", "B"], ("A", "B")])
def test_single_choice_two_picks_is_a_format_error(raw: Any) -> None:
    with pytest.raises(AnswerFormatError):
        grade(single_choice(correct_index=1), raw)


# --- multiple select: right picks / right options - wrong picks / wrong options, >= 0 ---

# A, C and D are right; B and E are wrong.
THREE_RIGHT = [True, False, True, True, False]


@pytest.mark.parametrize(
    ("picks", "score"),
    [
        pytest.param(["A"], 1 / 3, id="1right"),
        pytest.param(["A", "C"], 2 / 3, id="2right"),
        pytest.param(["A", "C", "B"], 2 / 3 - 1 / 2, id="2right-1wrong"),
        pytest.param(["A", "B"], 0.0, id="1right-1wrong"),
        pytest.param(["B"], 0.0, id="1wrong-floored"),
        pytest.param(["B", "E"], 0.0, id="2wrong-floored"),
        pytest.param(["A", "B", "E"], 0.0, id="1right-2wrong-floored"),
    ],
)
def test_multiple_select_partial_credit_rule(picks: list[str], score: float) -> None:
    result = grade(multiple_select(THREE_RIGHT), picks)

    assert result.correct is False
    assert result.score == pytest.approx(score)
    assert result.score >= 0.0


@pytest.mark.parametrize("picks", [["A", "C", "D"], ["d", "a", "c"], ["A", "C", "D", "a"]])
def test_multiple_select_exact_set_is_correct(picks: list[str]) -> None:
    result = grade(multiple_select(THREE_RIGHT), picks)

    assert_right(result)
    assert result.given == ["A", "C", "D"]


def test_multiple_select_single_string_pick() -> None:
    result = grade(multiple_select([False, True, False]), "B")
    assert_right(result)
    assert result.given == ["B"]


@pytest.mark.parametrize(
    "correct",
    [
        pytest.param([True, False], id="1right-1wrong"),
        pytest.param([True, True, False, False], id="2right-2wrong"),
        pytest.param([True, False, False, True, False], id="2right-3wrong"),
    ],
)
def test_multiple_select_all_boxes_ticked_scores_zero(correct: list[bool]) -> None:
    every_box = [letter(i) for i in range(len(correct))]

    result = grade(multiple_select(correct), every_box)

    assert_wrong(result)


def test_multiple_select_all_boxes_ticked_scores_zero_with_more_right_than_wrong() -> None:
    result = grade(multiple_select(THREE_RIGHT), list("ABCDE"))

    assert result.score == 0.0


@pytest.mark.parametrize("raw", [[], [""], [None], "", None])
def test_multiple_select_no_pick_is_a_format_error(raw: Any) -> None:
    with pytest.raises(AnswerFormatError) as info:
        grade(multiple_select(THREE_RIGHT), raw)
    assert "at least one" in info.value.message


@pytest.mark.parametrize("raw", [["A", "F"], ["A,C"], ["AC"]])
def test_multiple_select_unknown_letter_is_a_format_error(raw: list[str]) -> None:
    with pytest.raises(AnswerFormatError):
        grade(multiple_select(THREE_RIGHT), raw)


# --- numeric ---


@pytest.mark.parametrize(
    "raw",
    ["15493", " 15493 ", "15,493", "15,493.0", "1.5493e4", "15_493", 15493, 15493.0, ["15493"]],
)
def test_numeric_accepted_forms(raw: Any) -> None:
    result = grade(numeric(15493), raw)

    assert_right(result)
    assert result.given == 15493
    assert isinstance(result.given, int)


def test_numeric_scientific_notation() -> None:
    assert parse_number("1.5e4") == 15000.0
    assert parse_number("-2.5E-3") == -0.0025
    assert parse_number("1,234,567.5") == 1234567.5


def test_numeric_exact_answer_off_by_one_is_wrong() -> None:
    result = grade(numeric(15493), "15494")
    assert_wrong(result)
    assert result.given == 15494


@pytest.mark.parametrize(
    ("raw", "right"),
    [
        ("0.3", True),
        ("0.305", True),
        ("0.29", True),
        ("0.31", True),  # on the edge: |0.31 - 0.3| == tolerance
        ("0.2899", False),
        ("0.3101", False),
        ("-0.3", False),
    ],
)
def test_numeric_with_tolerance(raw: str, right: bool) -> None:
    result = grade(numeric(0.3, tolerance=0.01), raw)

    assert result.correct is right
    assert result.score == (1.0 if right else 0.0)


def test_numeric_float_answer_is_kept_as_float() -> None:
    assert grade(numeric(0.3, tolerance=0.01), "0.305").given == 0.305


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "",
        "   ",
        None,
        "15 493",
        "1,5",
        "12,34",
        "15,49,3",
        "1.2.3",
        "0x10",
        "15493%",
        [1, 2],
    ],
)
def test_numeric_garbage_is_a_format_error(raw: Any) -> None:
    with pytest.raises(AnswerFormatError) as info:
        grade(numeric(15493), raw)
    assert "number" in info.value.message


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-inf", "Infinity", "1e400", float("nan")])
def test_numeric_nan_and_inf_are_format_errors(raw: Any) -> None:
    with pytest.raises(AnswerFormatError) as info:
        grade(numeric(15493), raw)
    assert "finite" in info.value.message


@pytest.mark.parametrize("raw", [True, False, [True]])
def test_numeric_booleans_are_format_errors(raw: Any) -> None:
    with pytest.raises(AnswerFormatError):
        grade(numeric(1), raw)


# --- tensor shape ---


@pytest.mark.parametrize(
    "raw",
    [
        "4,7,6",
        "4, 7, 6",
        " 4 , 7 , 6 ",
        "[4, 7, 6]",
        "(4, 7, 6)",
        "(4, 7, 6,)",
        "torch.Size([4, 7, 6])",
        "torch.Size([4,7,6])",
        [4, 7, 6],
        (4, 7, 6),
        ["4, 7, 6"],
    ],
)
def test_tensor_shape_accepted_forms(raw: Any) -> None:
    result = grade(tensor_shape([4, 7, 6]), raw)

    assert_right(result)
    assert result.given == [4, 7, 6]


@pytest.mark.parametrize(
    ("raw", "dims"),
    [
        ("(4,)", [4]),
        ("4,", [4]),
        ("[4]", [4]),
        ("torch.Size([4])", [4]),
        ([4], [4]),
        ("()", []),
        ("[]", []),
        ("torch.Size([])", []),
        ("0, 3", [0, 3]),
    ],
)
def test_parse_shape_one_dim_and_zero_dim(raw: Any, dims: list[int]) -> None:
    assert parse_shape(raw) == dims


def test_tensor_shape_wrong_shape_is_a_wrong_grade() -> None:
    result = grade(tensor_shape([4, 7, 6]), "(7, 4, 6)")
    assert_wrong(result)
    assert result.given == [7, 4, 6]


def test_tensor_shape_zero_dim_answer() -> None:
    assert_right(grade(tensor_shape([]), "torch.Size([])"))
    assert_wrong(grade(tensor_shape([]), "(1,)"))


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "4 7 6",
        "[4,7,6)",
        "(4, 7, 6]",
        "-1,2",
        "[-1, 2]",
        "4.5,2",
        "",
        "   ",
        None,
        "4,,6",
        "[[4, 7, 6]]",
        "torch.Size(4, 7, 6)",
        "torch.Size([4, 7, 6]",
        "Size([4, 7, 6])",
        "\uff14,\uff17",  # full-width digits
        "1" * 201,
        [-1, 2],
        [4, True],
        True,
    ],
)
def test_tensor_shape_garbage_is_a_format_error_naming_the_forms(raw: Any) -> None:
    with pytest.raises(AnswerFormatError) as info:
        grade(tensor_shape([4, 7, 6]), raw)
    assert "torch.Size" in info.value.message
    assert info.value.field == "answer"


def test_shape_forms_message_lists_every_form() -> None:
    for form in ("4, 7, 6", "[4, 7, 6]", "(4, 7, 6)", "torch.Size([4, 7, 6])"):
        assert form in SHAPE_FORMS
        assert parse_shape(form) == [4, 7, 6]


@pytest.mark.parametrize("raw", ["(,)", "[,]", "torch.Size([,])"])
def test_tensor_shape_lone_comma_in_brackets_is_a_format_error(raw: str) -> None:
    try:
        dims = parse_shape(raw)
    except AnswerFormatError:
        return
    raise AssertionError(f"{raw!r} was read as the shape {dims}")


@pytest.mark.parametrize("dims", [[4, 7, 6], [5], [], [0], [1, 1, 1, 1], [10**6, 3]])
def test_format_answer_round_trips_through_parse_shape(dims: list[int]) -> None:
    text = format_answer(dims)

    assert isinstance(text, str)
    assert parse_shape(text) == dims


def test_format_answer_of_other_answers() -> None:
    assert format_answer(["A", "C"]) == "A, C"
    assert format_answer("B") == "B"
    assert format_answer(15493) == "15493"
    assert format_answer(None) == "nothing"
    assert parse_number(format_answer(15493)) == 15493


# --- short text ---


def test_short_text_each_accepted_form_is_right() -> None:
    question = short_text(["bidirectional=True", "bidirectional = True"])
    for answer in question.answer.accepted:
        assert_right(grade(question, answer))


def test_short_text_other_text_is_a_wrong_grade() -> None:
    result = grade(short_text(["GRU"]), "LSTM")
    assert_wrong(result)
    assert result.given == "LSTM"


def test_short_text_is_case_insensitive_by_default() -> None:
    assert_right(grade(short_text(["batch_first"]), "BATCH_FIRST"))
    assert_right(grade(short_text(["BATCH_FIRST"]), "batch_first"))


def test_short_text_case_sensitive() -> None:
    question = short_text(["h_n"], case_sensitive=True)
    assert_right(grade(question, "h_n"))
    assert_wrong(grade(question, "H_N"))


def test_short_text_whitespace_is_collapsed_and_trimmed() -> None:
    question = short_text(["pack padded sequence"])
    result = grade(question, "  pack \t padded\n  sequence  ")
    assert_right(result)
    assert result.given == "pack \t padded\n  sequence"


def test_short_text_backticks_are_stripped() -> None:
    assert_right(grade(short_text(["nn.GRU"]), "`nn.GRU`"))
    assert_right(grade(short_text(["`nn.GRU`"]), "nn.GRU"))
    assert_right(grade(short_text(["nn.GRU"]), " ` nn.GRU ` "))


def test_short_text_one_item_list_and_numbers() -> None:
    assert_right(grade(short_text(["GRU"]), ["gru"]))
    assert_right(grade(short_text(["2"]), 2))


@pytest.mark.parametrize("raw", ["", "   ", "\n\t", None, [], ["a", "b"], True, {"a": 1}])
def test_short_text_empty_or_not_text_is_a_format_error(raw: Any) -> None:
    with pytest.raises(AnswerFormatError):
        grade(short_text(["GRU"]), raw)


def test_short_text_over_500_characters_is_a_format_error() -> None:
    question = short_text(["x" * 500])
    assert_right(grade(question, "x" * 500))
    with pytest.raises(AnswerFormatError) as info:
        grade(question, "x" * 501)
    assert "500" in info.value.message


# --- short text graded as an index expression (answer.index_of) ---


def index_answer(
    accepted: list[str], tensor: str = "h_n", shape: list[int] | None = None
) -> ShortText:
    return ShortText.model_validate(
        {
            **COMMON,
            "id": "index",
            "type": "short_text",
            "answer": {
                "accepted": accepted,
                "index_of": {"tensor": tensor, "shape": shape or [4, 3, 16]},
            },
        }
    )


@pytest.mark.parametrize(
    "raw",
    [
        "h_n[-2]",
        "h_n[2]",
        "h_n[-2, :]",
        "h_n[2, :]",
        "h_n[-2,:]",
        "h_n[-2][:]",
        "h_n[-2, :, :]",
        "h_n[2, ...]",
        "h_n[..., :][-2]",
        "h_n[-2, 0:3, ::1]",
        "h_n[2:3][0]",
        "h_n[(-2,)]",
        "(h_n)[-2]",
        "`h_n[-2]`",
        "  h_n [ -2 ]  ",
        "h_n[--2]",
    ],
)
def test_an_index_answer_is_right_whenever_it_selects_the_same_elements_in_the_same_shape(
    raw: str,
) -> None:
    result = grade(index_answer(["h_n[-2]"]), raw)
    assert_right(result)
    assert result.given == raw.strip()


@pytest.mark.parametrize(
    "raw",
    [
        "h_n[-1]",  # another row
        "h_n[1]",
        "h_n[-2:-1]",  # the same elements, but shape (1, 3, 16)
        "h_n[2:]",
        "h_n[-2, :, :8]",  # part of the row
        "h_n[:, -2]",
        "h_n",  # the whole tensor
        "h_n[-2][None:None:2]",
    ],
)
def test_an_index_answer_that_selects_other_elements_or_another_shape_is_wrong(raw: str) -> None:
    assert_wrong(grade(index_answer(["h_n[-2]"]), raw))


def test_an_index_answer_names_the_tensor_exactly() -> None:
    question = index_answer(["h_n[-2]"])
    assert_wrong(grade(question, "H_N[-2]"))
    assert_wrong(grade(question, "hn[-2]"))
    assert_wrong(grade(question, "out[-2]"))


@pytest.mark.parametrize(
    "raw", ["h_n[4]", "h_n[-5]", "h_n[0, 3]", "h_n[0, 0, 0, 0]", "h_n[0][0][0][0]"]
)
def test_an_index_torch_refuses_for_this_shape_is_a_wrong_answer_not_a_format_error(
    raw: str,
) -> None:
    """Out of range, or more indices than dimensions: torch raises an IndexError, a mistake
    about the tensor worth recording, not a typo."""
    assert_wrong(grade(index_answer(["h_n[-2]"]), raw))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("h_n[-2", "not a Python expression"),
        ("h_n[]", "not a Python expression"),
        ("h_n[-2]; import os", "not a Python expression"),
        ("h_n[-2].sum()", "name followed by brackets"),
        ("h_n.T[-2]", "name followed by brackets"),
        ("__import__('os').system('true')", "name followed by brackets"),
        ("-2", "name followed by brackets"),
        ("[-2]", "name followed by brackets"),
        ("h_n[1.0]", "whole numbers"),
        ("h_n[True]", "whole numbers"),
        ("h_n[None]", "whole numbers"),
        ("h_n[[0, 1]]", "whole numbers"),
        ("h_n[i]", "whole numbers"),
        ("h_n[1 + 1]", "whole numbers"),
        ("h_n[len(h_n)]", "whole numbers"),
        ("h_n[..., ...]", "at most once"),
        ("h_n[::-1]", "step must be positive"),
        ("h_n[::0]", "step must be positive"),
    ],
)
def test_text_that_is_not_an_index_expression_is_a_format_error_saying_why(
    raw: str, reason: str
) -> None:
    with pytest.raises(AnswerFormatError) as info:
        grade(index_answer(["h_n[-2]"]), raw)
    assert info.value.message.startswith("write an indexing expression on `h_n`: ")
    assert reason in info.value.message


def test_deeply_nested_index_text_is_a_format_error_not_a_crash() -> None:
    question = index_answer(["h_n[-2]"])
    with pytest.raises(AnswerFormatError):
        grade(question, "h_n[" + "(" * 240 + "2" + ")" * 240 + "]")
    assert_right(grade(question, "h_n[" + "-" * 250 + "2]"))  # an even number of minus signs


def test_an_index_answer_matches_any_of_its_accepted_expressions() -> None:
    question = index_answer(["out[:, -1, :16]", "out[:, 0, 16:]"], tensor="out", shape=[3, 10, 32])
    assert_right(grade(question, "out[:, 9, 0:16]"))
    assert_right(grade(question, "out[..., 0, 16:32]"))
    assert_wrong(grade(question, "out[:, -1]"))


def test_an_index_answer_is_stored_as_written() -> None:
    result = grade(index_answer(["h_n[-2]"]), "h_n[2, ...]")
    assert result.given == "h_n[2, ...]"
    assert format_answer(result.given) == "h_n[2, ...]"
