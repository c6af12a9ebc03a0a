"""`torchquiz backup`: the database and the question bank in one archive (app.operations.archive
says what it holds and why that format).

Consistent while the site runs: every table is read in one snapshot. PostgreSQL: one
REPEATABLE READ, READ ONLY transaction. SQLite: SQLite's online backup API first copies the
file in one step (readers and writers go on; the copy is the database at one moment), and the
tables are read from that copy, so the live database's one write lock is never held for the
length of a dump.

The secret key is not in the archive: the archive then holds no key to sign sessions with,
whoever gets hold of it. The manifest keeps a fingerprint of the key instead, so that a
restore on a server with another key says that every signed cookie (accounts' sign-ins and
anonymous learners' identities) will be void there, and how to keep them
(TORCHQUIZ_SECRET_KEY set to the old key). The archive still holds sensitive rows (password
hashes, LTI tool keys, webhook secrets): it is written readable by its owner only.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

from sqlalchemy import Table, Text, cast, create_engine, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

from app.core.config import Settings
from app.operations.archive import (
    BANK_DIR,
    FORMAT,
    JSON_TEXT,
    MANIFEST,
    TABLES_DIR,
    dumps,
    encode,
    in_order,
    kind_of,
    reflected,
    revision_of,
)

BATCH = 1000


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    revision: str
    rows: dict[str, int]
    bank_files: int


def key_fingerprint(key: str) -> str:
    """Tells two keys apart without revealing either (the key is long and random)."""
    return hashlib.sha256(b"torchquiz key fingerprint:" + key.encode()).hexdigest()[:16]


def app_version() -> str:
    try:
        return package_metadata.version("torchquiz")
    except package_metadata.PackageNotFoundError:
        return "unknown"


def backup(settings: Settings, output: Path, *, with_bank: bool = True) -> BackupSummary:
    """Write the archive to `output` (through a temporary file beside it, renamed when whole)."""
    with tempfile.TemporaryDirectory(prefix="torchquiz-backup-") as work:
        folder = Path(work)
        with _snapshot(settings, folder) as connection:
            revision = _revision(connection)
            tables = _dump_tables(connection, folder / TABLES_DIR)
        bank = _bank_files(settings.questions_dir) if with_bank else []
        manifest = {
            "format": FORMAT,
            "app": "torchquiz",
            "app_version": app_version(),
            "alembic_revision": revision,
            "created_at": datetime.now(UTC).isoformat(),
            "source_engine": make_url(settings.database_url).get_backend_name(),
            "secret_key_included": False,
            "secret_key_fingerprint": key_fingerprint(settings.signing_key()),
            "tables": tables,
            "bank": [{"path": name, "sha256": digest} for name, digest, _ in bank],
        }
        _write_archive(output, folder, manifest, bank)
    rows = {t["name"]: t["rows"] for t in tables}
    return BackupSummary(output, revision, rows, len(bank))


@contextlib.contextmanager
def _snapshot(settings: Settings, folder: Path) -> Iterator[Connection]:
    """A connection that sees the whole database at one moment, for reading only."""
    source = settings.sqlite_file()
    if source is not None:
        copy = folder / "snapshot.sqlite3"
        with (
            contextlib.closing(sqlite3.connect(source)) as live,
            contextlib.closing(sqlite3.connect(copy)) as target,
        ):
            live.backup(target)  # one step: the database as it was at one moment
        url = f"sqlite:///{copy}"
    else:
        url = settings.database_url
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
                with connection.begin():
                    connection.execute(text("SET TRANSACTION READ ONLY"))
                    yield connection
            else:
                with connection.begin():
                    yield connection
    finally:
        engine.dispose()


def _revision(connection: Connection) -> str:
    found = revision_of(connection)
    if found is None:
        raise BackupError("the database has no schema yet (run `torchquiz migrate`)")
    return found


class BackupError(Exception):
    """The backup cannot be made; the message says why."""


def _dump_tables(connection: Connection, folder: Path) -> list[dict[str, Any]]:
    folder.mkdir()
    written = []
    for table in in_order(reflected(connection)):
        kinds = {c.name: kind_of(c) for c in table.columns}
        path = folder / f"{table.name}.jsonl"
        digest, count = hashlib.sha256(), 0
        with path.open("wb") as out:
            rows = connection.execution_options(yield_per=BATCH).execute(_read(table))
            for row in rows:
                line = dumps({k: encode(kinds[k], v) for k, v in row._mapping.items()})
                out.write(line)
                digest.update(line)
                count += 1
        written.append(
            {
                "name": table.name,
                "rows": count,
                "file": f"{TABLES_DIR}/{path.name}",
                "sha256": digest.hexdigest(),
                "columns": kinds,
            }
        )
    return written


def _read(table: Table) -> Any:
    """Every row, JSON columns as their text (SQL NULL and JSON null apart), in key order."""
    columns = [cast(c, Text).label(c.name) if kind_of(c) == JSON_TEXT else c for c in table.columns]
    return select(*columns).order_by(*table.primary_key.columns)


def _bank_files(root: Path) -> list[tuple[str, str, Path]]:
    """(name in the archive, sha256, file) for every file of the bank folder."""
    if not root.is_dir():
        return []
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        name = f"{BANK_DIR}/{path.relative_to(root).as_posix()}"
        found.append((name, hashlib.sha256(path.read_bytes()).hexdigest(), path))
    return found


def _write_archive(
    output: Path, folder: Path, manifest: dict[str, Any], bank: list[tuple[str, str, Path]]
) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.{os.getpid()}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
            for table in manifest["tables"]:
                tar.add(folder / table["file"], arcname=table["file"], recursive=False)
            for name, _digest, path in bank:
                tar.add(path, arcname=name, recursive=False)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))
