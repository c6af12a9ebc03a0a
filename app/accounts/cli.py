"""`torchquiz users`: accounts from the command line (the first administrator)."""

from __future__ import annotations

import sys

import click
from pydantic import TypeAdapter, ValidationError

from app.accounts.service import create_user, find_user
from app.core.bounds import Email, Password
from app.core.commands import fail, migrated_database, settings_or_fail
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
    settings = settings_or_fail()
    try:
        email = TypeAdapter(Email).validate_python(email)
    except ValidationError:
        fail(f"{email!r} is not an email address")
    with migrated_database(settings) as database, database.transaction() as db:
        user = find_user(db, email)
        if user is not None:
            user.site_role = "admin"
            click.echo(f"{user.email} is now a site administrator (password unchanged)")
            return
        password = _password(password_stdin)
        try:
            create_user(db, email, password, role="admin")
        except ConflictError as exc:
            fail(exc.message)
    click.echo(f"created the site administrator {email.lower()}")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        given = sys.stdin.readline().rstrip("\n")
    else:
        given = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        return TypeAdapter(Password).validate_python(given)
    except ValidationError as exc:
        fail(f"password: {exc.errors()[0]['msg']}")
