"""Moodle's quiz statistics against figures worked out by hand.

The fixture: 6 attempts, 4 questions, max marks 1, 1, 1, 2, right/wrong.

    attempt  Q1 Q2 Q3 Q4   total marks T
    A         1  1  1  1   5
    B         1  1  0  1   4
    C         1  0  1  0   2
    D         1  1  0  0   2
    E         0  1  0  0   1
    F         1  0  0  0   1

Mean total 15/6 = 2.5; deviations 2.5, 1.5, -0.5, -0.5, -1.5, -1.5, so
V(T) = (6.25 + 2.25 + 0.25 + 0.25 + 2.25 + 2.25) / 5 = 13.5 / 5.
"""

import math

import pytest

from app.statistics.intervals import f_quantile, feldt, fisher_z, wilson
from app.statistics.items import quiz_statistics

SCORES = [
    [1, 1, 1, 1],
    [1, 1, 0, 1],
    [1, 0, 1, 0],
    [1, 1, 0, 0],
    [0, 1, 0, 0],
    [1, 0, 0, 0],
]
MAX_MARKS = [1, 1, 1, 2]
GUESSES = [0.25, 0.5, 0.25, 0.0]
VARIANCE_OF_TOTALS = 13.5 / 5
# Σ V(x_i): Q1 has 5 ones, Q2 4, Q3 2, Q4 2 (marks 2): Σ(x - mean)² / 5.
ITEM_VARIANCES = [
    (5 * (1 / 6) ** 2 + (5 / 6) ** 2) / 5,
    (4 * (1 / 3) ** 2 + 2 * (2 / 3) ** 2) / 5,
    (2 * (2 / 3) ** 2 + 4 * (1 / 3) ** 2) / 5,
    (2 * (4 / 3) ** 2 + 4 * (2 / 3) ** 2) / 5,
]
ALPHA = 4 / 3 * (1 - sum(ITEM_VARIANCES) / VARIANCE_OF_TOTALS)


def approx(value: float) -> object:
    return pytest.approx(value, abs=1e-9)


@pytest.fixture
def stats():
    return quiz_statistics(SCORES, MAX_MARKS, GUESSES)


def test_facility_is_each_questions_mean_fraction(stats):
    facilities = [q.facility.value for q in stats.questions]
    assert facilities == [approx(5 / 6), approx(4 / 6), approx(2 / 6), approx(2 / 6)]
    assert all(q.facility.n == 6 for q in stats.questions)


def test_question_standard_deviation_is_the_sample_sd_of_the_fraction(stats):
    q1 = math.sqrt((5 * (1 / 6) ** 2 + (5 / 6) ** 2) / 5)
    q4 = math.sqrt((2 * (2 / 3) ** 2 + 4 * (1 / 3) ** 2) / 5)
    assert stats.questions[0].standard_deviation.value == approx(q1)
    assert stats.questions[3].standard_deviation.value == approx(q4)


def test_random_guess_score_and_intended_weight_come_from_the_inputs(stats):
    assert [q.random_guess_score for q in stats.questions] == GUESSES
    weights = [q.intended_weight for q in stats.questions]
    assert weights == [approx(1 / 5), approx(1 / 5), approx(1 / 5), approx(2 / 5)]


def test_effective_weight_is_the_root_covariance_with_the_total_over_their_sum(stats):
    # Σ x_i (T - 2.5) per question; the divisor 5 cancels in the ratio.
    covariances = [
        2.5 + 1.5 - 0.5 - 0.5 - 1.5,
        2.5 + 1.5 - 0.5 - 1.5,
        2.5 - 0.5,
        2 * (2.5 + 1.5),
    ]
    roots = [math.sqrt(c) for c in covariances]
    expected = [root / sum(roots) for root in roots]
    assert [q.effective_weight.value for q in stats.questions] == [approx(e) for e in expected]


def test_discrimination_index_correlates_a_question_with_the_rest_of_the_test(stats):
    # Q1: x = 1,1,1,1,0,1 (mean 5/6), rest X = 4,3,1,1,1,0 (mean 5/3).
    covariance = (1 / 6) * (7 / 3) + (1 / 6) * (4 / 3) + 2 * (1 / 6) * (-2 / 3)
    covariance += (-5 / 6) * (-2 / 3) + (1 / 6) * (-5 / 3)
    variance_x = (5 * (1 / 6) ** 2 + (5 / 6) ** 2) / 5
    variance_rest = ((7 / 3) ** 2 + (4 / 3) ** 2 + 3 * (2 / 3) ** 2 + (5 / 3) ** 2) / 5
    expected = (covariance / 5) / math.sqrt(variance_x * variance_rest)
    assert stats.questions[0].discrimination_index.value == approx(expected)
    assert covariance / 5 == approx(2 / 15)


