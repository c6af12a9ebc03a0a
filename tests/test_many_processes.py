"""Many processes, one database: four `torchquiz serve` started at once on an empty database
(each migrating it and syncing the question bank at start-up) all come up and serve, and the
bank is in the database once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.core.db import Database, create_db_engine
from app.questions.models import QuestionRow, TopicRow
from tests.conftest import BACKENDS, own_database
from tests.servers import log_of, ready, serve, stop
from tests.test_cli import free_port


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    yield from own_database(request.param, tmp_path_factory, "many")


@pytest.fixture
def four(empty_url: str, tmp_path: Path) -> Iterator[list[str]]:
    """Four servers started in the same instant on the empty database; their URLs."""
    ports = [free_port() for _ in range(4)]
    processes = [serve(tmp_path, port, empty_url) for port in ports]
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url, process in zip(urls, processes, strict=True):
            ready(url, process)
        yield urls
    finally:
        for process in processes:
            stop(process)


def test_four_servers_started_at_once_on_an_empty_database_all_serve_one_bank(
    four: list[str], empty_url: str
) -> None:
    for url in four:
        topics = httpx.get(f"{url}/api/v1/topics", timeout=10)
        assert topics.status_code == 200 and topics.json()["total"] >= 1
    engine = create_db_engine(empty_url)
    try:
        with Database.on(engine).transaction() as db:
            slugs = db.scalars(select(TopicRow.slug)).all()
            assert len(slugs) == len(set(slugs)) >= 1
            questions = db.scalar(select(func.count()).select_from(QuestionRow))
            distinct = db.scalar(select(func.count(func.distinct(QuestionRow.slug))))
            assert questions == distinct  # no question synced twice
    finally:
        engine.dispose()


def test_serve_with_two_workers_on_an_empty_database_starts_both(
    empty_url: str, tmp_path: Path
) -> None:
    """Not one worker failing its start-up on the other's inserts while the site runs on in
    the survivor without a word."""
    port = free_port()
    process = serve(tmp_path, port, empty_url, "--workers", "2")
    try:
        ready(f"http://127.0.0.1:{port}", process)
        deadline = time.monotonic() + 60
        while log_of(process).count("Application startup complete.") < 2:
            assert "startup failed" not in log_of(process), log_of(process)
            assert time.monotonic() < deadline, log_of(process)
            time.sleep(0.2)
        assert "Traceback" not in log_of(process), log_of(process)
    finally:
        stop(process)
