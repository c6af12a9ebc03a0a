"""`torchquiz backup` and `restore`: SQLite to PostgreSQL and back with every row equal, the
archive checked before anything is touched, and a target with rows refused."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import sqlite3
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from click.testing import CliRunner, Result
from sqlalchemy import JSON, Engine, create_engine, func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app.cli import main
from app.core.config import Settings
from app.core.db import alembic_config, create_db_engine
from app.main import prepare
from app.models import Answer, Base, GradeOverride, User
from app.operations.archive import revision_of
from app.operations.backup import backup
from app.operations.restore import restore
from tests.conftest import _scratch_postgres, make_settings
from tests.operations_data.support import place, seed_person

HEAD = "0018"  # tests/test_startup.py-style: this suite knows the newest migration


def _postgres() -> contextlib.AbstractContextManager[str]:
    return contextlib.contextmanager(_scratch_postgres)()


def _engine(settings: Settings) -> Engine:
    return create_engine(settings.database_url, poolclass=NullPool)


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as c:
        return {
            name: c.execute(select(func.count()).select_from(t)).scalar_one()
            for name, t in Base.metadata.tables.items()
        }


def _null_json(engine: Engine) -> dict[str, int]:
    """SQL NULLs of every JSON column (a JSON `null` is not one): kept apart by a restore."""
    found = {}
    with engine.connect() as c:
        for t in Base.metadata.tables.values():
            for column in t.columns:
                if isinstance(column.type, JSON) and column.nullable:
                    n = c.execute(select(func.count()).where(column.is_(None))).scalar_one()
                    found[f"{t.name}.{column.name}"] = n
    return found


def _samples(engine: Engine) -> dict[str, Any]:
    """A learner's answers and an assignment's grades, as they read back."""
    with Session(engine) as db:
        answers = [
            (a.learner_id, a.given, a.score, a.correct, a.created_at.replace(tzinfo=None))
            for a in db.scalars(select(Answer).order_by(Answer.id))
        ]
        grades = [
            (g.assignment_id, g.learner_id, g.percent, g.reason)
            for g in db.scalars(select(GradeOverride).order_by(GradeOverride.learner_id))
        ]
    return {"answers": answers, "grades": grades}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A SQLite site with the shipped bank and two learners who did a bit of everything."""
    folder = tmp_path_factory.mktemp("source")
    settings = make_settings(f"sqlite:///{folder / 'site.sqlite3'}", folder)
    prepare(settings)
    engine = create_db_engine(settings.database_url)
    with Session(engine) as db:
        at = place(db)
        seed_person(db, at)
        seed_person(db, at, with_account=False)
        db.commit()
    engine.dispose()
    return settings


def test_a_backup_moves_from_sqlite_to_postgresql_and_back_with_every_row(
    source: Settings, tmp_path: Path
) -> None:
    first = backup(source, tmp_path / "from-sqlite.tar.gz")
    expected = _counts(_engine(source))
    assert first.rows == {k: v for k, v in expected.items() if k in first.rows}
    assert first.rows["answers"] == 2 and first.bank_files > 0

    with _postgres() as url:
        on_postgres = make_settings(url, tmp_path)
        restored = restore(on_postgres, tmp_path / "from-sqlite.tar.gz")
        pg = _engine(on_postgres)
        assert restored.rows == first.rows
        assert _counts(pg) == expected
        assert _samples(pg) == _samples(_engine(source))
        assert _null_json(pg) == _null_json(_engine(source))
        with Session(pg) as db:  # its id sequences moved past the restored ids
            db.add(User(email="after-restore@example.org"))
            db.commit()
        backup(on_postgres, tmp_path / "from-postgresql.tar.gz")

    back = make_settings(f"sqlite:///{tmp_path / 'back.sqlite3'}", tmp_path)
    restore(back, tmp_path / "from-postgresql.tar.gz")
    assert _counts(_engine(back)) == expected | {"users": expected["users"] + 1}
    assert _samples(_engine(back)) == _samples(_engine(source))
    assert _null_json(_engine(back)) == _null_json(_engine(source))


