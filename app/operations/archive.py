"""The backup archive's format, shared by `torchquiz backup` (app.operations.backup) and
`torchquiz restore` (app.operations.restore).

A `.tar.gz` holding:
- `manifest.json`: the format, the app's version, the database's Alembic revision, when, from
  which engine, and per table its row count, its columns' kinds and its file's SHA-256;
- `tables/<name>.jsonl`: one JSON object per row, tables in dependency order (parents first);
- `bank/...`: the question bank's files (the shipped bank's folder, TORCHQUIZ_QUESTIONS_DIR).
  Course banks, authored in the browser, are database rows and travel with the tables.

Why our own format rather than pg_dump or SQLite's `.backup`: those copy one engine into the
same engine only, while a site starts on SQLite and moves to PostgreSQL as it grows (and a
restore of a PostgreSQL backup on a laptop's SQLite is how one looks into a problem). Rows as
JSON through SQLAlchemy read and write on both; the manifest lets a restore check everything
(checksums, counts, revision) before it touches the database.

Values: JSON columns are kept as their JSON text (so SQL NULL and JSON `null` stay apart),
datetimes as ISO 8601 in UTC, bytes as base64; the rest as JSON has them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, LargeBinary, MetaData, Table, inspect, text
from sqlalchemy.engine import Connection

from app.core.db import as_utc
from app.models import Base

FORMAT = 1
MANIFEST = "manifest.json"
TABLES_DIR = "tables"
BANK_DIR = "bank"
CHUNK = 1 << 20

# What a column's value is in the archive, and how it goes back into the database.
JSON_TEXT, DATETIME, BYTES, PLAIN = "json", "datetime", "bytes", "plain"


class ArchiveError(Exception):
    """The archive cannot be used: its message names the problem (for the command's error)."""


def kind_of(column: Column[Any]) -> str:
    if isinstance(column.type, JSON):
        return JSON_TEXT
    if isinstance(column.type, DateTime):
        return DATETIME
    if isinstance(column.type, LargeBinary):
        return BYTES
    return PLAIN


def encode(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == DATETIME:
        return as_utc(value).isoformat()
    if kind == BYTES:
        return base64.b64encode(value).decode("ascii")
    return value  # JSON_TEXT is read as text already (see backup.read_columns)


def decode(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == DATETIME:
        return datetime.fromisoformat(value)
    if kind == BYTES:
        return base64.b64decode(value)
    return value


def revision_of(connection: Connection) -> str | None:
    """The database's Alembic revision; None if it has never been migrated."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if found is None else str(found)


def reflected(connection: Connection, also: Iterable[str] = ()) -> MetaData:
    """The database's tables as they are (at whatever revision): those this code knows, and
    `also` (an archive's, which may be older), never another application's tables that share
    the database, nor Alembic's own."""
    ours = set(Base.metadata.tables) | set(also)
    metadata = MetaData()
    metadata.reflect(bind=connection, only=lambda name, _: name in ours)
    return metadata


def in_order(metadata: MetaData) -> list[Table]:
    """Parents before children: the code's own order (its cycle, questions <-> versions, broken
    where the models say), then any table the code no longer knows, by name."""
    known = [t.name for t in Base.metadata.sorted_tables]
    ordered = [metadata.tables[name] for name in known if name in metadata.tables]
    rest = sorted(set(metadata.tables) - set(known))
    return ordered + [metadata.tables[name] for name in rest]


def deferred_columns(table: Table, earlier: set[str]) -> list[str]:
    """Foreign keys that point at this table itself or at one not yet written: written empty
    first and filled in once every row is in (a version's template, a question's current
    version)."""
    return sorted(
        {fk.parent.name for fk in table.foreign_keys if fk.column.table.name not in earlier}
    )


def sha256_of(chunks: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def dumps(row: dict[str, Any]) -> bytes:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
