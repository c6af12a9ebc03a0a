"""Flags for the instructor dashboard: a question that looks wrong, said in words. Pure.

"Only when the interval crosses the threshold" is read strictly: a flag is raised when the
WHOLE 95% interval lies on the flagged side of the threshold, so the data show the problem
beyond sampling noise (a value past the threshold with an interval straddling it is not
flagged). And never below the minimum sample:

- too easy: facility interval wholly above 0.9; too hard: wholly below 0.2; from N >= 30;
- discrimination index interval wholly below 0.2 ("discriminates poorly"), or wholly below 0
  ("check the key": strong learners get it wrong more often); from N >= 100;
- a distractor (a wrong option) chosen by under 5% (its share's interval wholly below 0.05),
  or chosen more by the top 27% than the bottom 27% (Newcombe's interval for the difference
  of the two shares, built from their Wilson intervals, wholly above 0); from N >= 100;
- a claim torch disagrees with: the version's latest verify run did not pass (any N);
- the author's difficulty against the measured facility, in bands easy F >= 0.7,
  medium 0.4 <= F < 0.7, hard F < 0.4: flagged when they are MORE than one band apart (an
  "easy" question measured hard, or a "hard" one measured easy; a "medium" one can never be),
  with the whole facility interval inside the far band, from N >= 30.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.statistics.intervals import Interval
from app.statistics.items import Figure

FACILITY_MINIMUM = 30
DISCRIMINATION_MINIMUM = 100
DISTRACTOR_MINIMUM = 100
TOO_EASY, TOO_HARD = 0.9, 0.2
LOW_DISCRIMINATION = 0.2
RARE_DISTRACTOR = 0.05
BANDS = ("easy", "medium", "hard")
EASY_FROM, MEDIUM_FROM = 0.7, 0.4


@dataclass(frozen=True)
class Flag:
    kind: str
    question: str  # the question as the page labels it
    message: str
    n: int


def facility_flags(question: str, facility: Figure) -> list[Flag]:
    interval = facility.interval
    if facility.n < FACILITY_MINIMUM or interval is None or facility.value is None:
        return []
    shown = _with_interval(facility)
    if interval.low > TOO_EASY:
        return [Flag("too-easy", question, f"too easy: facility {shown} is above 0.9", facility.n)]
    if interval.high < TOO_HARD:
        return [Flag("too-hard", question, f"too hard: facility {shown} is below 0.2", facility.n)]
    return []


def discrimination_flags(question: str, discrimination: Figure) -> list[Flag]:
    interval = discrimination.interval
    if discrimination.n < DISCRIMINATION_MINIMUM or interval is None:
        return []
    shown = _with_interval(discrimination)
    if interval.high < 0:
        message = (
            f"check the key: discrimination {shown} is below 0, "
            "learners who do well on the rest of the test get this one wrong more often"
        )
        return [Flag("check-key", question, message, discrimination.n)]
    if interval.high < LOW_DISCRIMINATION:
        message = f"discriminates poorly: discrimination {shown} is below 0.2"
        return [Flag("low-discrimination", question, message, discrimination.n)]
    return []


def distractor_flags(
    question: str,
    option: str,
    share: Figure,
    top: Figure,
    bottom: Figure,
) -> list[Flag]:
    """Flags for one WRONG option (the caller skips the right ones)."""
    n = share.n
    if n < DISTRACTOR_MINIMUM:
        return []
    flags = []
    if share.interval is not None and share.interval.high < RARE_DISTRACTOR:
        message = f"option {option} is hardly ever chosen: {_with_interval(share)} of attempts"
        flags.append(Flag("rare-distractor", question, message, n))
    difference = newcombe(top, bottom)
    if difference is not None and difference.low > 0:
        message = (
            f"option {option} (wrong) is chosen more by the top 27% ({_number(top.value)}) "
            f"than by the bottom 27% ({_number(bottom.value)})"
        )
        flags.append(Flag("distractor-attracts-strong", question, message, n))
    return flags


def newcombe(first: Figure, second: Figure) -> Interval | None:
    """Newcombe's (1998, method 10) interval for p1 - p2 from the two Wilson intervals."""
    a, b = first.interval, second.interval
    if a is None or b is None or first.value is None or second.value is None:
        return None
    p1, p2 = first.value, second.value
    low = p1 - p2 - math.sqrt((p1 - a.low) ** 2 + (b.high - p2) ** 2)
    high = p1 - p2 + math.sqrt((a.high - p1) ** 2 + (p2 - b.low) ** 2)
    return Interval(low, high)


def claim_flags(question: str, passed: bool | None, n: int) -> list[Flag]:
    """`passed`: the version's latest verify run (None when it was never verified)."""
    if passed is not False:
        return []
    message = "a claim disagrees with torch: the latest verify run of this version failed"
    return [Flag("claim-disagrees", question, message, n)]


def band_of(facility: float) -> str:
    if facility >= EASY_FROM:
        return "easy"
    return "medium" if facility >= MEDIUM_FROM else "hard"


def difficulty_flags(question: str, author: str | None, facility: Figure) -> list[Flag]:
    interval = facility.interval
    if (
        author not in BANDS
        or facility.n < FACILITY_MINIMUM
        or interval is None
        or facility.value is None
    ):
        return []
    low, high = band_of(interval.low), band_of(interval.high)
    if low != high:
        return []  # the interval spans a band boundary: not clear enough
    if abs(BANDS.index(author) - BANDS.index(low)) <= 1:
        return []
    message = (
        f"marked {author} but measured {low}: facility {_with_interval(facility)} "
        f"(easy from 0.7, hard below 0.4)"
    )
    return [Flag("difficulty-disagrees", question, message, facility.n)]


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _with_interval(figure: Figure) -> str:
    interval = figure.interval
    shown = _number(figure.value)
    if interval is None:
        return f"{shown} (N = {figure.n})"
    return f"{shown} (95% interval {interval.low:.2f} to {interval.high:.2f}, N = {figure.n})"
