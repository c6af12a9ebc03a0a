"""`torchquiz restore`: an archive of `torchquiz backup` into a database, SQLite or PostgreSQL
whichever the backup came from (app.operations.archive).

In this order, so that a bad archive or a wrong target changes nothing:
1. The archive is read whole and checked: its manifest, every table file against its SHA-256
   and row count, every row as JSON. A truncated or altered archive is refused, named.
2. Its Alembic revision must be one this code knows: a backup of a newer torchquiz is refused.
3. The target must hold no rows (a fresh database, or only an empty schema), unless `force`.
4. In one transaction: the target's rows are deleted (with `force`), its schema brought to the
   archive's revision, the rows inserted (parents first; a foreign key to a later table or the
   same one filled in afterwards), the counts checked against the manifest, the schema migrated
   to this code's newest revision, and PostgreSQL's id sequences set past the restored ids.
   Anything failing rolls the whole restore back.
"""

from __future__ import annotations

import contextlib
import json
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from alembic import command
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, Integer, Table, bindparam, func, null, select, text
from sqlalchemy import delete as sql_delete
from sqlalchemy import update as sql_update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, IntegrityError

from app.core.config import Settings
from app.core.db import alembic_config, create_db_engine
from app.operations.archive import (
    BANK_DIR,
    CHUNK,
    FORMAT,
    JSON_TEXT,
    MANIFEST,
    TABLES_DIR,
    ArchiveError,
    decode,
    deferred_columns,
    in_order,
    reflected,
    revision_of,
    sha256_of,
)
from app.operations.backup import key_fingerprint

BATCH = 500


class RestoreError(Exception):
    """The target cannot take this archive (not empty, newer revision); the message says why."""


@dataclass
class RestoreSummary:
    revision: str
    rows: dict[str, int]
    bank_files: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Archive:
    """A checked archive, unpacked into a temporary folder."""

    folder: Path
    manifest: dict[str, Any]

    def rows(self, table: dict[str, Any]) -> Iterator[dict[str, Any]]:
        with (self.folder / table["file"]).open("rb") as lines:
            for line in lines:
                yield json.loads(line)


def restore(
    settings: Settings, source: Path, *, force: bool = False, bank_into: Path | None = None
) -> RestoreSummary:
    with open_archive(source) as archive:
        manifest = archive.manifest
        revision = manifest["alembic_revision"]
        script = ScriptDirectory.from_config(alembic_config(settings.database_url))
        _known_revision(script, revision)
        if bank_into is not None:
            _check_bank_target(bank_into)
        engine = create_db_engine(settings.database_url)
        try:
            current = _current_revision(engine, script)
            _refuse_rows(engine, force)
            with engine.begin() as connection:
                rows = _restore_into(connection, settings, archive, current, script)
        except (IntegrityError, DataError) as exc:  # rolled back whole: nothing was written
            raise ArchiveError(
                f"the archive's rows do not fit the database, nothing was restored: {exc.orig}"
            ) from None
        finally:
            engine.dispose()
        summary = RestoreSummary(revision, rows)
        if bank_into is not None:
            summary.bank_files = _write_bank(archive, bank_into)
        if manifest.get("secret_key_fingerprint") != key_fingerprint(settings.signing_key()):
            summary.warnings.append(
                "this server signs with another secret key than the backed-up one: everyone is "
                "signed out and anonymous learners' browsers no longer find their history. Set "
                "TORCHQUIZ_SECRET_KEY to the old key to keep them."
            )
        return summary


# 1. The archive -------------------------------------------------------------------------------


@contextlib.contextmanager
def open_archive(source: Path) -> Iterator[Archive]:
    """The archive unpacked and checked, or ArchiveError naming what is wrong with it."""
    with tempfile.TemporaryDirectory(prefix="torchquiz-restore-") as work:
        folder = Path(work)
        try:
            with tarfile.open(source, mode="r:gz") as tar:
                manifest = _unpack(tar, folder)
        except FileNotFoundError:
            raise ArchiveError(f"{source}: no such file") from None
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise ArchiveError(
                f"{source} is not a whole torchquiz backup (a .tar.gz): {exc}"
            ) from None
        yield Archive(folder, manifest)


