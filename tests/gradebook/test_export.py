"""The gradebook as CSV: its columns and values, and no formula reaching a spreadsheet."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from app.gradebook.export import COLUMNS, safe_cell
from tests.assignments.support import make_class
from tests.gradebook.support import fixed_assignment, sit


@pytest.mark.parametrize("text", ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_a_cell_a_spreadsheet_would_run_gets_an_apostrophe(text: str) -> None:
    assert safe_cell(text) == "'" + text


def test_plain_text_and_numbers_are_written_as_they_are() -> None:
    assert (safe_cell("Ada"), safe_cell(None), safe_cell(87.5), safe_cell(3)) == (
        "Ada",
        "",
        "87.5",
        "3",
    )


def test_the_csv_holds_every_learner_and_defuses_a_formula_name(app: FastAPI, db: Session) -> None:
    catalog = app.state.catalog
    group = make_class(db, learners=2, prefix="csv1")
    group.learners[1].display_name = '=HYPERLINK("http://evil.example","click")'
    db.flush()
    assignment = fixed_assignment(db, catalog, group.course, title="Week 1: RNNs")
    sit(db, catalog, assignment, group.learner_of(db, group.learners[0]), ["right"] * 3)
    owner = group.visitor(app, db, group.owner)
    base = f"/courses/{group.course.slug}/assignments/{assignment.public_id}/gradebook.csv"

    for url in (f"/api/v1{base}", base):
        answer = owner.client.get(url)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        disposition = answer.headers["content-disposition"]
        assert disposition == 'attachment; filename="gradebook-Week-1-RNNs.csv"'
        lines = list(csv.reader(io.StringIO(answer.text)))
        assert tuple(lines[0]) == COLUMNS
        by_email = {line[1]: line for line in lines[1:]}
        assert by_email["csv1-learner0@example.org"] == [
            "Learner 0",
            "csv1-learner0@example.org",
            "1",
            "75",
            "75",
            "",
            "75",
            "300",
            "2026-03-02T09:05:00+00:00",
        ]
        evil = by_email["csv1-learner1@example.org"]
        assert evil[0] == "'" + '=HYPERLINK("http://evil.example","click")'
        assert evil[2:] == ["0", "", "", "", "", "", ""]
