"""Engine, sessions and migrations. Nothing connects at import time."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool
from starlette.concurrency import run_in_threadpool

log = logging.getLogger("torchquiz")
T = TypeVar("T")
P = ParamSpec("P")
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
CONNECT_TIMEOUT_SECONDS = 5

# Stable constraint names, so migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True)}  # noqa: RUF012 - read by SQLAlchemy


def add_once(db: Session, row: Base) -> bool:
    """Insert `row` unless a unique key says it is there already (another tab, a double
    click got there first); True if this call inserted it. A savepoint keeps the rest of the
    transaction when the insert is refused."""
    try:
        with db.begin_nested():
            db.add(row)
    except IntegrityError:
        return False
    return True


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def create_db_engine(url: str, *, background_checkpoints: bool = False) -> Engine:
    """With `background_checkpoints`, SQLite's own checkpoints are off: run a WalCheckpointer."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # A database host that drops packets would otherwise hold each request for minutes
        # (TCP's own retries) instead of answering 503 (app.core.handlers).
        connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        return create_engine(
            url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect_args
        )
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if parsed.database in (None, "", ":memory:"):
        kwargs["poolclass"] = StaticPool
    else:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # SQLite has one writer at a time. One connection per process makes requests queue in
        # order for it; several would poll SQLite's busy lock, and under load some starve
        # past the busy timeout ("database is locked").
        kwargs.update(pool_size=1, max_overflow=0, pool_timeout=30)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_pragmas)
    if background_checkpoints:
        event.listen(engine, "connect", _no_automatic_checkpoints)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front: two deferred transactions that both read, then
    # write, would fail with SQLITE_BUSY instead of waiting their turn.
    connection.connection.dbapi_connection.execute("BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _sqlite_begin), which also makes SAVEPOINT work.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL is durable in WAL mode except for the last transactions on power loss.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _no_automatic_checkpoints(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


class WalCheckpointer:
    """Copies SQLite's write-ahead log into the database file from a thread of its own.

    Left to SQLite, a checkpoint runs inside whichever commit crosses the log's size limit and
    fsyncs the database file; with routes on the event loop that stalls every request for
    milliseconds (seen as the worst round's p99 in bench/http_load.py). A PASSIVE checkpoint
    here never waits for, or blocks, readers and writers.
    """

    def __init__(self, path: str, interval: float = 1.0) -> None:
        self.path = path
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpointer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(self.interval):
                self.checkpoint(connection, "PASSIVE")
            self.checkpoint(connection, "TRUNCATE")  # leave a small log behind on shutdown
        finally:
            connection.close()

    @staticmethod
    def checkpoint(connection: sqlite3.Connection, mode: str) -> None:
        try:
            connection.execute(f"PRAGMA wal_checkpoint({mode})")
        except sqlite3.Error as exc:  # a busy or broken database must not end the thread
            log.warning("WAL checkpoint (%s) failed: %s", mode, exc)


def transaction(session: Session) -> AbstractContextManager[Session]:
    """The one place a transaction ends: commit, or roll back on any error; then close.
    Services only flush. Routes get theirs from app.core.routing, other work from Database."""
    return _ended(session)


@contextmanager
def _ended(session: Session) -> Iterator[Session]:
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class Database:
    """Sessions on one engine, and where their work runs.

    `run_in_threads`: a server database's queries wait on the network, so its work runs in a
    worker thread; SQLite's are sub-millisecond local calls, run on the event loop, since
    CPU-bound work in a thread cost several times its own time in GIL hand-offs
    (bench/http_load.py). Sessions carry the choice in `info` for app.core.routing.
    """

    def __init__(self, sessions: sessionmaker[Session], *, run_in_threads: bool = False) -> None:
        sessions.configure(info={"run_in_threads": run_in_threads})
        self.sessions = sessions
        self.run_in_threads = run_in_threads

    @classmethod
    def on(cls, engine: Engine, *, run_in_threads: bool = False) -> Database:
        sessions = sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
        return cls(sessions, run_in_threads=run_in_threads)

    def session(self) -> Session:
        """A session for a request: its route ends the transaction (app.core.routing)."""
        return self.sessions()

    def transaction(self) -> AbstractContextManager[Session]:
        """`with database.transaction() as db:` for work outside a request."""
        return transaction(self.sessions())

    async def run(
        self, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`work(session, ...)` as one transaction, where this database's work runs: for async
        code (background tasks, and routes that await the runner between two transactions)."""

        def in_transaction() -> T:
            with self.transaction() as db:
                return work(db, *args, **kwargs)

        if self.run_in_threads:
            return await run_in_threadpool(in_transaction)
        return in_transaction()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


# The key of the PostgreSQL advisory lock that start-up's shared work holds: any 64-bit
# number no other lock of this database uses ("tqstart" in ASCII).
STARTUP_LOCK_KEY = 0x74_71_73_74_61_72_74


@contextmanager
def startup_lock(engine: Engine) -> Iterator[None]:
    """Start-up's work on the shared database (migrations, the bank's sync), one process at a
    time: on PostgreSQL, every other process starting at the same moment (uvicorn's workers,
    replicas) waits here, then finds the work done and only reads. Without it, two processes
    migrating or inserting the same topic at once failed one of them (a unique violation).
    SQLite needs none: its writers already queue for the file's one write lock."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:  # the lock is this connection's, until unlocked
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": STARTUP_LOCK_KEY})
        try:
            yield
        finally:
            unlock = text("SELECT pg_advisory_unlock(:key)")
            connection.execute(unlock, {"key": STARTUP_LOCK_KEY})


def migrate_database(url: str, engine: Engine | None = None) -> None:
    """Upgrade to the newest revision; on an empty database this creates every table."""
    config = alembic_config(url)
    if engine is None:
        command.upgrade(config, "head")
        return
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
