"""`torchquiz lti keys`: the tool's signing keys from the command line (rotation)."""

from __future__ import annotations

from typing import TypeVar

import click
from sqlalchemy.orm import Session

from app.core.commands import in_database
from app.lti import keys as tool_keys
from app.lti.models import LtiToolKey

T = TypeVar("T")


@click.group()
def lti() -> None:
    """LTI 1.3 (the tool side)."""


@lti.group()
def keys() -> None:
    """The tool's signing keys, published at /lti/jwks.json."""


@keys.command("list")
def list_keys() -> None:
    """Every key, newest first: kid, created, and retired or the one that signs."""
    signing, listed = in_database(_keys_and_signer)
    for row in listed:
        state = "retired " + row.retired_at.isoformat() if row.retired_at else "published"
        mark = " (signs)" if row.kid == signing else ""
        click.echo(f"{row.kid}  created {row.created_at.isoformat()}  {state}{mark}")


def _keys_and_signer(db: Session) -> tuple[str, list[LtiToolKey]]:
    signing = tool_keys.current_key(db).kid  # made first, if there is none yet
    return signing, tool_keys.list_keys(db)


@keys.command("rotate")
def rotate() -> None:
    """Add a new signing key; the old one stays published until you retire it (wait for
    platforms' caches: a day is plenty)."""
    kid = in_database(tool_keys.rotate)
    click.echo(f"new signing key {kid}; retire the old one later with `torchquiz lti keys retire`")


@keys.command("retire")
@click.argument("kid")
def retire(kid: str) -> None:
    """Stop publishing the key KID."""
    in_database(lambda db: tool_keys.retire(db, kid))
    click.echo(f"retired {kid}")
