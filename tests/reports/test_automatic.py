"""A grading or rendering exception opens a report by itself, on SQLite and PostgreSQL: once per
question version and exception type (occurrences counted, a fixed one reopened), written in a
transaction of its own while the request's own work is rolled back."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.errors import AnswerFormatError
from app.core.faults import reporting_errors
from app.learners.models import User
from app.reports.automatic import report_exception
from app.reports.models import ProblemReport, ReportMessage
from tests.reports.support import staffed_course


@pytest.fixture
def sessions(connection: Connection) -> Callable[[], Session]:
    """Sessions on the test's connection, as the app's own: their commits release savepoints."""
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


def shipped_version(app: FastAPI) -> int:
    return int(app.state.catalog.topic("birnn").questions[0].version_id)


def grade_badly(answer: str) -> float:
    return len(answer) / 0  # a real bug, raised by Python itself


def test_two_exceptions_of_one_version_are_one_report_counting_two(
    app: FastAPI, db: Session, sessions: Callable[[], Session]
) -> None:
    version_id = shipped_version(app)
    for given in ("B", "C"):
        with (
            pytest.raises(ZeroDivisionError),
            reporting_errors(sessions(), version_id, given, context="grading"),
        ):
            grade_badly(given)
    (report,) = db.scalars(select(ProblemReport)).all()
    assert report.kind == "exception" and report.learner_id is None
    assert report.exception_type == "builtins.ZeroDivisionError"
    assert report.occurrences == 2 and report.status == "open" and report.course_id is None
    assert report.given == "B", "the first occurrence's answer"
    prompt = app.state.catalog.version(db, version_id).prompt.split("\n")[0]
    assert prompt[:30] in report.rendered
    (message,) = db.scalars(select(ReportMessage)).all()
    assert message.body == "grading raised ZeroDivisionError: division by zero"


def test_another_exception_type_or_version_is_a_report_of_its_own(
    app: FastAPI, db: Session, sessions: Callable[[], Session]
) -> None:
    first, second = (q.version_id for q in app.state.catalog.topic("birnn").questions[:2])
    report_exception(sessions, first, ZeroDivisionError("x"), context="grading")
    report_exception(sessions, first, KeyError("x"), context="rendering")
    report_exception(sessions, second, KeyError("x"), context="rendering")
    found = db.execute(select(ProblemReport.version_id, ProblemReport.exception_type)).all()
    assert sorted(found) == sorted(
        [
            (first, "builtins.ZeroDivisionError"),
            (first, "builtins.KeyError"),
            (second, "builtins.KeyError"),
        ]
    )


def test_an_exception_after_the_fix_reopens_the_report(
    app: FastAPI, db: Session, sessions: Callable[[], Session]
) -> None:
    staffed = staffed_course(db)
    version_id = staffed.question.current_version_id
    assert version_id is not None
    report_exception(sessions, version_id, ValueError("bad"), context="grading", given=1)
    report = db.scalar(select(ProblemReport))
    assert report is not None and report.course_id == staffed.klass.course.id
    report.status, report.fixed_in = "fixed", 1
    db.flush()
    report_exception(sessions, version_id, ValueError("bad"), context="grading", given=2)
    db.refresh(report)
    assert (report.status, report.fixed_in, report.occurrences) == ("open", None, 2)
    report.status = "wont_fix"
    db.flush()
    report_exception(sessions, version_id, ValueError("bad"), context="grading")
    db.refresh(report)
    assert (report.status, report.occurrences) == ("wont_fix", 3), "won't fix stays so"


def test_the_report_survives_the_rollback_of_the_request_s_own_work(
    app: FastAPI, db: Session, sessions: Callable[[], Session]
) -> None:
    request = sessions()
    request.add(User(email="lost@example.org"))
    request.flush()
    with (
        pytest.raises(ZeroDivisionError),
        reporting_errors(request, shipped_version(app), "A", context="grading"),
    ):
        grade_badly("A")
    assert db.scalar(select(User.id).where(User.email == "lost@example.org")) is None
    assert db.scalar(select(ProblemReport.occurrences)) == 1


def test_a_refused_answer_is_no_fault_of_the_question(
    app: FastAPI, db: Session, sessions: Callable[[], Session]
) -> None:
    with pytest.raises(AnswerFormatError), reporting_errors(sessions(), shipped_version(app)):
        raise AnswerFormatError("not a number")
    assert db.scalar(select(ProblemReport.id)) is None
