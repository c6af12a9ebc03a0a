"""Option-level figures and wrong answers, pure: top and bottom 27%, shares, point-biserial
against the rest of the test, and the normalising of wrong answers.

The fixture: 10 attempts with totals 0..9 marks; this question is right (option A) in the
attempts with totals 3, 5, 6, 7, 8, 9. round(0.27 * 10) = 3 attempts per group: the bottom
(totals 0, 1, 2) chose B, C, B; the top (7, 8, 9) chose A, A, A.
"""

import statistics

import numpy as np
import pytest

from app.statistics.intervals import fisher_z, wilson
from app.statistics.options import chosen_matrix, group_size, letters_of, option_statistics
from app.statistics.wrong_answers import normalised, wrong_answers

CHOICES = ["B", "C", "B", "A", "C", "A", "A", "A", "A", "A"]
OPTIONS = [{"text": t, "correct": t == "right"} for t in ("right", "wrong 1", "wrong 2", "wrong 3")]


@pytest.fixture
def options():  # type: ignore[no-untyped-def]
    values = ["A", "B", "C"]
    codes = np.array([values.index(c) for c in CHOICES])
    chosen = chosen_matrix(codes, values, 4)
    marks = np.array([1.0 if c == "A" else 0.0 for c in CHOICES])
    return option_statistics(chosen, marks, np.arange(10, dtype=float), OPTIONS)


def test_kelley_groups_are_27_percent_rounded() -> None:
    assert [group_size(n) for n in (1, 2, 10, 100, 370)] == [0, 1, 3, 27, 100]


def test_each_options_share_overall_and_in_the_top_and_bottom_27_percent(options) -> None:  # type: ignore[no-untyped-def]
    a, b, c, d = options
    assert [o.letter for o in options] == ["A", "B", "C", "D"]
    assert (a.correct, b.correct) == (True, False)
    assert (a.share.value, a.top_share.value, a.bottom_share.value) == (0.6, 1.0, 0.0)
    assert (b.share.value, b.top_share.value, b.bottom_share.value) == (0.2, 0.0, 2 / 3)
    assert (c.share.value, c.bottom_share.value) == (0.2, 1 / 3)
    assert (d.share.value, d.top_share.n, d.bottom_share.n) == (0.0, 3, 3)
    assert a.share.interval == wilson(6, 10) and b.top_share.interval == wilson(0, 3)


def test_the_point_biserial_correlates_choosing_with_the_rest_of_the_test(options) -> None:  # type: ignore[no-untyped-def]
    rest = [0, 1, 2, 2, 4, 4, 5, 6, 7, 8]  # totals minus this question's mark
    picked_a = [1.0 if c == "A" else 0.0 for c in CHOICES]
    expected = statistics.correlation(picked_a, rest)
    a = options[0]
    assert a.point_biserial.value == pytest.approx(expected, abs=1e-12)
    assert a.point_biserial.interval == fisher_z(a.point_biserial.value, 10)
    assert options[3].point_biserial.value is None  # nobody chose D: n/a


def test_multiple_select_answers_choose_every_letter_they_hold() -> None:
    values = [["A", "C"], "B", None]
    chosen = chosen_matrix(np.array([0, 1, 2, -1]), values, 3)
    assert chosen.tolist() == [[True, False, True], [False, True, False], [False] * 3, [False] * 3]
    assert letters_of(None) == frozenset()


def test_answers_are_normalised_as_the_grader_reads_them() -> None:
    assert normalised("short_text", "  `Foo   Bar` ") == "foo bar"
    assert normalised("tensor_shape", [4, 7, 6]) == "(4, 7, 6)"
    assert normalised("tensor_shape", "torch.Size([4, 7, 6])") == "(4, 7, 6)"
    assert normalised("tensor_shape", "not a shape") == "not a shape"
    assert normalised("numeric", 15493) == "15493"


def test_wrong_answers_count_only_wrong_ones_and_keep_the_ten_most_common() -> None:
    values = [f"answer {n}" for n in range(12)] + ["ANSWER 0 ", "right"]
    codes = np.array([*range(12), 12, 12, 13, -1])
    correct = np.array([False] * 15 + [False])
    correct[14] = True
    got = wrong_answers("short_text", codes, correct, values)
    assert got[0].answer == "answer 0" and got[0].count == 3
    assert len(got) == 10 and all(w.answer != "right" for w in got)
    assert wrong_answers("single_choice", codes, correct, values) == []
