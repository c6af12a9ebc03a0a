import sqlite3
from pathlib import Path

from app.core.db import WalCheckpointer, create_db_engine


def wal_size(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_background_checkpointer_copies_the_log_into_the_database(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    engine = create_db_engine(f"sqlite:///{db}", background_checkpoints=True)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (v TEXT)")
        for _ in range(2000):  # past SQLite's own 1000-page checkpoint threshold
            conn.exec_driver_sql("INSERT INTO t VALUES (?)", ("x" * 1000,))
    before = wal_size(db)
    assert before > 1_000_000, "automatic checkpoints are off, so the log holds every page"
    checkpointer = WalCheckpointer(str(db), interval=0.05)
    checkpointer.start()
    checkpointer.stop()
    engine.dispose()
    assert wal_size(db) == 0, "the final TRUNCATE checkpoint empties the log"
    assert sqlite3.connect(db).execute("SELECT count(*) FROM t").fetchone() == (2000,)


def test_checkpoint_failure_is_logged_not_raised(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    connection = sqlite3.connect(tmp_path / "x.sqlite3")
    connection.close()
    WalCheckpointer.checkpoint(connection, "PASSIVE")
    assert "WAL checkpoint (PASSIVE) failed" in caplog.text
