"""Item and test statistics with Moodle's definitions.

Source: MoodleDocs "Quiz statistics calculations" (developer docs) and
Moodle's question/classes/statistics. Notation: S attempts, P questions,
x_i(s) the marks of attempt s on question i (fraction * max mark w_i),
T(s) = Σ_i x_i(s) the total, X_i(s) = T(s) - x_i(s) the rest of the test.
V and C are sample variance and covariance, with divisor S - 1.

Missing answers: Moodle analyses finished attempts only, where a question
left unanswered is graded 0, so None/NaN counts as a score of 0 here.

Per question (all as fractions; Moodle shows them * 100):
- facility F_i = mean(x_i) / w_i;
- standard deviation SD_i = sqrt(V(x_i)) / w_i;
- random guess score: given by the caller (it depends on the question type);
- intended weight w_i / Σ_j w_j;
- effective weight sqrt(C(x_i, T)) / Σ_j sqrt(C(x_j, T)), summing over the
  questions with C(x_j, T) >= 0; n/a for a question with C(x_i, T) < 0;
- discrimination index D_i = C(x_i, X_i) / sqrt(V(x_i) V(X_i)), correlation
  with the REST of the test so an item does not correlate with itself;
- discriminative efficiency DE_i = C(x_i, X_i) / C_max(x_i, X_i), where
  C_max is the covariance after sorting x_i and X_i independently, the
  largest covariance those two sets of scores could have.

Per test (totals as a fraction of Σ w_i):
- mean, median, SD = sqrt(V(T));
- with m_r = Σ (T - mean)^r / S: k2 = S/(S-1) m2,
  k3 = S²/((S-1)(S-2)) m3, k4 = S²/((S-1)(S-2)(S-3)) ((S+1) m4 - 3(S-1) m2²),
  skewness = k3 / k2^(3/2), kurtosis = k4 / k2² (excess: normal is 0);
- Cronbach's alpha (coefficient of internal consistency)
  CIC = P/(P-1) · (1 - Σ_i V(x_i) / V(T));
- error ratio ER = sqrt(1 - CIC); standard error SE = ER · SD.

A figure that is undefined (one attempt, zero variance, one question, no
data) is None, shown as "n/a", never NaN and never an exception.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.statistics.intervals import Interval, feldt, fisher_z, wilson

Matrix = npt.NDArray[np.float64]
# Variances below this are rounding noise on 0..1 scores, not spread.
_ZERO = 1e-12


@dataclass(frozen=True)
class Figure:
    """One statistic with the number of attempts behind it."""

    value: float | None
    n: int
    interval: Interval | None = None


@dataclass(frozen=True)
class QuestionStatistics:
    n: int
    facility: Figure
    standard_deviation: Figure
    random_guess_score: float | None
    intended_weight: float | None
    effective_weight: Figure
    discrimination_index: Figure
    discriminative_efficiency: Figure


@dataclass(frozen=True)
class TestStatistics:
    n: int
    mean: Figure
    median: Figure
    standard_deviation: Figure
    skewness: Figure
    kurtosis: Figure
    cronbach_alpha: Figure
    error_ratio: Figure
    standard_error: Figure


@dataclass(frozen=True)
class QuizStatistics:
    questions: list[QuestionStatistics]
    test: TestStatistics


def quiz_statistics(
    scores: Sequence[Sequence[float | None]],
    max_marks: Sequence[float],
    random_guess_scores: Sequence[float | None] | None = None,
) -> QuizStatistics:
    """Moodle's statistics for one row of fractions 0..1 per attempt."""
    fractions = score_matrix(scores, len(max_marks))
    weights = _weights(max_marks)
    guesses = _guesses(random_guess_scores, len(max_marks))
    marks = fractions * weights
    totals = marks.sum(axis=1)
    effective = effective_weights(marks, totals)
    questions = [
        _question(fractions[:, i], marks[:, i], totals, weights, i, guesses[i], effective[i])
        for i in range(len(weights))
    ]
    return QuizStatistics(questions, test_statistics(marks, float(weights.sum())))


def score_matrix(scores: Sequence[Sequence[float | None]], questions: int) -> Matrix:
    """Fractions as an attempts-by-questions array, missing answers as 0."""
    rows = []
    for number, row in enumerate(scores, start=1):
        if len(row) != questions:
            raise ValueError(f"attempt {number} has {len(row)} scores, expected {questions}")
        rows.append([_fraction(value, number) for value in row])
    return np.array(rows, dtype=np.float64).reshape(len(rows), questions)


def _fraction(value: float | None, attempt: int) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 0.0
    if not 0 <= value <= 1:
        raise ValueError(f"attempt {attempt} has score {value}, expected a fraction 0..1")
    return float(value)


def _weights(max_marks: Sequence[float]) -> Matrix:
    for number, mark in enumerate(max_marks, start=1):
        if not mark > 0 or math.isinf(mark):
            raise ValueError(f"question {number} has max mark {mark}, expected a positive number")
    return np.array(max_marks, dtype=np.float64)


def _guesses(given: Sequence[float | None] | None, questions: int) -> list[float | None]:
    if given is None:
        return [None] * questions
    if len(given) != questions:
        raise ValueError(f"{len(given)} random guess scores for {questions} questions")
    return list(given)


