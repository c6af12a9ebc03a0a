"""A grade survives the server's death: `torchquiz serve` as a real process, killed with
SIGKILL after the learner submitted but before the LMS took the score; started again on the
same database, it sends the score, once."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.attempts.models import Assignment
from app.core.db import Database, create_db_engine, migrate_database
from app.outbox.models import OutboxMessage
from app.questions.models import TopicRow
from tests.lti.conftest import Browser, register
from tests.lti.emulator import INSTRUCTOR, LEARNER, Platform
from tests.lti.test_end_to_end import (
    QUESTIONS,
    assignment_link,
    course_of,
    lti_launch,
    take_attempt,
)
from tests.servers import ready, serve, stop
from tests.test_cli import free_port


@dataclass
class Served:
    """`torchquiz serve` in a process of its own, and its database for the test's looks."""

    url: str
    engine: Engine
    database_url: str
    process: subprocess.Popen[bytes] | None = None

    def transaction(self) -> contextlib.AbstractContextManager[Session]:
        return Database.on(self.engine).transaction()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    url = f"sqlite:///{tmp_path / 'tool.sqlite3'}"
    migrate_database(url)
    engine = create_db_engine(url)
    tool = Served(f"http://127.0.0.1:{free_port()}", engine, url)
    try:
        yield tool
    finally:
        if tool.process is not None:
            stop(tool.process)
        engine.dispose()


def test_a_score_the_server_was_killed_before_posting_arrives_once_after_a_restart(
    served: Served, tmp_path: Path
) -> None:
    port = int(served.url.rsplit(":", 1)[1])
    with Platform() as lms:
        with served.transaction() as db:
            register(db, lms)
        lms.use_tool(served.url)
        served.process = serve(tmp_path, port, served.database_url)
        ready(served.url, served.process)
        with contextlib.closing(Browser()) as teacher:
            assert lti_launch(teacher, lms, INSTRUCTOR).status_code == 200
        course = course_of(served, lms)  # type: ignore[arg-type]
        with served.transaction() as db:
            topic = db.scalar(select(TopicRow.id).where(TopicRow.slug == "birnn"))
            rules = {"sources": ["birnn"], "questions": [f"birnn/{q}" for q in QUESTIONS]}
            row = Assignment(course_id=course.id, topic_id=topic, title="Killed", rules=rules)
            db.add(row)
            db.flush()
            aid = row.public_id
        with contextlib.closing(Browser()) as learner:
            launched = lti_launch(learner, lms, LEARNER, **assignment_link(lms, aid))
            assert launched.status_code == 200
            lms.fail_next(10_000, status=503, on="token")  # the LMS is down: no score gets in
            take_attempt(learner, served, aid, right=True)  # type: ignore[arg-type]
        time.sleep(1.5)  # the deliverer tries, fails, waits to retry
        served.process.send_signal(signal.SIGKILL)
        served.process.wait()

        assert lms.scores_for(LEARNER.sub) == []
        with served.transaction() as db:
            kinds = db.scalars(
                select(OutboxMessage.status).where(OutboxMessage.kind == "ags_score")
            )
            assert list(kinds) == ["pending"]
        lms.clear_failures()  # the LMS is back
        served.process = serve(tmp_path, port, served.database_url)
        ready(served.url, served.process)
        deadline = time.monotonic() + 60  # the retry's backoff, at most a minute here
        while not lms.scores_for(LEARNER.sub):
            assert time.monotonic() < deadline, "the score did not arrive after the restart"
            time.sleep(0.25)
        time.sleep(1)
        assert [s["scoreGiven"] for s in lms.scores_for(LEARNER.sub)] == [100]
