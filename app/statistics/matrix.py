"""The attempts-by-items score matrix, and the per-item figures over it. Pure numpy.

An item is the question version an attempt drew: a question's version, and for a
parameterised question one variant of it (its own version row, with its seed), so figures
are never pooled across an edit or across variants.

Random draws: an attempt holds only the items it drew. A drawn item left unanswered scores 0
(a submitted attempt is graded whole, as Moodle does), but an item the attempt never drew is
NOT a 0: it is absent (`present` is False). So each item's figures are computed over the
attempts that contain it, with the rest of the test being those attempts' other items, and
the test's figures over each attempt's total as a share of the questions it drew. Moodle
does the same with random questions: each sub-question's figures come from the attempts
where its slot drew it. When every attempt drew the same items the per-item figures equal
app.statistics.items.quiz_statistics on the whole matrix (each question is worth 1 mark,
app.attempts.records.percent_of). Cronbach's alpha needs one matrix of the same questions:
the items' when complete, else the attempts' positions (Moodle's per-slot reading of a random
quiz) when all attempts drew as many questions, else n/a.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from app.statistics.data import Bools, Columns, Floats, Ints
from app.statistics.intervals import Z95, Interval, fisher_z, wilson
from app.statistics.items import (
    Figure,
    QuestionStatistics,
    TestStatistics,
    correlation,
    discriminative_efficiency,
    test_statistics,
)

Matrix = npt.NDArray[np.float64]
Codes = npt.NDArray[np.int64]
_ZERO = 1e-12  # as app.statistics.items: variance below this is rounding noise


@dataclass(frozen=True)
class ScoreMatrix:
    """Rows: submitted attempts (ordered by learner, then attempt number); columns: items.
    `fractions` is 0 where an item is absent or unanswered; `present` tells them apart."""

    items: list[int]  # per column, the version drawn (a variant's own)
    sessions: Ints
    learners: Ints
    attempts: Ints
    first: Bools
    fractions: Matrix
    present: Bools
    given: Codes  # index into given_values, -1 where unanswered or absent
    given_values: list[Any]
    by_position: Matrix | None  # marks per position, when every attempt drew as many

    @property
    def totals(self) -> Floats:
        """Each attempt's marks (every question is worth 1)."""
        return np.asarray(self.fractions.sum(axis=1), dtype=np.float64)

    @property
    def lengths(self) -> Ints:
        return np.asarray(self.present.sum(axis=1), dtype=np.int64)

    def only(self, rows: Bools) -> ScoreMatrix:
        """These attempts, and the items at least one of them drew."""
        present = self.present[rows]
        mask = present.any(axis=0)
        keep: list[bool] = np.asarray(mask, dtype=bool).tolist()
        return replace(
            self,
            items=[d for d, kept in zip(self.items, keep, strict=True) if kept],
            sessions=self.sessions[rows],
            learners=self.learners[rows],
            attempts=self.attempts[rows],
            first=self.first[rows],
            fractions=self.fractions[rows][:, mask],
            present=present[:, mask],
            given=self.given[rows][:, mask],
            by_position=self.by_position[rows] if self.by_position is not None else None,
        )


def score_matrix(columns: Columns) -> ScoreMatrix:
    """The matrix from the query's columns: np.unique and fancy indexing, no loop per answer."""
    sessions, first_row, row = np.unique(columns.session, return_index=True, return_inverse=True)
    learners, attempts = columns.learner[first_row], columns.attempt[first_row]
    order = np.lexsort((attempts, learners))  # rows by learner, then attempt number
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    row = rank[row.reshape(-1)]
    distinct, item = np.unique(columns.drawn, return_inverse=True)
    item = item.reshape(-1)
    shape = (len(sessions), len(distinct))
    fractions = np.zeros(shape)
    fractions[row, item] = np.nan_to_num(columns.score, nan=0.0)
    present = np.zeros(shape, dtype=bool)
    present[row, item] = True
    given = np.full(shape, -1, dtype=np.int64)
    given[row, item] = columns.given
    return ScoreMatrix(
        items=distinct.tolist(),
        sessions=sessions[order],
        learners=learners[order],
        attempts=attempts[order],
        first=columns.first[first_row][order],
        fractions=fractions,
        present=present,
        given=given,
        given_values=columns.given_values,
        by_position=_by_position(columns, row, len(sessions)),
    )


def _by_position(columns: Columns, row: Ints, attempts: int) -> Matrix | None:
    lengths = np.bincount(row, minlength=attempts)
    if attempts == 0 or not np.all(lengths == lengths[0]):
        return None
    marks = np.zeros((attempts, int(lengths[0])))
    marks[row, columns.position - 1] = np.nan_to_num(columns.score, nan=0.0)
    return marks


