"""An assignment's submitted attempts as columns of numpy arrays: ONE query per assignment.

The query returns one row per submitted attempt: who, which attempt, whether it is the
learner's first (a window function), the versions it DREW (`version_ids`, in order) and its
answers aggregated: slots and scores joined by commas, the given answers as a JSON array
(PostgreSQL's string_agg and json_agg, SQLite's group_concat and json_group_array). Numpy
then lays every drawn slot out as one entry: a question drawn but left unanswered has no
score (0 later, as Moodle grades a submitted attempt), while a question an attempt never
drew has no entry at all.

Only test sessions of this assignment that were submitted count: practice never mixes in,
and previews and verify runs make no sessions. The course's staff are left out (a learner
whose account has a course_staff row for the assignment's course). The first-attempt mark
lets the same rows serve "first attempt" figures and the per-learner first, last and best
scores, which need every attempt.

Why per attempt and not per answer: in bench/item_stats.py 400,000 answers as 400,000 rows
took 7 s (the join, the driver, the rows, the per-row values); 10,000 rows whose texts are
joined and parsed by one json.loads per column take under 1.5 s in all. The question, its
version and a variant's seed are the drawn version's, read once per distinct version
(app.statistics.service). Distinct `given` answers are few, so they are numbered
(`Columns.given`) and parsed once each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import text
from sqlalchemy.orm import Session

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

# Per dialect: numbers joined by commas, and texts as one JSON array.
_NUMBERS = {
    "postgresql": "string_agg(CAST({} AS TEXT), ',')",
    "sqlite": "group_concat({}, ',')",
}
_TEXTS = {"postgresql": "json_agg({})", "sqlite": "json_group_array({})"}

_QUERY = """
WITH submitted AS (
    SELECT s.id, s.learner_id, s.attempt, s.version_ids,
           CASE WHEN s.attempt = MIN(s.attempt) OVER (PARTITION BY s.learner_id)
                THEN 1 ELSE 0 END AS is_first
    FROM quiz_sessions s
    JOIN learners l ON l.id = s.learner_id
    WHERE s.assignment_id = :assignment_id
      AND s.mode = 'test'
      AND s.finished_at IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM course_staff cs
          WHERE cs.course_id = :course_id AND cs.user_id = l.user_id
      )
),
answered AS (
    SELECT a.session_id,
           {slots} AS slots,
           {scores} AS scores,
           {givens} AS givens
    FROM answers a
    JOIN submitted s ON s.id = a.session_id
    WHERE a.slot IS NOT NULL
    GROUP BY a.session_id
)
SELECT s.id, s.learner_id, s.attempt, s.is_first, CAST(s.version_ids AS TEXT),
       x.slots, x.scores, CAST(x.givens AS TEXT)
FROM submitted s
LEFT JOIN answered x ON x.session_id = s.id
"""


@dataclass(frozen=True)
class Columns:
    """One entry per drawn slot of a submitted attempt. `score` is NaN where unanswered;
    `given` numbers the distinct answers of `given_values` (-1 where unanswered)."""

    session: Ints
    learner: Ints
    attempt: Ints
    first: Bools
    drawn: Ints  # the version the attempt drew (a variant's own)
    position: Ints  # 1-based
    score: Floats
    given: Ints
    given_values: list[Any]

    def __len__(self) -> int:
        return len(self.session)


def query_for(dialect: str) -> str:
    name = dialect if dialect in _NUMBERS else "sqlite"
    numbers = _NUMBERS[name]
    return _QUERY.format(
        slots=numbers.format("a.slot"),
        scores=numbers.format("a.score"),
        givens=_TEXTS[name].format("CAST(a.given AS TEXT)"),
    )


def attempt_rows(db: Session, assignment_id: int, course_id: int | None) -> Columns:
    """Every drawn slot of the assignment's submitted, non-staff attempts."""
    sql = text(query_for(db.get_bind().dialect.name))
    rows = db.execute(sql, {"assignment_id": assignment_id, "course_id": course_id}).all()
    return columns_of([tuple(row) for row in rows])


def columns_of(rows: list[tuple[Any, ...]]) -> Columns:
    """The per-attempt rows laid out per drawn slot, with numpy (np.repeat, indexing)."""
    transposed = list(zip(*rows, strict=True)) if rows else [()] * 8
    session, learner, attempt, first, drawn_text, slots_text, scores_text, givens_text = transposed
    drawn_lists = _json_lists(drawn_text)
    slot_lists, score_lists = _number_lists(slots_text), _number_lists(scores_text)
    lengths = _lengths(drawn_lists)
    answered = _lengths(slot_lists)
    starts = (np.cumsum(lengths) - lengths).astype(np.int64)
    total = int(lengths.sum())
    drawn = _flat(drawn_lists, total)
    # Positions 1..L within each attempt, without a loop: a running count reset per attempt.
    position = np.arange(total, dtype=np.int64) - np.repeat(starts, lengths) + 1
    slots = _flat(slot_lists, int(answered.sum()))
    owner = np.repeat(np.arange(len(rows), dtype=np.int64), answered)
    inside = (slots >= 1) & (slots <= lengths[owner])  # a slot past the draw is ignored
    where = starts[owner[inside]] + slots[inside] - 1
    score = np.full(total, np.nan)
    score[where] = np.array(list(chain.from_iterable(score_lists)), dtype=np.float64)[inside]
    texts = list(chain.from_iterable(_json_lists(givens_text)))
    distinct = list(dict.fromkeys(texts))
    number = {t: i for i, t in enumerate(distinct)}
    codes = np.fromiter(map(number.__getitem__, texts), dtype=np.int64, count=len(texts))
    given = np.full(total, -1, dtype=np.int64)
    given[where] = codes[inside]
    per_attempt = (_ints(session), _ints(learner), _ints(attempt), np.array(first, dtype=bool))
    s, le, at, fi = (np.repeat(column, lengths) for column in per_attempt)
    return Columns(
        session=s,
        learner=le,
        attempt=at,
        first=fi,
        drawn=drawn,
        position=position,
        score=score,
        given=given,
        given_values=[json.loads(t) if t is not None else None for t in distinct],
    )


def _json_lists(texts: tuple[Any, ...]) -> list[list[Any]]:
    """Many JSON arrays (None for none) parsed by one json.loads of their concatenation."""
    return json.loads("[" + ",".join(t if t is not None else "[]" for t in texts) + "]")  # type: ignore[no-any-return]


def _number_lists(texts: tuple[Any, ...]) -> list[list[Any]]:
    """Comma-joined numbers (None for none), parsed as JSON arrays the same way."""
    return _json_lists(tuple(f"[{t}]" if t is not None else None for t in texts))


def _lengths(lists: list[list[Any]]) -> Ints:
    return np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))


def _flat(lists: list[list[Any]], count: int) -> Ints:
    return np.fromiter(chain.from_iterable(lists), dtype=np.int64, count=count)


def _ints(values: tuple[Any, ...]) -> Ints:
    return np.array(values, dtype=np.int64)