def test_a_backup_of_an_older_revision_is_restored_then_migrated(tmp_path: Path) -> None:
    old = make_settings(f"sqlite:///{tmp_path / 'old.sqlite3'}", tmp_path)
    command.upgrade(alembic_config(old.database_url), "0016")
    backup(old, tmp_path / "old.tar.gz", with_bank=False)
    with _postgres() as url:
        target = make_settings(url, tmp_path)
        assert restore(target, tmp_path / "old.tar.gz").revision == "0016"
        with _engine(target).connect() as c:
            assert revision_of(c) == HEAD


def test_a_live_sqlite_database_is_backed_up_without_waiting_for_its_writer(
    source: Settings, tmp_path: Path
) -> None:
    before = _counts(_engine(source))["users"]
    path = source.sqlite_file()
    assert path is not None
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # holds the write lock, as a long request would
        writer.execute(
            "INSERT INTO users (email, site_role, created_at) "
            "VALUES ('x@y.z', 'learner', '2026-01-01')"
        )
        summary = backup(source, tmp_path / "live.tar.gz", with_bank=False)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert summary.rows["users"] == before  # the moment before the uncommitted row


def _cli(settings: Settings, *args: str) -> Result:
    env = {
        "TORCHQUIZ_ENVIRONMENT": "test",
        "TORCHQUIZ_DATABASE_URL": settings.database_url,
        "TORCHQUIZ_SECRET_KEY": "test-secret-key-not-for-production",
        "TORCHQUIZ_INSTANCE_DIR": str(settings.instance_dir),
    }
    return CliRunner().invoke(main, list(args), env=env)