def _question(
    fraction: Matrix,
    mark: Matrix,
    totals: Matrix,
    weights: Matrix,
    index: int,
    guess: float | None,
    effective: float | None,
) -> QuestionStatistics:
    n = len(fraction)
    rest = totals - mark
    discrimination = correlation(mark, rest)
    return QuestionStatistics(
        n=n,
        facility=Figure(_mean(fraction), n, facility_interval(fraction)),
        standard_deviation=Figure(_sd(fraction), n),
        random_guess_score=guess,
        intended_weight=float(weights[index] / weights.sum()),
        effective_weight=Figure(effective, n),
        discrimination_index=Figure(discrimination, n, fisher_z(discrimination, n)),
        discriminative_efficiency=Figure(discriminative_efficiency(mark, rest), n),
    )


def facility_interval(fraction: Matrix) -> Interval | None:
    """Wilson for right/wrong questions; partial credit has no count of successes."""
    if len(fraction) == 0 or not np.all((fraction == 0) | (fraction == 1)):
        return None
    return wilson(int(fraction.sum()), len(fraction))


def effective_weights(marks: Matrix, totals: Matrix) -> list[float | None]:
    """Moodle's effective weight of each question, None where undefined."""
    questions = marks.shape[1]
    if len(totals) < 2 or _variance(totals) is None:
        return [None] * questions
    covariances = [_covariance(marks[:, i], totals) for i in range(questions)]
    roots = [math.sqrt(c) if c >= 0 else None for c in covariances]
    total = sum(root for root in roots if root is not None)
    if total <= _ZERO:
        return [None] * questions
    return [root / total if root is not None else None for root in roots]


def correlation(x: Matrix, y: Matrix) -> float | None:
    """Pearson correlation, None when either side has no spread."""
    vx, vy = _variance(x), _variance(y)
    if vx is None or vy is None:
        return None
    return _clip(_covariance(x, y) / math.sqrt(vx * vy))


def discriminative_efficiency(mark: Matrix, rest: Matrix) -> float | None:
    """C(x, X) over the covariance of x and X each sorted ascending."""
    if _variance(mark) is None or _variance(rest) is None:
        return None
    best = _covariance(np.sort(mark), np.sort(rest))
    if best <= _ZERO:
        return None
    return _covariance(mark, rest) / best


def test_statistics(marks: Matrix, total_marks: float) -> TestStatistics:
    """Whole-test figures, totals expressed as a fraction of total_marks."""
    n = marks.shape[0]
    # With no questions there is no total to speak of, not a total of 0.
    totals = marks.sum(axis=1) / total_marks if total_marks > 0 else np.zeros(0)
    sd = _sd(totals)
    alpha = cronbach_alpha(marks)
    error_ratio = math.sqrt(1 - alpha) if alpha is not None else None
    standard_error = error_ratio * sd if error_ratio is not None and sd is not None else None
    return TestStatistics(
        n=n,
        mean=Figure(_mean(totals), n),
        median=Figure(float(np.median(totals)) if len(totals) else None, n),
        standard_deviation=Figure(sd, n),
        skewness=Figure(skewness(totals), n),
        kurtosis=Figure(kurtosis(totals), n),
        cronbach_alpha=Figure(alpha, n, feldt(alpha, n, marks.shape[1])),
        error_ratio=Figure(error_ratio, n),
        standard_error=Figure(standard_error, n),
    )


def cronbach_alpha(marks: Matrix) -> float | None:
    """P/(P-1) (1 - Σ V(x_i) / V(T)); None for one question or no spread."""
    attempts, questions = marks.shape
    if questions < 2 or attempts < 2:
        return None
    total_variance = _variance(marks.sum(axis=1))
    if total_variance is None:
        return None
    item_variances = sum((_covariance(marks[:, i], marks[:, i]) for i in range(questions)), 0.0)
    return float(questions / (questions - 1) * (1 - item_variances / total_variance))


def skewness(totals: Matrix) -> float | None:
    """k3 / k2^(3/2) with Moodle's (and SAS/Excel's) sample corrections."""
    s = len(totals)
    m2 = _central_moment(totals, 2)
    if s < 3 or m2 is None:
        return None
    k2 = s / (s - 1) * m2
    k3 = s * s / ((s - 1) * (s - 2)) * _moment(totals, 3)
    return float(k3 / k2**1.5)


def kurtosis(totals: Matrix) -> float | None:
    """Excess kurtosis k4 / k2² with Moodle's sample corrections."""
    s = len(totals)
    m2 = _central_moment(totals, 2)
    if s < 4 or m2 is None:
        return None
    k2 = s / (s - 1) * m2
    m4 = _moment(totals, 4)
    k4 = s * s / ((s - 1) * (s - 2) * (s - 3)) * ((s + 1) * m4 - 3 * (s - 1) * m2 * m2)
    return float(k4 / (k2 * k2))


def _central_moment(values: Matrix, power: int) -> float | None:
    if len(values) == 0:
        return None
    moment = _moment(values, power)
    return moment if moment > _ZERO else None


def _moment(values: Matrix, power: int) -> float:
    return float(np.mean((values - values.mean()) ** power))


def _mean(values: Matrix) -> float | None:
    return float(values.mean()) if len(values) else None


def _sd(values: Matrix) -> float | None:
    if len(values) < 2:
        return None
    return math.sqrt(_covariance(values, values))


def _variance(values: Matrix) -> float | None:
    """Sample variance, None when it is zero or there is only one value."""
    if len(values) < 2:
        return None
    variance = _covariance(values, values)
    return variance if variance > _ZERO else None


def _covariance(x: Matrix, y: Matrix) -> float:
    return float(np.sum((x - x.mean()) * (y - y.mean())) / (len(x) - 1))


def _clip(r: float) -> float:
    # Rounding can push a perfect correlation just past ±1.
    return max(-1.0, min(1.0, r))
