"""The outbox's background loop while its database refuses connections (a restart, a
failover): one line a round naming the cause, no traceback, since nothing is wrong with the
code and the next poll tries again; a failure that is not the database keeps its traceback."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from app.core.db import Database, create_db_engine
from app.core.handlers import log_failed_round
from app.outbox.delivery import Outbox
from tests.conftest import make_settings
from tests.scale.cluster import free_port


def test_an_outbox_whose_database_refuses_connections_logs_one_line_a_round_and_no_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on this port: every connection is refused, as while PostgreSQL restarts.
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere?connect_timeout=2"
    engine = create_db_engine(url)
    outbox = Outbox(Database.on(engine, run_in_threads=True), make_settings(url, tmp_path))
    outbox.poll_seconds = 0.05

    async def a_few_rounds() -> None:
        await outbox.start()
        await asyncio.sleep(0.5)
        await outbox.stop()

    with caplog.at_level(logging.INFO, logger="torchquiz.outbox"):
        asyncio.run(a_few_rounds())
    engine.dispose()

    logged = [r for r in caplog.records if r.name == "torchquiz.outbox"]
    assert len(logged) >= 2, [r.getMessage() for r in logged]
    for record in logged:
        assert record.levelno == logging.WARNING and record.exc_info is None, record.getMessage()
        assert "the database is not answering: OperationalError" in record.getMessage()
        assert "refused" in record.getMessage()


def test_a_failed_round_that_is_not_the_database_keeps_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("torchquiz.test")
    try:
        {}["missing"]  # a bug in a round
    except KeyError as exc:
        with caplog.at_level(logging.INFO, logger="torchquiz.test"):
            log_failed_round(logger, "a round failed", exc)

    (record,) = [r for r in caplog.records if r.name == "torchquiz.test"]
    assert record.levelno == logging.ERROR and record.getMessage() == "a round failed"
    assert record.exc_info is not None and record.exc_info[0] is KeyError