def _unpack(tar: tarfile.TarFile, folder: Path) -> dict[str, Any]:
    """Every member into `folder` (regular files under known names only), then the manifest
    and each file checked against it."""
    for member in tar:
        name = PurePosixPath(member.name)
        if not member.isfile() or name.is_absolute() or ".." in name.parts:
            raise ArchiveError(f"the archive holds an unexpected entry: {member.name!r}")
        if name.parts[0] not in (MANIFEST, TABLES_DIR, BANK_DIR):
            raise ArchiveError(f"the archive holds an unexpected entry: {member.name!r}")
        target = folder.joinpath(*name.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        extracted = tar.extractfile(member)
        assert extracted is not None  # a regular file
        with target.open("wb") as out:
            _copy(extracted, out)
    manifest = _manifest(folder / MANIFEST)
    for table in manifest["tables"]:
        _check_table_file(folder, table)
    for item in manifest.get("bank", []):
        path = folder / item["path"]
        if not path.is_file() or sha256_of([path.read_bytes()]) != item["sha256"]:
            raise ArchiveError(f"the bank file {item['path']} is missing or altered")
    return manifest


def _copy(source: IO[bytes], out: IO[bytes]) -> None:
    while chunk := source.read(CHUNK):
        out.write(chunk)


def _manifest(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ArchiveError("the archive has no manifest.json: not a torchquiz backup")
    try:
        manifest = json.loads(path.read_bytes())
    except ValueError as exc:
        raise ArchiveError(f"the archive's manifest.json is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("app") != "torchquiz":
        raise ArchiveError("the archive's manifest.json is not a torchquiz backup's")
    if manifest.get("format") != FORMAT:
        raise ArchiveError(
            f"the archive is in format {manifest.get('format')!r}; this torchquiz reads {FORMAT}"
        )
    if not isinstance(manifest.get("alembic_revision"), str):
        raise ArchiveError("the archive's manifest.json names no database revision")
    tables = manifest.get("tables")
    if not isinstance(tables, list) or not all(_table_entry(t) for t in tables):
        raise ArchiveError("the archive's manifest.json lists its tables wrongly")
    return manifest


def _table_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("name"), str)
        and entry.get("file") == f"{TABLES_DIR}/{entry.get('name')}.jsonl"
        and isinstance(entry.get("rows"), int)
        and isinstance(entry.get("sha256"), str)
        and isinstance(entry.get("columns"), dict)
    )


def _check_table_file(folder: Path, table: dict[str, Any]) -> None:
    path = folder / table["file"]
    if not path.is_file():
        raise ArchiveError(f"the archive lacks {table['file']} (truncated?)")
    with path.open("rb") as data:
        digest = sha256_of(iter(lambda: data.read(CHUNK), b""))
    if digest != table["sha256"]:
        raise ArchiveError(f"{table['file']} does not match its checksum: the archive is altered")
    count = 0
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            try:
                row = json.loads(line)
            except ValueError:
                raise ArchiveError(f"{table['file']}, line {number}, is not JSON") from None
            if not isinstance(row, dict) or set(row) - set(table["columns"]):
                raise ArchiveError(f"{table['file']}, line {number}, has unknown columns")
            count += 1
    if count != table["rows"]:
        raise ArchiveError(f"{table['file']} has {count} rows; the manifest says {table['rows']}")


# 2, 3. The target -----------------------------------------------------------------------------


def _known_revision(script: ScriptDirectory, revision: str) -> None:
    try:
        found = script.get_revision(revision)
    except CommandError:
        found = None
    if found is None:
        raise RestoreError(
            f"the backup's database revision {revision} is newer than this torchquiz knows "
            f"(its newest is {script.get_current_head()}): restore with a newer torchquiz"
        )


def _current_revision(engine: Engine, script: ScriptDirectory) -> str | None:
    with engine.connect() as connection:
        current = revision_of(connection)
    if current is not None:
        _known_revision_of_target(script, current)
    return current


def _known_revision_of_target(script: ScriptDirectory, revision: str) -> None:
    try:
        script.get_revision(revision)
    except CommandError:
        raise RestoreError(
            f"the target database is at revision {revision}, newer than this torchquiz knows"
        ) from None


def _refuse_rows(engine: Engine, force: bool) -> None:
    with engine.connect() as connection:
        counts = _row_counts(connection, in_order(reflected(connection)))
    full = {name: n for name, n in counts.items() if n}
    if full and not force:
        listed = ", ".join(f"{name} ({n})" for name, n in list(full.items())[:6])
        raise RestoreError(
            f"the target database is not empty: {listed}{'...' if len(full) > 6 else ''}. "
            "Restore into an empty database, or give --force to replace everything in it"
        )


def _row_counts(connection: Connection, tables: list[Table]) -> dict[str, int]:
    return {
        t.name: connection.execute(select(func.count()).select_from(t)).scalar_one() for t in tables
    }


def _check_bank_target(folder: Path) -> None:
    if folder.exists() and any(folder.iterdir()):
        raise RestoreError(f"--bank-into {folder} is not an empty folder")


# 4. The restore itself ------------------------------------------------------------------------


def _restore_into(
    connection: Connection,
    settings: Settings,
    archive: Archive,
    current: str | None,
    script: ScriptDirectory,
) -> dict[str, int]:
    revision = archive.manifest["alembic_revision"]
    if connection.dialect.name == "sqlite":
        # Foreign keys checked at the commit: SQLite's table copies (Alembic's batch mode) in
        # the migrations after the rows are in would otherwise trip over them mid-way.
        connection.execute(text("PRAGMA defer_foreign_keys = ON"))
    if current is not None:
        _delete_everything(connection)
    _migrate(connection, settings, script, current, revision)
    tables = reflected(connection, also=[t["name"] for t in archive.manifest["tables"]])
    _insert_all(connection, archive, tables)
    expected = {t["name"]: t["rows"] for t in archive.manifest["tables"]}
    restored = _row_counts(connection, [tables.tables[name] for name in expected])
    if restored != expected:
        wrong = [
            f"{n}: {restored[n]} of {expected[n]}" for n in expected if restored[n] != expected[n]
        ]
        raise ArchiveError(f"the restored row counts differ from the backup's: {wrong}")
    _migrate(connection, settings, script, revision, "head")
    if connection.dialect.name == "postgresql":
        _reset_sequences(connection)
    return restored


def _migrate(
    connection: Connection,
    settings: Settings,
    script: ScriptDirectory,
    current: str | None,
    target: str,
) -> None:
    """Bring the schema from `current` to `target`, on this connection, in its transaction."""
    if target == "head":
        target = script.get_current_head() or "head"
    if current == target:
        return
    config = alembic_config(settings.database_url)
    config.attributes["connection"] = connection
    below_current = current is not None and target in {
        r.revision for r in script.iterate_revisions(current, "base")
    }
    if below_current:
        command.downgrade(config, target)
    else:
        command.upgrade(config, target)


def _delete_everything(connection: Connection) -> None:
    """Every row of the target (with --force), children first; references that would make a
    cycle (a question's current version) emptied first."""
    tables = in_order(reflected(connection))
    earlier: set[str] = set()
    for table in tables:
        later = deferred_columns(table, earlier)
        if later:
            connection.execute(sql_update(table).values(dict.fromkeys(later)))
        earlier.add(table.name)
    for table in reversed(tables):
        connection.execute(sql_delete(table))


def _insert_all(connection: Connection, archive: Archive, metadata: Any) -> None:
    earlier: set[str] = set()
    filled_later: list[tuple[Table, list[str], list[dict[str, Any]]]] = []
    for entry in archive.manifest["tables"]:
        table = metadata.tables.get(entry["name"])
        if table is None:
            raise ArchiveError(
                f"the archive's table {entry['name']} is not in its own revision's schema"
            )
        missing = set(entry["columns"]) - set(table.columns.keys())
        if missing:
            raise ArchiveError(f"the archive's {entry['name']} has unknown columns {missing}")
        later = deferred_columns(table, earlier)
        pending = _insert_table(connection, archive, table, entry, later)
        if pending:
            filled_later.append((table, later, pending))
        earlier.add(table.name)
    for table, later, pending in filled_later:
        keys = list(table.primary_key.columns)
        statement = (
            sql_update(table)
            .where(*(k == bindparam(f"key_{k.name}") for k in keys))
            .values({c: bindparam(f"value_{c}") for c in later})
        )
        for start in range(0, len(pending), BATCH):
            connection.execute(statement, pending[start : start + BATCH])


def _insert_table(
    connection: Connection,
    archive: Archive,
    table: Table,
    entry: dict[str, Any],
    later: list[str],
) -> list[dict[str, Any]]:
    """Insert the table's rows (deferred references empty); the references to fill after."""
    kinds: dict[str, str] = entry["columns"]
    keys = [k.name for k in table.primary_key.columns]
    pending, batch = [], []
    for row in archive.rows(entry):
        values = {name: _value(kinds[name], row.get(name)) for name in kinds}
        if any(values[c] is not None for c in later):
            pending.append(
                {f"key_{k}": values[k] for k in keys} | {f"value_{c}": values[c] for c in later}
            )
            values.update(dict.fromkeys(later))
        batch.append(values)
        if len(batch) == BATCH:
            connection.execute(table.insert(), batch)
            batch = []
    if batch:
        connection.execute(table.insert(), batch)
    return pending


def _value(kind: str, value: Any) -> Any:
    if kind == JSON_TEXT:
        # JSON's text as stored; SQL NULL stays SQL NULL (null()), JSON null stays JSON null.
        return null() if value is None else json.loads(value)
    return decode(kind, value)


def _reset_sequences(connection: Connection) -> None:
    """PostgreSQL hands out ids from a sequence per table, which the inserted ids did not move:
    set each past the largest id, or the next new row would collide with a restored one."""
    for table in reflected(connection).tables.values():
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, Integer):
            continue
        sequence = connection.execute(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": table.name, "column": keys[0].name},
        ).scalar()
        if sequence:
            largest = connection.execute(select(func.max(keys[0]))).scalar() or 0
            connection.execute(
                text("SELECT setval(:sequence, :next, false)"),
                {"sequence": sequence, "next": largest + 1},
            )


def _write_bank(archive: Archive, folder: Path) -> int:
    written = 0
    for item in archive.manifest.get("bank", []):
        relative = PurePosixPath(item["path"]).relative_to(BANK_DIR)
        target = folder.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((archive.folder / item["path"]).read_bytes())
        written += 1
    return written
