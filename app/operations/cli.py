"""`torchquiz backup`, `restore`, `purge` and `learners export|delete`: the operator's side of
app.operations and app.privacy. Every refusal is one line, `error: ...`, and exit status 1."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import click

from app.core.commands import fail, in_database, migrated_database, settings_or_fail
from app.operations.archive import ArchiveError
from app.operations.backup import BackupError, backup
from app.operations.purge import purge
from app.operations.restore import RestoreError, restore
from app.privacy.service import Person, delete_person, export, find_person


@click.command("backup")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-bank", is_flag=True, help="Leave the question bank's files out.")
def backup_command(output: Path, no_bank: bool) -> None:
    """Write the database (every table, course banks included) and the question bank's files
    to OUTPUT, a .tar.gz; consistent while the site runs. The secret key is not included."""
    settings = settings_or_fail()
    try:
        summary = backup(settings, output, with_bank=not no_bank)
    except BackupError as exc:
        fail(str(exc))
    rows = sum(summary.rows.values())
    click.echo(
        f"Wrote {output}: {rows} rows in {len(summary.rows)} tables at revision "
        f"{summary.revision}, {summary.bank_files} bank file(s)."
    )


@click.command("restore")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace everything in a database that has rows.")
@click.option(
    "--bank-into",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write the archive's question bank files into this (empty) folder.",
)
def restore_command(archive: Path, force: bool, bank_into: Path | None) -> None:
    """Restore a `torchquiz backup` archive into the configured database (SQLite or
    PostgreSQL, whichever the backup came from): checked whole first, in one transaction,
    then migrated to this version. Refuses a database that holds rows unless --force."""
    settings = settings_or_fail()
    try:
        summary = restore(settings, archive, force=force, bank_into=bank_into)
    except (ArchiveError, RestoreError) as exc:
        fail(str(exc))
    rows = sum(summary.rows.values())
    click.echo(f"Restored {rows} rows in {len(summary.rows)} tables (revision {summary.revision}).")
    if bank_into is not None:
        click.echo(f"Wrote {summary.bank_files} bank file(s) into {bank_into}.")
    for warning in summary.warnings:
        click.echo(f"warning: {warning}", err=True)


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
def purge_command(dry_run: bool) -> None:
    """Delete finished outbox messages and expired logins, keys and sessions past their
    retention (TORCHQUIZ_OUTBOX_RETENTION_DAYS, TORCHQUIZ_EXPIRED_RETENTION_DAYS). Every
    server process also does this once an hour."""
    settings = settings_or_fail()
    with migrated_database(settings, run_in_threads=True) as database:
        counts = asyncio.run(purge(database, settings, dry_run=dry_run))
    verb = "would delete" if dry_run else "deleted"
    for table, n in counts.items():
        click.echo(f"{table}\t{verb} {n}")


@click.group()
def learners() -> None:
    """One learner's data, on their request: export it, or delete it."""


_EMAIL = click.option("--email", default=None, help="The learner's account, by its email.")
_PUBLIC_ID = click.option("--public-id", default=None, help="The learner, by their public id.")


def _person(db: object, email: str | None, public_id: str | None) -> Person:
    if (email is None) == (public_id is None):
        fail("give exactly one of --email and --public-id")
    return find_person(db, email=email, public_id=public_id)  # type: ignore[arg-type]


@learners.command("export")
@_EMAIL
@_PUBLIC_ID
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout.")
def export_command(email: str | None, public_id: str | None, output: Path | None) -> None:
    """Everything the site holds about one learner (and their account), as JSON."""
    document = in_database(lambda db: export(db, _person(db, email, public_id)))
    text = json.dumps(document, indent=2, ensure_ascii=False)
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        output.write_text(text + "\n")
        click.echo(f"Wrote {output}.", err=True)


@learners.command("delete")
@_EMAIL
@_PUBLIC_ID
@click.option("--yes", is_flag=True, help="Confirm: this cannot be undone.")
def delete_command(email: str | None, public_id: str | None, yes: bool) -> None:
    """Delete one learner's data and account, in one transaction (what other people's records
    keep, anonymised: README "Backup, restore and a learner's data")."""
    if not yes:
        fail("deleting a learner cannot be undone: give --yes to confirm")
    counts = in_database(lambda db: delete_person(db, _person(db, email, public_id)))
    listed = ", ".join(f"{table} {n}" for table, n in sorted(counts.items())) or "nothing"
    click.echo(f"Deleted: {listed}.")


COMMANDS = [backup_command, restore_command, purge_command, learners]
