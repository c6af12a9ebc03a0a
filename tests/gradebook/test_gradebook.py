"""The gradebook's lines: best, latest, late penalty, in progress, staff left out, overdue
attempts counted, the per-question distribution, and a query count that does not grow."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.attempts import records
from app.core.db import utcnow
from app.gradebook import service
from tests.assignments.support import attempt, make_class
from tests.gradebook.support import MULTIPLE, T0, answer, fixed_assignment, position_of, sit


def _rows(app: FastAPI, db: Session, group, assignment) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    owner = group.visitor(app, db, group.owner)
    url = f"/api/v1/courses/{group.course.slug}/assignments/{assignment.public_id}/gradebook"
    answer_ = owner.client.get(url)
    assert answer_.status_code == 200, answer_.text
    return {row["name"]: row for row in answer_.json()["rows"]}


def test_each_learner_has_attempts_best_and_latest_grades(app: FastAPI, db: Session) -> None:
    catalog = app.state.catalog
    group = make_class(db, learners=3, prefix="gb1")
    assignment = fixed_assignment(db, catalog, group.course)
    first, _idle, busy = (group.learner_of(db, u) for u in group.learners)
    sit(db, catalog, assignment, first, ["right", "right", "right", "wrong"], start=T0)
    later = T0 + timedelta(hours=1)
    sit(
        db, catalog, assignment, first, ["right", "wrong", "wrong", "wrong"], start=later, minutes=7
    )
    sit(db, catalog, assignment, busy, ["right"], start=T0, minutes=None)

    rows = _rows(app, db, group, assignment)

    assert set(rows) == {"Learner 0", "Learner 1", "Learner 2"}
    done = rows["Learner 0"]
    assert (done["attempts"], done["best"], done["latest"], done["final"]) == (2, 75.0, 25.0, 75.0)
    assert done["time_taken_seconds"] == 300  # the best attempt's: five minutes
    assert done["submitted_at"].startswith("2026-03-02T09:05:00")
    assert [a["grade"] for a in done["attempt_list"]] == [75.0, 25.0]
    idle = rows["Learner 1"]
    assert (idle["attempts"], idle["best"], idle["final"], idle["in_progress"]) == (
        0,
        None,
        None,
        False,
    )
    busy_row = rows["Learner 2"]
    assert busy_row["attempts"] == 1 and busy_row["in_progress"] is True
    assert busy_row["best"] is None and busy_row["attempt_list"][0]["grade"] is None


def test_a_late_attempt_is_graded_less_the_late_penalty(app: FastAPI, db: Session) -> None:
    catalog = app.state.catalog
    group = make_class(db, learners=2, prefix="gb2")
    closes = T0.isoformat()
    assignment = fixed_assignment(
        db, catalog, group.course, closes_at=closes, late="penalty", late_penalty_percent=20
    )
    on_time, late = (group.learner_of(db, u) for u in group.learners)
    sit(db, catalog, assignment, on_time, ["right"] * 4, start=T0 - timedelta(hours=1))
    sit(db, catalog, assignment, late, ["right"] * 4, start=T0 + timedelta(hours=1))

    rows = _rows(app, db, group, assignment)

    assert rows["Learner 0"]["best"] == 100.0
    late_row = rows["Learner 1"]
    assert late_row["best"] == 80.0 and late_row["final"] == 80.0
    assert late_row["attempt_list"][0]["score"] == 100.0
    assert late_row["attempt_list"][0]["late"] is True


def test_staff_attempts_are_left_out_of_lines_and_distribution(app: FastAPI, db: Session) -> None:
    catalog = app.state.catalog
    group = make_class(db, learners=1, prefix="gb3")
    assignment = fixed_assignment(db, catalog, group.course)
    owner = group.learner_of(db, group.owner)
    sit(db, catalog, assignment, owner, ["wrong"] * 4)
    sit(db, catalog, assignment, group.learner_of(db, group.learners[0]), ["right"] * 4)

    book = service.gradebook(db, assignment)

    assert [row.name for row in book.rows] == ["Learner 0"]
    assert all(q.answers == 1 and q.full == 1 for q in book.questions)


def test_an_overdue_open_attempt_counts_as_submitted_at_its_deadline(
    app: FastAPI, db: Session
) -> None:
    catalog = app.state.catalog
    group = make_class(db, learners=1, prefix="gb4")
    assignment = fixed_assignment(db, catalog, group.course, time_limit_minutes=10)
    started = utcnow() - timedelta(hours=1)
    learner = group.learner_of(db, group.learners[0])
    session = sit(db, catalog, assignment, learner, ["right", "right"], start=started, minutes=None)
    assert session.finished_at is None

    rows = _rows(app, db, group, assignment)

    row = rows["Learner 0"]
    assert row["in_progress"] is False and row["best"] == 50.0
    assert row["time_taken_seconds"] == 600  # submitted at its deadline: the time limit
    assert session.deadline_at is not None
    assert row["submitted_at"][:19] == session.deadline_at.isoformat()[:19]


def test_each_question_has_its_score_distribution(app: FastAPI, db: Session) -> None:
    catalog = app.state.catalog
    group = make_class(db, learners=3, prefix="gb5")
    assignment = fixed_assignment(db, catalog, group.course)
    a, b, c = (group.learner_of(db, u) for u in group.learners)
    scores_given = []
    for learner, how in ((a, "right"), (b, "wrong"), (c, "part")):
        session = attempt(db, catalog, assignment, learner, now=T0)
        position = position_of(session, db, MULTIPLE)
        scores_given.append(answer(db, catalog, session, position, how).score)  # type: ignore[arg-type]
        records.submit(db, session, T0 + timedelta(minutes=3))

    book = service.gradebook(db, assignment)

    (scores,) = book.questions
    assert scores.question == f"birnn/{MULTIPLE}"
    assert (scores.answers, scores.zero, scores.partial, scores.full) == (3, 1, 1, 1)
    assert 0 < scores_given[2] < 1
    assert scores.mean == round(sum(scores_given) / 3, 3)


def _statements(db: Session, assignment) -> int:  # type: ignore[no-untyped-def]
    count = 0

    def counted(*_args: object) -> None:
        nonlocal count
        count += 1

    connection = db.connection()
    event.listen(connection, "before_cursor_execute", counted)
    try:
        service.gradebook(db, assignment)
    finally:
        event.remove(connection, "before_cursor_execute", counted)
    return count


def test_the_gradebook_takes_as_many_queries_for_six_learners_as_for_one(
    app: FastAPI, db: Session
) -> None:
    catalog = app.state.catalog
    counts = []
    for size in (1, 6):
        group = make_class(db, learners=size, prefix=f"gb6-{size}")
        assignment = fixed_assignment(db, catalog, group.course)
        for user in group.learners:
            sit(db, catalog, assignment, group.learner_of(db, user), ["right", "wrong"])
        counts.append(_statements(db, assignment))
    assert counts[0] == counts[1] <= 4


def test_one_learners_line_is_their_row_of_the_whole_gradebook(app: FastAPI, db: Session) -> None:
    catalog = app.state.catalog
    group = make_class(db, learners=2, prefix="gb7")
    assignment = fixed_assignment(db, catalog, group.course, time_limit_minutes=10)
    first, second = (group.learner_of(db, u) for u in group.learners)
    sit(db, catalog, assignment, first, ["right", "right", "wrong", "wrong"], start=T0)
    overdue = utcnow() - timedelta(hours=1)  # still open: the read submits it first
    sit(db, catalog, assignment, second, ["right"], start=overdue, minutes=None)

    lines = [service.learner_grades(db, assignment, p.public_id) for p in (first, second)]

    assert lines == service.gradebook(db, assignment).rows  # the same rows, by name
    assert lines[0].best is not None and lines[0].best.grade == 50.0
    assert lines[1].in_progress is False and lines[1].final == 25.0
