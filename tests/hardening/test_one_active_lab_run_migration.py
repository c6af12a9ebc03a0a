"""Migration 0006 repairs learners left with several active lab runs (the race it closes)
before it builds the index, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from app.core.db import alembic_config
from tests.conftest import _scratch_postgres

LEARNER = "INSERT INTO learners (public_id, created_at) VALUES (:public_id, CURRENT_TIMESTAMP)"
RUN = (
    "INSERT INTO lab_runs (public_id, learner_id, config, config_key, torch_version, task,"
    " status, epochs, created_at) VALUES (:public_id, :learner, '{}', 'k', '2', true,"
    " :status, '[]', CURRENT_TIMESTAMP)"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'repair.sqlite3'}"
    else:
        yield from _scratch_postgres()


def test_the_upgrade_keeps_each_learners_newest_active_run_and_fails_the_others(
    scratch_url: str,
) -> None:
    config = alembic_config(scratch_url)
    command.upgrade(config, "0005")
    engine = create_engine(scratch_url)
    runs = [("a1", 1, "running"), ("a2", 1, "queued"), ("a3", 1, "queued"), ("a4", 1, "done")]
    runs += [("b1", 2, "queued"), ("r1", None, "running"), ("r2", None, "running")]
    with engine.begin() as db:
        for public_id in ("one", "two"):  # rows 1 and 2 of a fresh database
            db.execute(text(LEARNER), {"public_id": public_id})
        for public_id, learner, status in runs:
            db.execute(text(RUN), {"public_id": public_id, "learner": learner, "status": status})
    command.upgrade(config, "head")
    with engine.connect() as db:
        rows = db.execute(text("SELECT public_id, status, message FROM lab_runs ORDER BY id"))
        after = {public_id: (status, message) for public_id, status, message in rows}
    engine.dispose()
    assert after["a3"] == ("queued", None), "the newest active run is kept"
    for repaired in ("a1", "a2"):
        assert after[repaired][0] == "failed"
        assert "only one run per learner may be active" in after[repaired][1]
    assert after["a4"] == ("done", None) and after["b1"] == ("queued", None)
    assert after["r1"][0] == after["r2"][0] == "running", "reference runs have no learner"