def _refused(result: Result, *words: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output, result.output


@pytest.fixture(scope="module")
def archive(source: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("archive") / "site.tar.gz"
    result = _cli(source, "backup", str(path))
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.output and f"revision {HEAD}" in result.output
    return path


def _members(path: Path) -> Iterator[tuple[str, bytes]]:
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            extracted = tar.extractfile(member)
            assert extracted is not None
            yield member.name, extracted.read()


def _rewritten(path: Path, target: Path, change: Any) -> Path:
    with tarfile.open(target, "w:gz") as tar:
        for name, data in _members(path):
            data = change(name, data)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return target


def _fresh(tmp_path: Path) -> Settings:
    return make_settings(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", tmp_path)


def test_a_truncated_archive_is_refused_by_name(archive: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    _refused(_cli(_fresh(tmp_path), "restore", str(cut)), "is not a whole torchquiz backup")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive at all")
    _refused(_cli(_fresh(tmp_path), "restore", str(junk)), "is not a whole torchquiz backup")


def test_an_altered_table_is_refused_and_nothing_is_written(archive: Path, tmp_path: Path) -> None:
    def change(name: str, data: bytes) -> bytes:
        return (
            data.replace(b'"score":1.0', b'"score":0.0') if name == "tables/answers.jsonl" else data
        )

    altered = _rewritten(archive, tmp_path / "altered.tar.gz", change)
    fresh = _fresh(tmp_path)
    _refused(_cli(fresh, "restore", str(altered)), "tables/answers.jsonl", "checksum")
    assert not Path(fresh.sqlite_file() or "").exists() or _counts(_engine(fresh))["users"] == 0


def test_a_backup_of_a_newer_torchquiz_is_refused(archive: Path, tmp_path: Path) -> None:
    def change(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["alembic_revision"] = "9999"
        return json.dumps(manifest).encode()

    newer = _rewritten(archive, tmp_path / "newer.tar.gz", change)
    _refused(_cli(_fresh(tmp_path), "restore", str(newer)), "9999", "newer than this torchquiz")


def test_a_database_with_rows_is_refused_unless_forced(
    source: Settings, archive: Path, tmp_path: Path
) -> None:
    _refused(_cli(source, "restore", str(archive)), "not empty", "--force")
    before = _counts(_engine(source))
    forced = _cli(source, "restore", "--force", "--bank-into", str(tmp_path / "bank"), str(archive))
    assert forced.exit_code == 0, forced.output
    assert _counts(_engine(source)) == before
    assert any((tmp_path / "bank").rglob("*.yaml"))


def test_a_restore_under_another_secret_key_warns_that_everyone_is_signed_out(
    archive: Path, tmp_path: Path
) -> None:
    fresh = _fresh(tmp_path)
    other = Settings(
        environment="test",
        database_url=fresh.database_url,
        instance_dir=tmp_path,
        secret_key="another-key",
    )
    summary = restore(other, archive)
    assert any("TORCHQUIZ_SECRET_KEY" in w for w in summary.warnings)


def test_rows_that_break_a_constraint_roll_the_whole_restore_back(
    archive: Path, tmp_path: Path
) -> None:
    """An archive whose checksums agree but whose rows do not fit (a user twice): refused by
    name, and the fresh PostgreSQL database is left as it was, without even a table."""
    manifest = json.loads(dict(_members(archive))["manifest.json"])
    users = dict(_members(archive))["tables/users.jsonl"]
    doubled = users + users.splitlines(keepends=True)[0]
    entry = next(t for t in manifest["tables"] if t["name"] == "users")
    entry["rows"] += 1
    entry["sha256"] = hashlib.sha256(doubled).hexdigest()

    def change(name: str, data: bytes) -> bytes:
        if name == "manifest.json":
            return json.dumps(manifest).encode()
        return doubled if name == "tables/users.jsonl" else data

    broken = _rewritten(archive, tmp_path / "doubled.tar.gz", change)
    with _postgres() as url:
        target = make_settings(url, tmp_path)
        _refused(_cli(target, "restore", str(broken)), "do not fit", "nothing was restored")
        with _engine(target).connect() as c:
            assert revision_of(c) is None


def test_a_forced_restore_of_an_older_backup_replaces_a_newer_database(tmp_path: Path) -> None:
    old = make_settings(f"sqlite:///{tmp_path / 'old.sqlite3'}", tmp_path)
    command.upgrade(alembic_config(old.database_url), "0016")
    with create_db_engine(old.database_url).begin() as c:
        c.execute(User.__table__.insert().values(email="old@example.org", site_role="learner"))
    backup(old, tmp_path / "old.tar.gz", with_bank=False)
    newer = make_settings(f"sqlite:///{tmp_path / 'newer.sqlite3'}", tmp_path)
    prepare(newer)  # at the newest revision, with the shipped bank's rows
    restore(newer, tmp_path / "old.tar.gz", force=True)  # down to 0016, rows, up again
    with _engine(newer).connect() as c:
        assert revision_of(c) == HEAD
    assert _counts(_engine(newer))["users"] == 1 and _counts(_engine(newer))["topics"] == 0


def test_an_administrator_exports_then_deletes_a_learner_from_the_command_line(
    archive: Path, tmp_path: Path
) -> None:
    site = _fresh(tmp_path)
    restore(site, archive)
    with Session(_engine(site)) as db:
        email = db.scalars(select(User.email).where(User.email.like("Learner-%"))).one()
    assert email is not None

    exported = _cli(site, "learners", "export", "--email", email.upper())
    assert exported.exit_code == 0, exported.output
    document = json.loads(exported.output)
    assert document["tables"]["answers"] and document["tables"]["users"][0]["email"] == email

    _refused(_cli(site, "learners", "delete", "--email", email), "--yes")
    deleted = _cli(site, "learners", "delete", "--email", email, "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert "answers 1" in deleted.output and "users 1" in deleted.output
    _refused(_cli(site, "learners", "export", "--email", email), "no account has the email")