def question_statistics(
    matrix: ScoreMatrix, guesses: list[float | None]
) -> list[QuestionStatistics]:
    """Moodle's per-question figures, each over the attempts that drew the question."""
    totals = matrix.totals
    roots = [_root_covariance(matrix, j, totals) for j in range(len(matrix.items))]
    sum_roots = sum(r for r in roots if r is not None)
    shares = 1.0 / np.maximum(matrix.lengths, 1)
    result = []
    for j, guess in enumerate(guesses):
        rows = matrix.present[:, j]
        mark, rest = matrix.fractions[rows, j], totals[rows] - matrix.fractions[rows, j]
        n = len(mark)
        discrimination = correlation(mark, rest)
        root = roots[j]
        effective = root / sum_roots if root is not None and sum_roots > _ZERO else None
        result.append(
            QuestionStatistics(
                n=n,
                facility=share_figure(mark),
                standard_deviation=Figure(_sd(mark), n),
                random_guess_score=guess,
                intended_weight=float(shares[rows].mean()) if n else None,
                effective_weight=Figure(effective, n),
                discrimination_index=Figure(discrimination, n, fisher_z(discrimination, n)),
                discriminative_efficiency=Figure(discriminative_efficiency(mark, rest), n),
            )
        )
    return result


def _root_covariance(matrix: ScoreMatrix, j: int, totals: Floats) -> float | None:
    """sqrt(C(x_j, T)) over the item's attempts; None where undefined or negative."""
    rows = matrix.present[:, j]
    mark, total = matrix.fractions[rows, j], totals[rows]
    if len(mark) < 2 or _covariance(total, total) <= _ZERO:
        return None
    covariance = _covariance(mark, total)
    return math.sqrt(covariance) if covariance >= 0 else None


def whole_test(matrix: ScoreMatrix) -> TestStatistics:
    """The test's figures; see the module docstring for which matrix alpha reads. The mean
    carries a normal 95% interval over the attempts' shares."""
    shares = matrix.totals / np.maximum(matrix.lengths, 1)
    if matrix.present.all():
        test = test_statistics(matrix.fractions, float(matrix.fractions.shape[1]))
    elif matrix.by_position is not None:
        test = test_statistics(matrix.by_position, float(matrix.by_position.shape[1]))
    else:
        # Attempts of different lengths: totals as shares, one column, so alpha is n/a.
        test = test_statistics(shares.reshape(-1, 1), 1.0)
    return replace(test, mean=replace(test.mean, interval=mean_interval(shares)))


def share_figure(values: Matrix) -> Figure:
    """A mean of scores 0..1: Wilson when every score is 0 or 1, else the normal interval
    mean ± 1.96 SD/√n (partial credit has no count of successes)."""
    n = len(values)
    if n == 0:
        return Figure(None, 0)
    mean = float(values.mean())
    if np.all((values == 0) | (values == 1)):
        return Figure(mean, n, wilson(int(values.sum()), n))
    return Figure(mean, n, mean_interval(values))


def mean_interval(values: Matrix, low: float = 0.0, high: float = 1.0) -> Interval | None:
    """mean ± 1.96 SD/√n, kept within the values' possible range [low, high]."""
    sd = _sd(values)
    if sd is None:
        return None
    half = Z95 * sd / math.sqrt(len(values))
    mean = float(values.mean())
    return Interval(max(low, mean - half), min(high, mean + half))


@dataclass(frozen=True)
class LearnerScores:
    """An item's score per learner who met it: first, last and best, averaged over them."""

    learners: int
    first: Figure
    last: Figure
    best: Figure
    attempts_per_learner: Figure


def learner_scores(matrix: ScoreMatrix, j: int) -> LearnerScores:
    """Over ALL of the matrix's attempts (rows are ordered by learner, then attempt)."""
    rows = np.nonzero(matrix.present[:, j])[0]
    learners, scores = matrix.learners[rows], matrix.fractions[rows, j]
    if len(rows) == 0:
        none = Figure(None, 0)
        return LearnerScores(0, none, none, none, none)
    distinct, starts, counts = np.unique(learners, return_index=True, return_counts=True)
    ends = starts + counts - 1
    n = len(distinct)
    per_learner = counts.astype(np.float64)
    return LearnerScores(
        learners=n,
        first=share_figure(scores[starts]),
        last=share_figure(scores[ends]),
        best=share_figure(np.maximum.reduceat(scores, starts)),
        attempts_per_learner=Figure(
            float(per_learner.mean()), n, mean_interval(per_learner, 1.0, math.inf)
        ),
    )


def _sd(values: Matrix) -> float | None:
    if len(values) < 2:
        return None
    return math.sqrt(_covariance(values, values))


def _covariance(x: Matrix, y: Matrix) -> float:
    return float(np.sum((x - x.mean()) * (y - y.mean())) / (len(x) - 1))
