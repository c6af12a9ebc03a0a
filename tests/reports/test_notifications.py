"""A new report is mailed to the course's content editors and owners over real SMTP (aiosmtpd),
after the response; a mail server that does not answer fails nothing. SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.policy import default
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.reports.models import ProblemReport
from tests.reports.support import file, staffed_course


def free_port() -> int:
    with socket.socket() as probe:  # aiosmtpd's start-up check cannot use port 0
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list[Any]]]:
    """A real SMTP server on localhost that keeps what it receives."""
    received: list[Any] = []

    class Keep:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    port = free_port()
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, received
    controller.stop()


@contextmanager
def smtp_at(app: FastAPI, port: int) -> Iterator[None]:
    settings = app.state.settings
    kept = settings.smtp_host, settings.smtp_port, settings.smtp_starttls
    settings.smtp_host, settings.smtp_port, settings.smtp_starttls = "127.0.0.1", port, False
    try:
        yield
    finally:
        settings.smtp_host, settings.smtp_port, settings.smtp_starttls = kept


def test_a_new_report_is_mailed_to_the_course_s_editors_and_owners_only(
    app: FastAPI, db: Session, smtp_server: tuple[int, list[Any]]
) -> None:
    port, received = smtp_server
    staffed = staffed_course(db)
    learner = staffed.learner(app, db)
    with smtp_at(app, port):
        filed = file(learner, staffed.session.public_id, text="The key says 3360")
        again = file(learner, staffed.session.public_id, text="Still")
    assert filed.status_code == 201 and again.status_code == 200
    assert sorted(m.rcpt_tos[0] for m in received) == [
        "r-editor@example.org",
        "r-owner@example.org",
    ]
    assert all(len(m.rcpt_tos) == 1 for m in received), "one mail each: no addresses shared"
    mail = message_from_bytes(received[0].content, policy=default)
    assert mail["Subject"] == "Problem report on reported-question"
    body = mail.get_content()
    assert "The key says 3360" in body
    link = f"http://testserver/courses/{staffed.slug}/reports/{filed.json()['id']}"
    assert link in body


def test_a_mail_server_that_does_not_answer_fails_no_report(
    app: FastAPI, db: Session, caplog: pytest.LogCaptureFixture
) -> None:
    staffed = staffed_course(db)
    learner = staffed.learner(app, db)
    with caplog.at_level(logging.ERROR, logger="torchquiz.mail"), smtp_at(app, free_port()):
        filed = file(learner, staffed.session.public_id, text="Wrong")
    assert filed.status_code == 201
    assert db.scalar(select(ProblemReport.public_id)) == filed.json()["id"]
    failures = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 2 and "r-editor@example.org" in " ".join(failures)
