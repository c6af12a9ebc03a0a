"""`torchquiz tokens`: API tokens from the command line (for a script's first token)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TypeVar

import click
from sqlalchemy.orm import Session

from app.accounts.service import find_user
from app.core.commands import fail, in_database, settings_or_fail
from app.core.db import utcnow
from app.core.invalidations import Invalidations, InvalidationsUnavailableError
from app.learners.models import User
from app.tokens import service
from app.tokens.auth import ApiTokens
from app.tokens.origins import OriginRegistry
from app.tokens.scopes import ALL_SCOPES

T = TypeVar("T")


@click.group()
def tokens() -> None:
    """Manage API tokens."""


@tokens.command("create")
@click.option("--email", required=True, help="The account the token acts as.")
@click.option("--name", required=True, help="What the token is for.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(ALL_SCOPES),
    help="A scope it holds (repeat the option for several).",
)
@click.option("--course", default=None, help="A service token for this course (by its slug).")
@click.option("--days", default=None, type=click.IntRange(1, 3650), help="Expires after D days.")
def create(
    email: str, name: str, scopes: tuple[str, ...], course: str | None, days: int | None
) -> None:
    """Create a token and print it (once: only its hash is kept)."""
    request = service.TokenRequest(
        name=name,
        scopes=list(scopes),
        course_slug=course,
        expires_at=utcnow() + timedelta(days=days) if days else None,
    )
    new = in_database(lambda db: service.create(db, _user(db, email), request))
    click.echo(f"created the {new.row.kind} token {new.row.public_id} ({name}); keep it now:")
    click.echo(new.secret)


@tokens.command("list")
@click.option("--email", required=True, help="Whose tokens.")
def list_tokens(email: str) -> None:
    """The account's tokens (never their secrets), newest first."""

    def rows(db: Session) -> list[str]:
        found = service.tokens_of(db, _user(db, email).id)
        return [
            "\t".join(
                [
                    t.public_id,
                    f"{t.prefix}…",
                    t.kind,
                    slug or "-",
                    ",".join(t.scopes),
                    t.name,
                    "revoked" if t.revoked_at else "live",
                ]
            )
            for t, slug in found
        ]

    for line in in_database(rows) or ["(no tokens)"]:
        click.echo(line)


@tokens.command("revoke")
@click.argument("public_id")
def revoke(public_id: str) -> None:
    """Revoke a token by its id (as `tokens list` shows it); running servers refuse it at
    once when they share a Redis (TORCHQUIZ_REDIS_URL), else within seconds."""

    def work(db: Session) -> str:
        user_id = service.owner_of(db, public_id)
        if user_id is None:
            fail(f"no API token has the id {public_id}")
        return service.revoke(db, user_id, public_id).name

    click.echo(f"revoked the token {public_id} ({in_database(work)})")
    settings = settings_or_fail()
    if settings.redis_url:
        try:
            asyncio.run(_tell_servers(settings.redis_url, settings.redis_prefix, public_id))
        except InvalidationsUnavailableError:
            # The revocation is made (status 0): only its reaching the servers at once is not.
            click.echo(
                "warning: Redis is not answering, so the running servers were not told: "
                "they refuse the token within seconds",
                err=True,
            )


async def _tell_servers(redis_url: str, prefix: str, public_id: str) -> None:
    """What the API's revoke tells every process (app.tokens.api.forget), after the commit:
    the same topics and keys, through the same Redis. Announced from a worker thread, so it
    waits until Redis took it (InvalidationsUnavailableError otherwise)."""
    shared = Invalidations(redis_url, prefix)
    await shared.start()
    try:
        tokens, origins = ApiTokens(shared=shared), OriginRegistry(shared=shared)
        await asyncio.to_thread(tokens.forget, public_id)
        await asyncio.to_thread(origins.changed)
    finally:
        await shared.stop()


def _user(db: Session, email: str) -> User:
    user = find_user(db, email)
    if user is None:
        fail(f"no account has the email {email}")
    return user
