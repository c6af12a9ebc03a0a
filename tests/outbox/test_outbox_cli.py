"""`torchquiz outbox list` and `drain` on a database of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from app.core.config import get_settings
from app.core.db import Database, create_db_engine, migrate_database
from app.outbox import service
from tests.in_thread import run_call
from tests.outbox.receiver import receiving
from tests.outbox.support import KIND


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("TORCHQUIZ_DATABASE_URL", url)
    monkeypatch.setenv("TORCHQUIZ_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("TORCHQUIZ_ENVIRONMENT", "test")
    get_settings.cache_clear()
    migrate_database(url)
    yield url
    get_settings.cache_clear()


def test_the_cli_lists_waiting_messages_and_drains_them(environment: str) -> None:
    engine = create_db_engine(environment)
    with receiving(200) as receiver:
        with Database.on(engine).transaction() as db:
            service.enqueue(db, KIND, {"url": receiver.url, "n": 1}, key="msg_cli")
        engine.dispose()
        listed = CliRunner().invoke(main, ["outbox", "list"])
        assert listed.exit_code == 0, listed.output
        assert f"{KIND}\tpending\t1" in listed.output and "msg_cli" in listed.output
        # In a thread: `drain` runs its own event loop, which a test process that has run a
        # browser test (Playwright's loop in the main thread) would refuse (tests/in_thread.py).
        drained = run_call(lambda: CliRunner().invoke(main, ["outbox", "drain"]))
        assert drained.exit_code == 0, drained.output
        assert "1 message(s) tried" in drained.output
        assert [r.json()["n"] for r in receiver.delivered] == [1]
    after = CliRunner().invoke(main, ["outbox", "list", "--status", "delivered"])
    assert f"{KIND}\tdelivered\t1" in after.output