def test_discrimination_index_of_a_weighted_question_uses_its_marks(stats):
    # Q4: x = 2,2,0,0,0,0 (mean 2/3), rest X = 3,2,2,2,1,1 (mean 11/6).
    covariance = (4 / 3) * (7 / 6) + (4 / 3) * (1 / 6)
    covariance += 2 * (-2 / 3) * (1 / 6) + 2 * (-2 / 3) * (-5 / 6)
    variance_x = 2 * (4 / 3) ** 2 + 4 * (2 / 3) ** 2
    variance_rest = (7 / 6) ** 2 + 3 * (1 / 6) ** 2 + 2 * (5 / 6) ** 2
    expected = covariance / math.sqrt(variance_x * variance_rest)
    assert stats.questions[3].discrimination_index.value == approx(expected)


def test_discriminative_efficiency_divides_by_the_covariance_of_sorted_scores(stats):
    # Q1 sorted: x = 0,1,1,1,1,1 and X = 0,1,1,1,3,4.
    best = (-5 / 6) * (-5 / 3) + (1 / 6) * (3 * (-2 / 3) + 4 / 3 + 7 / 3)
    actual = 2 / 3
    assert stats.questions[0].discriminative_efficiency.value == approx(actual / best)
    assert approx(2 / 5) == actual / best


def test_discrimination_carries_a_fisher_interval_and_facility_a_wilson_interval(stats):
    q1 = stats.questions[0]
    assert q1.discrimination_index.interval == fisher_z(q1.discrimination_index.value, 6)
    assert q1.facility.interval == wilson(5, 6)


def test_test_mean_median_and_sd_are_fractions_of_the_total_marks(stats):
    test = stats.test
    assert test.n == 6
    assert test.mean.value == approx(15 / 6 / 5)
    assert test.median.value == approx((2 + 2) / 2 / 5)
    assert test.standard_deviation.value == approx(math.sqrt(VARIANCE_OF_TOTALS) / 5)


def test_skewness_and_excess_kurtosis_use_moodles_sample_corrections(stats):
    m2 = 13.5 / 6
    m3 = (2.5**3 + 1.5**3 - 2 * 0.5**3 - 2 * 1.5**3) / 6
    m4 = (2.5**4 + 1.5**4 + 2 * 0.5**4 + 2 * 1.5**4) / 6
    k2 = 6 / 5 * m2
    k3 = 36 / (5 * 4) * m3
    k4 = 36 / (5 * 4 * 3) * (7 * m4 - 3 * 5 * m2**2)
    assert stats.test.skewness.value == approx(k3 / k2**1.5)
    assert stats.test.kurtosis.value == approx(k4 / k2**2)
    assert k4 / k2**2 == approx(-7.5 / 2.7**2)


def test_cronbach_alpha_error_ratio_and_standard_error(stats):
    assert approx(112 / 243) == ALPHA
    assert stats.test.cronbach_alpha.value == approx(ALPHA)
    interval, expected = stats.test.cronbach_alpha.interval, feldt(ALPHA, 6, 4)
    assert interval is not None and expected is not None
    assert (interval.low, interval.high) == (approx(expected.low), approx(expected.high))
    assert stats.test.error_ratio.value == approx(math.sqrt(1 - ALPHA))
    expected_error = math.sqrt(1 - ALPHA) * math.sqrt(VARIANCE_OF_TOTALS) / 5
    assert stats.test.standard_error.value == approx(expected_error)


def test_a_missing_answer_counts_as_zero_as_in_moodle():
    with_gaps = [[None if v == 0 else v for v in row] for row in SCORES]
    with_gaps[0][0] = float("nan")
    zeroed = [row[:] for row in SCORES]
    zeroed[0][0] = 0
    assert quiz_statistics(with_gaps, MAX_MARKS) == quiz_statistics(zeroed, MAX_MARKS)


def test_partial_credit_facility_has_no_wilson_interval():
    stats = quiz_statistics([[0.5, 1], [1, 0], [0, 1]], [1, 1])
    assert stats.questions[0].facility.value == approx(0.5)
    assert stats.questions[0].facility.interval is None
    assert stats.questions[1].facility.interval == wilson(2, 3)


def _figures(stats) -> list[float | None]:
    values = []
    for question in stats.questions:
        values += [
            question.facility.value,
            question.standard_deviation.value,
            question.effective_weight.value,
            question.discrimination_index.value,
            question.discriminative_efficiency.value,
        ]
    test = stats.test
    for figure in (test.mean, test.median, test.standard_deviation, test.skewness):
        values.append(figure.value)
    for figure in (test.kurtosis, test.cronbach_alpha, test.error_ratio, test.standard_error):
        values.append(figure.value)
    return values


def _no_nan(stats) -> bool:
    return all(v is None or math.isfinite(v) for v in _figures(stats))


