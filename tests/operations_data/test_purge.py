"""Purging old rows: finished outbox messages and expired logins, keys and sessions go; recent
ones and pending messages stay, however old."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from fastapi import FastAPI
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.cli import main
from app.core.config import Settings
from app.core.db import Database, create_db_engine, migrate_database, utcnow
from app.models import (
    AccountSession,
    Course,
    CourseImport,
    IdempotencyKey,
    LtiLogin,
    LtiPlatform,
    OutboxMessage,
    OutboxTry,
    User,
)
from app.operations.purge import Purger, purge
from tests.conftest import make_settings


def _database(connection: Connection) -> Database:
    """The purge's own transactions, as savepoints of the test's connection."""
    return Database(sessionmaker(bind=connection, join_transaction_mode="create_savepoint"))


def _message(db: Session, status: str, age_days: float) -> int:
    message = OutboxMessage(
        kind="webhook", payload={}, status=status, created_at=utcnow() - timedelta(days=age_days)
    )
    db.add(message)
    db.flush()
    db.add(OutboxTry(message_id=message.id, outcome="retry"))
    db.flush()
    return message.id


def _arrange(db: Session) -> dict[str, list[int]]:
    now, tag = utcnow(), uuid.uuid4().hex[:8]
    user = User(email=f"p-{tag}@example.org")
    platform = LtiPlatform(
        name="p",
        issuer=f"https://{tag}",
        client_id="c",
        auth_login_url="a",
        token_url="t",
        jwks_url="j",
    )
    course = Course(slug=f"purge-{tag}", title="Purge", join_code=tag)
    db.add_all([user, platform, course])
    db.flush()
    old, kept = [], []
    for status in ("delivered", "refused", "dead"):
        old.append(_message(db, status, 31))
        kept.append(_message(db, status, 29))
    kept.append(_message(db, "pending", 400))  # never delivered yet: never purged
    rows = {
        "logins": [
            LtiLogin(
                state_hash=f"o{tag}",
                nonce=f"o{tag}",
                platform_id=platform.id,
                expires_at=now - timedelta(days=2),
            ),
            LtiLogin(
                state_hash=f"n{tag}",
                nonce=f"n{tag}",
                platform_id=platform.id,
                expires_at=now - timedelta(hours=1),
            ),
        ],
        "keys": [
            IdempotencyKey(
                caller=tag,
                key="old",
                method="POST",
                path="/",
                body_hash="h",
                expires_at=now - timedelta(days=2),
            ),
            IdempotencyKey(
                caller=tag,
                key="new",
                method="POST",
                path="/",
                body_hash="h",
                expires_at=now + timedelta(hours=20),
            ),
        ],
        "imports": [  # an import preview goes as soon as it expires: nobody confirmed it
            _preview(course.id, user.id, f"o{tag}", now - timedelta(minutes=1)),
            _preview(course.id, user.id, f"n{tag}", now + timedelta(minutes=20)),
        ],
        "sessions": [
            AccountSession(
                token_hash=f"o{tag}", user_id=user.id, expires_at=now - timedelta(days=3)
            ),
            AccountSession(
                token_hash=f"n{tag}", user_id=user.id, expires_at=now + timedelta(days=3)
            ),
        ],
    }
    for made in rows.values():
        db.add_all(made)
    db.flush()
    ids = {name: [r.id for r in made] for name, made in rows.items()}
    return {"old_messages": old, "kept_messages": kept, **ids}


def _preview(course_id: int, user_id: int, import_id: str, expires_at: datetime) -> CourseImport:
    return CourseImport(
        import_id=import_id,
        course_id=course_id,
        user_id=user_id,
        filename="bank.zip",
        format="yaml",
        sha256="0" * 64,
        data=b"PK",
        bank_state={},
        expires_at=expires_at,
    )


def _present(db: Session, model: type, ids: list[int]) -> list[int]:
    return sorted(db.scalars(select(model.id).where(model.id.in_(ids))))  # type: ignore[attr-defined]


def test_old_finished_and_expired_rows_go_and_recent_or_pending_ones_stay(
    app: FastAPI, connection: Connection, db: Session, settings: Settings
) -> None:
    made = _arrange(db)
    database = _database(connection)

    counted = asyncio.run(purge(database, settings, dry_run=True))
    assert counted["outbox"] >= 3 and counted["lti_logins"] >= 1
    assert _present(db, OutboxMessage, made["old_messages"]) == sorted(made["old_messages"])

    purged = asyncio.run(purge(database, settings))
    db.expire_all()

    assert purged["outbox"] >= 3
    assert _present(db, OutboxMessage, made["old_messages"]) == []
    assert _present(db, OutboxMessage, made["kept_messages"]) == sorted(made["kept_messages"])
    tries = db.scalar(
        select(func.count())
        .select_from(OutboxTry)
        .where(OutboxTry.message_id.in_(made["old_messages"]))
    )
    assert tries == 0  # with their messages
    for model, name in (
        (LtiLogin, "logins"),
        (IdempotencyKey, "keys"),
        (AccountSession, "sessions"),
        (CourseImport, "imports"),
    ):
        old, recent = made[name]
        assert _present(db, model, [old, recent]) == [recent], name


def test_the_purge_command_reports_what_it_would_delete(settings: Settings) -> None:
    env = {
        "TORCHQUIZ_DATABASE_URL": settings.database_url,
        "TORCHQUIZ_SECRET_KEY": "k",
        "TORCHQUIZ_INSTANCE_DIR": str(settings.instance_dir),
    }
    result = CliRunner().invoke(main, ["purge", "--dry-run"], env=env)
    assert result.exit_code == 0, result.output
    assert "outbox\twould delete" in result.output
    assert "lti_logins\twould delete" in result.output


def test_each_server_process_purges_in_the_background(tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'p.sqlite3'}", tmp_path, purge_interval_seconds=1
    )
    engine = create_db_engine(settings.database_url)
    migrate_database(settings.database_url, engine)
    database = Database.on(engine)
    with database.transaction() as db:
        old = _message(db, "delivered", 40)
        pending = _message(db, "pending", 40)

    async def run_a_while() -> None:
        purger = Purger(database, settings)
        purger.start()
        await asyncio.sleep(1.5)  # its first purge comes within one interval
        await purger.stop()

    asyncio.run(run_a_while())
    with database.transaction() as db:
        assert _present(db, OutboxMessage, [old, pending]) == [pending]
    engine.dispose()
