"""Migration 0005 repairs the rows bad input stored before the bounds: answers holding lone
surrogates become valid text, lab runs with out-of-range seeds are failed saying why. On a
fresh SQLite and PostgreSQL database, rows written at 0004 as the old code wrote them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from app.core.db import alembic_config
from app.lab.config import BASELINE
from app.training.config import LabConfig
from tests.conftest import BACKENDS, _scratch_postgres

NOW = datetime(2026, 12, 1, tzinfo=UTC)
SEEDS = {1: -1, 2: 2**31, 3: int("9" * 400), 4: 7}  # lab run id: its seed (the last is fine)
GIVEN: dict[int, Any] = {  # answer id: what was stored, lone surrogates and all
    1: "h_n[-1] \ud800",
    2: {"code": "x = 1  # \udfff", "tests": [{"name": "t\ud83d", "passed": False}]},
    3: ["A", "\udc00"],
    4: "fine, with an emoji \U0001f600 (a surrogate pair once escaped)",
}


@pytest.fixture(params=BACKENDS)
def url_at_0004(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A scratch database migrated to 0004, holding what the old code stored."""
    sqlite = iter([f"sqlite:///{tmp_path / 'repair.sqlite3'}"])
    urls = sqlite if request.param == "sqlite" else _scratch_postgres()
    url = next(urls)
    command.upgrade(alembic_config(url), "0004")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        store_bad_rows(conn)
    engine.dispose()
    yield url
    next(urls, None)


def table(name: str, plain: str = "", **typed: sa.types.TypeEngine[Any]) -> sa.TableClause:
    """The columns named in `plain` are bound as they come; the others by their type."""
    columns = [sa.column(key) for key in plain.split()]
    return sa.table(name, *columns, *(sa.column(key, kind) for key, kind in typed.items()))


def store_bad_rows(conn: sa.Connection) -> None:
    json, when = sa.JSON(), sa.DateTime(timezone=True)
    rows: list[tuple[sa.TableClause, dict[str, Any]]] = [
        (
            table("learners", "id public_id", created_at=when),
            {"id": 1, "public_id": "learner", "created_at": NOW},
        ),
        (
            table("topics", "id slug title category estimated_minutes content_hash", data=json,
                  updated_at=when),
            {"id": 1, "slug": "t", "title": "T", "category": "c", "estimated_minutes": 1,
             "content_hash": "h", "data": {}, "updated_at": NOW},
        ),
        (
            table("questions", "id slug topic_id position", created_at=when),
            {"id": 1, "slug": "q", "topic_id": 1, "position": 1, "created_at": NOW},
        ),
        (
            table("question_versions", "id question_id number content_hash type difficulty "
                  "source_path", data=json, created_at=when),
            {"id": 1, "question_id": 1, "number": 1, "content_hash": "h", "type": "short_text",
             "difficulty": "easy", "source_path": "q.yaml", "data": {}, "created_at": NOW},
        ),
        (
            table("quiz_sessions", "id public_id learner_id topic_id mode", version_ids=json,
                  filters=json, started_at=when),
            {"id": 1, "public_id": "s", "learner_id": 1, "topic_id": 1, "mode": "practice",
             "version_ids": [1], "filters": {}, "started_at": NOW},
        ),
    ]  # fmt: skip
    answers = table(
        "answers",
        "id session_id learner_id question_version_id position correct score",
        given=json,
        created_at=when,
        updated_at=when,
    )
    rows += [(answers, _answer(answer_id, given)) for answer_id, given in GIVEN.items()]
    runs = table(
        "lab_runs",
        "id public_id learner_id config_key torch_version task code status",
        config=json,
        epochs=json,
        created_at=when,
    )
    rows += [(runs, _run(run_id, seed)) for run_id, seed in SEEDS.items()]
    for into, values in rows:
        conn.execute(sa.insert(into), values)


def _answer(answer_id: int, given: Any) -> dict[str, Any]:
    return {
        "id": answer_id,
        "session_id": 1,
        "learner_id": 1,
        "question_version_id": 1,
        "position": 1,
        "correct": False,
        "score": 0.0,
        "given": given,
        "created_at": NOW,
        "updated_at": NOW,
    }


def _run(run_id: int, seed: int) -> dict[str, Any]:
    return {
        "id": run_id,
        "public_id": f"run-{run_id}",
        "learner_id": 1,
        "config": BASELINE.model_dump() | {"seed": seed},
        "config_key": "k",
        "torch_version": "2",
        "task": True,
        "code": "class Model: ...",
        "status": "done" if seed == 7 else "running",
        "epochs": [],
        "created_at": NOW,
    }


def stored(url: str, into: sa.TableClause) -> dict[int, Any]:
    """The rows by id, after the upgrade."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = {row.id: row for row in conn.execute(sa.select(into))}
    engine.dispose()
    return rows


def test_the_repair_replaces_lone_surrogates_in_stored_answers(url_at_0004: str) -> None:
    command.upgrade(alembic_config(url_at_0004), "0005")
    given = {
        key: row.given
        for key, row in stored(url_at_0004, table("answers", "id", given=sa.JSON())).items()
    }
    assert given[1] == "h_n[-1] \ufffd"
    assert given[2] == {"code": "x = 1  # \ufffd", "tests": [{"name": "t\ufffd", "passed": False}]}
    assert given[3] == ["A", "\ufffd"]
    assert given[4] == GIVEN[4], "a surrogate pair is a character: left as it was"


def test_the_repair_fails_lab_runs_with_out_of_range_seeds_saying_why(url_at_0004: str) -> None:
    command.upgrade(alembic_config(url_at_0004), "0005")
    runs = table("lab_runs", "id status message finished_at", config=sa.JSON())
    rows = stored(url_at_0004, runs)
    for run_id in (1, 2, 3):
        run = rows[run_id]
        assert run.status == "failed" and run.finished_at is not None
        assert f"its seed {str(SEEDS[run_id])[:20]}" in run.message
        assert "outside 0 to 2147483647" in run.message
        assert LabConfig.model_validate(run.config).seed == 0, "the run view reads it again"
    assert rows[4].status == "done" and rows[4].message is None
    assert rows[4].config["seed"] == 7
