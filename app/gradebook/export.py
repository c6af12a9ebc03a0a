"""The gradebook as CSV: the same lines as the page and the API, one per learner.

A spreadsheet runs a cell that starts with = + - @ (or a tab or carriage return) as a
formula: a learner named "=HYPERLINK(...)" would put a link, or worse, in the instructor's
sheet. Such a cell is written with a leading apostrophe, which spreadsheets show as text.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

from app.gradebook.service import Gradebook, GradeRow

COLUMNS = (
    "learner name",
    "email",
    "attempts",
    "best",
    "latest",
    "override",
    "final grade",
    "time taken seconds",
    "submitted at",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_cell(value: object) -> str:
    """A cell's text, defused when a spreadsheet would read it as a formula. Numbers are ours
    (never negative), so only text can start with a formula's sign."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _line(row: GradeRow) -> list[str]:
    best, latest = row.best, row.latest
    cells: list[object] = [
        row.name,
        row.email,
        len(row.attempts),
        best.grade if best else None,
        latest.grade if latest else None,
        row.override.percent if row.override else None,
        row.final,
        best.seconds if best else None,
        best.submitted_at if best else None,
    ]
    return [safe_cell(cell) for cell in cells]


def gradebook_csv(book: Gradebook) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in book.rows:
        writer.writerow(_line(row))
    return out.getvalue()


def filename(book: Gradebook) -> str:
    """An ASCII file name from the assignment's title (header-safe)."""
    stem = _UNSAFE_NAME.sub("-", book.assignment.title).strip("-.")[:60] or "assignment"
    return f"gradebook-{stem}.csv"