def test_everyone_right_gives_facility_one_and_na_for_spread_based_figures():
    stats = quiz_statistics([[1, 1, 1]] * 5, [1, 1, 1])
    assert [q.facility.value for q in stats.questions] == [1, 1, 1]
    assert all(q.discrimination_index.value is None for q in stats.questions)
    assert all(q.discriminative_efficiency.value is None for q in stats.questions)
    assert all(q.effective_weight.value is None for q in stats.questions)
    assert stats.test.cronbach_alpha.value is None
    assert stats.test.skewness.value is None and stats.test.kurtosis.value is None
    assert stats.questions[0].facility.interval == wilson(5, 5)
    assert _no_nan(stats)


def test_a_single_attempt_gives_its_score_and_na_for_everything_else():
    stats = quiz_statistics([[1, 0, 0.5]], [1, 1, 2])
    assert stats.test.n == 1
    assert stats.test.mean.value == approx(2 / 4)
    assert stats.test.standard_deviation.value is None
    assert stats.questions[0].standard_deviation.value is None
    assert stats.questions[0].discrimination_index.value is None
    assert stats.test.cronbach_alpha.value is None
    assert _no_nan(stats)


def test_equal_totals_give_na_for_alpha_and_effective_weight():
    # Every total is 1 but the items vary: V(T) = 0.
    stats = quiz_statistics([[1, 0], [0, 1], [1, 0], [0, 1]], [1, 1])
    assert stats.test.standard_deviation.value == 0
    assert stats.test.cronbach_alpha.value is None
    assert stats.test.error_ratio.value is None
    assert stats.test.skewness.value is None
    assert all(q.effective_weight.value is None for q in stats.questions)
    assert stats.questions[0].discrimination_index.value == approx(-1)
    assert _no_nan(stats)


def test_one_question_only_has_no_rest_so_no_discrimination_or_alpha():
    stats = quiz_statistics([[1], [0], [1], [1]], [1])
    assert stats.questions[0].facility.value == approx(3 / 4)
    assert stats.questions[0].discrimination_index.value is None
    assert stats.questions[0].discriminative_efficiency.value is None
    assert stats.questions[0].effective_weight.value == approx(1)
    assert stats.test.cronbach_alpha.value is None
    assert _no_nan(stats)


def test_empty_input_gives_na_everywhere():
    stats = quiz_statistics([], [1, 1])
    assert stats.test.n == 0
    assert all(value is None for value in _figures(stats))
    assert stats.questions[0].facility.interval is None


def test_no_questions_at_all_gives_na_everywhere():
    stats = quiz_statistics([[], []], [])
    assert stats.questions == []
    assert stats.test.n == 2
    assert all(value is None for value in _figures(stats))


@pytest.mark.parametrize(
    ("scores", "max_marks", "message"),
    [
        ([[1, 2]], [1, 1], "attempt 1 has score 2"),
        ([[1]], [1, 1], "attempt 1 has 1 scores, expected 2"),
        ([[1]], [0], "question 1 has max mark 0"),
        ([[-0.5]], [1], "attempt 1 has score -0.5"),
    ],
)
def test_bad_input_raises_an_error_naming_the_problem(scores, max_marks, message):
    with pytest.raises(ValueError, match=message):
        quiz_statistics(scores, max_marks)


def test_wilson_for_8_of_10_matches_the_published_interval():
    # Wilson (1927); Newcombe (1998) table: 8/10 -> 0.4902 to 0.9433.
    interval = wilson(8, 10)
    assert interval is not None
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.4902, 0.9433)


def test_wilson_for_0_of_10_starts_at_zero():
    interval = wilson(0, 10)
    assert interval is not None
    assert interval.low == 0
    assert round(interval.high, 4) == 0.2775


def test_fisher_z_for_r_half_over_50_pairs_matches_the_textbook_interval():
    # atanh(0.5) = 0.5493, ± 1.96 / sqrt(47): tanh gives 0.2575 to 0.6833.
    interval = fisher_z(0.5, 50)
    assert interval is not None
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.2575, 0.6833)


def test_fisher_z_needs_more_than_three_pairs_and_an_imperfect_correlation():
    assert fisher_z(0.5, 3) is None
    assert fisher_z(1.0, 100) is None
    assert fisher_z(None, 100) is None


def test_f_quantiles_match_printed_f_tables():
    assert round(f_quantile(0.975, 10, 20), 4) == 2.7737
    assert round(f_quantile(0.975, 20, 10), 4) == 3.4185
    assert round(f_quantile(0.95, 5, 10), 4) == 3.3258


def test_feldt_interval_uses_the_f_quantiles_of_n_minus_1_and_n_minus_1_times_k_minus_1():
    # 11 attempts, 3 items, alpha 0.8: F(.975; 10, 20) = 2.7737, F(.975; 20, 10) = 3.4185.
    interval = feldt(0.8, 11, 3)
    assert interval is not None
    assert round(interval.low, 3) == round(1 - 0.2 * 2.7737, 3)
    assert round(interval.high, 3) == round(1 - 0.2 / 3.4185, 3)


def test_feldt_is_na_for_one_item_or_perfect_alpha():
    assert feldt(0.8, 10, 1) is None
    assert feldt(1.0, 10, 5) is None
    assert feldt(None, 10, 5) is None
