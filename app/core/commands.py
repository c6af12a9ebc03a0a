"""What every `torchquiz` subcommand that works on the database shares: the settings (or one
clear error), a migrated database, a transaction, and a refusal printed as `error: ...` with
exit status 1 instead of a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import Database, create_db_engine, migrate_database
from app.core.errors import AppError

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def settings_or_fail() -> Settings:
    """The settings; invalid ones are named by field only (values may be secrets)."""
    try:
        return Settings()
    except ValidationError as exc:
        names = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        fail(f"the settings are not valid: {names} (`torchquiz serve` says why)")


@contextmanager
def migrated_database(
    settings: Settings | None = None, *, run_in_threads: bool = False
) -> Iterator[Database]:
    """The configured database, migrated first (a command may be the install's first use)."""
    settings = settings or settings_or_fail()
    engine = create_db_engine(settings.database_url)
    try:
        migrate_database(settings.database_url, engine)
        yield Database.on(engine, run_in_threads=run_in_threads)
    finally:
        engine.dispose()


def in_database(work: Callable[[Session], T]) -> T:
    """`work` in one transaction; an AppError it raises is printed (with its field) as the
    command's error."""
    with migrated_database() as database, database.transaction() as db:
        try:
            return work(db)
        except AppError as exc:
            fail(f"{exc.field}: {exc.message}" if exc.field else exc.message)
