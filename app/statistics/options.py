"""Option-level figures of a choice question: who chose each option, and how that relates to
the rest of the test.

Kelley's groups, as Moodle and most item-analysis texts use them: the attempts that drew the
question, ranked by their total marks, the top and bottom 27% (round(0.27 n) attempts each,
ties broken by the attempts' order). Per option: the share choosing it overall, in the top
group and in the bottom group (Wilson intervals), and its point-biserial correlation with
the REST of the test (the attempt's marks without this question), with a Fisher z interval.
An option is chosen when its letter is the answer (single choice) or among the letters
(multiple select); `given` stores the file's canonical letters, whatever order was shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from app.bank.grading import letter
from app.statistics.intervals import fisher_z, wilson
from app.statistics.items import Figure, correlation

KELLEY = 0.27
Chosen = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class OptionStatistics:
    letter: str
    text: str
    correct: bool
    share: Figure
    top_share: Figure
    bottom_share: Figure
    point_biserial: Figure


def letters_of(given: Any) -> frozenset[str]:
    """The letters an answer chose: "B" -> {B}; ["A", "C"] -> {A, C}; nothing -> {}."""
    if isinstance(given, str):
        return frozenset({given})
    if isinstance(given, list):
        return frozenset(g for g in given if isinstance(g, str))
    return frozenset()


def chosen_matrix(codes: npt.NDArray[np.int64], values: list[Any], options: int) -> Chosen:
    """attempts x options: whether each attempt chose each option. One lookup table over the
    distinct answers, indexed by every attempt's answer code."""
    table = np.zeros((len(values) + 1, options), dtype=bool)  # the last row: no answer
    for index, value in enumerate(values):
        picked = letters_of(value)
        table[index] = [letter(o) in picked for o in range(options)]
    return table[np.where(codes < 0, len(values), codes)]


def group_size(n: int) -> int:
    return round(KELLEY * n)


def option_statistics(
    chosen: Chosen,
    marks: npt.NDArray[np.float64],
    totals: npt.NDArray[np.float64],
    options: list[dict[str, Any]],
) -> list[OptionStatistics]:
    """Per option, over the attempts that drew the question (`marks` its score in each,
    `totals` each attempt's marks)."""
    n = len(marks)
    k = group_size(n)
    order = np.argsort(totals, kind="stable")
    bottom, top = order[:k], order[n - k :] if k else order[:0]
    rest = totals - marks
    result = []
    for o, option in enumerate(options):
        picks = chosen[:, o]
        r = correlation(picks.astype(np.float64), rest)
        result.append(
            OptionStatistics(
                letter=letter(o),
                text=str(option.get("text", "")),
                correct=bool(option.get("correct", False)),
                share=_share(picks),
                top_share=_share(picks[top]),
                bottom_share=_share(picks[bottom]),
                point_biserial=Figure(r, n, fisher_z(r, n)),
            )
        )
    return result


def _share(picks: Chosen) -> Figure:
    n = len(picks)
    if n == 0:
        return Figure(None, 0)
    chosen = int(picks.sum())
    return Figure(chosen / n, n, wilson(chosen, n))
