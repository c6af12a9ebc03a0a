"""The most common wrong answers to a numeric, shape or text question, so that a shared
misconception, or a wrong key, shows up as one big count.

Answers are normalised the way app.bank.grading reads them before counting: text as the
grader compares it case-insensitively (`normalise_text`: stripped, spaces collapsed,
backticks dropped, lower-cased), a shape as `parse_shape` reads it and `format_answer` writes
it ("(4, 7, 6)"), a number as `format_answer` writes it. Counting runs over the distinct
stored answers (np.unique counts), never once per answer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from app.bank.grading import format_answer, normalise_text, parse_shape
from app.core.errors import AnswerFormatError

FREE_ANSWER_TYPES = frozenset({"numeric", "tensor_shape", "short_text"})
SHOWN = 10


@dataclass(frozen=True)
class WrongAnswer:
    answer: str
    count: int


def normalised(question_type: str, given: Any) -> str:
    """A stored answer as it is counted."""
    if question_type == "short_text":
        return normalise_text(str(given), case_sensitive=False)
    if question_type == "tensor_shape":
        try:
            return format_answer(parse_shape(given))
        except AnswerFormatError:
            return normalise_text(str(given), case_sensitive=False)
    return format_answer(given)


def wrong_answers(
    question_type: str,
    codes: npt.NDArray[np.int64],
    correct: npt.NDArray[np.bool_],
    values: list[Any],
) -> list[WrongAnswer]:
    """The SHOWN most common wrong answers among `codes` (answer codes into `values`, -1 for
    none), most common first, ties in the order of the answer."""
    if question_type not in FREE_ANSWER_TYPES:
        return []
    wrong = codes[(codes >= 0) & ~correct]
    distinct, counts = np.unique(wrong, return_counts=True)
    tally: Counter[str] = Counter()
    for code, count in zip(distinct.tolist(), counts.tolist(), strict=True):
        tally[normalised(question_type, values[code])] += count
    ranked = sorted(tally.items(), key=lambda item: (-item[1], item[0]))
    return [WrongAnswer(answer, count) for answer, count in ranked[:SHOWN]]
