"""`torchquiz users`: accounts from the command line (the first administrator)."""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from pydantic import TypeAdapter, ValidationError

from app.accounts.service import create_user, find_user
from app.core.bounds import Email, Password
from app.core.config import Settings
from app.core.db import Database, create_db_engine, migrate_database
from app.core.errors import ConflictError


@click.group()
def users() -> None:
    """Manage accounts."""


@users.command("create-admin")
@click.option("--email", required=True, help="The administrator's email address.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (for scripts) instead of asking for it.",
)
def create_admin(email: str, password_stdin: bool) -> None:
    """Create a site administrator, or make an existing account one (its password kept)."""
    try:
        settings = Settings()
    except ValidationError as exc:
        _fail(
            f"the settings are not valid ({exc.error_count()} problem(s)): "
            "`torchquiz serve` names them"
        )
    try:
        email = TypeAdapter(Email).validate_python(email)
    except ValidationError:
        _fail(f"{email!r} is not an email address")
    engine = create_db_engine(settings.database_url)
    try:
        migrate_database(settings.database_url, engine)
        with Database.on(engine).transaction() as db:
            user = find_user(db, email)
            if user is not None:
                user.site_role = "admin"
                click.echo(f"{user.email} is now a site administrator (password unchanged)")
                return
            password = _password(password_stdin)
            try:
                create_user(db, email, password, role="admin")
            except ConflictError as exc:
                _fail(exc.message)
    finally:
        engine.dispose()
    click.echo(f"created the site administrator {email.lower()}")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        given = sys.stdin.readline().rstrip("\n")
    else:
        given = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        return TypeAdapter(Password).validate_python(given)
    except ValidationError as exc:
        _fail(f"password: {exc.errors()[0]['msg']}")


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)
