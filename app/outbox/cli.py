"""`torchquiz outbox`: what waits to be delivered, and delivering it by hand. The server
delivers in the background; `drain` is for an operator (or a script) after an outage."""

from __future__ import annotations

import asyncio

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.commands import in_database, migrated_database
from app.core.config import Settings
from app.core.db import Database, as_utc
from app.outbox.delivery import Outbox
from app.outbox.models import OutboxMessage

STATUSES = ("pending", "delivered", "refused", "dead")


@click.group()
def outbox() -> None:
    """Messages to other systems (webhooks, LMS grades) and their delivery."""


@outbox.command("list")
@click.option("--status", type=click.Choice(STATUSES), default="pending", show_default=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
def list_messages(status: str, limit: int) -> None:
    """How many messages there are by kind and status, then the newest of one status."""

    def lines(db: Session) -> list[str]:
        counts = db.execute(
            select(OutboxMessage.kind, OutboxMessage.status, func.count())
            .group_by(OutboxMessage.kind, OutboxMessage.status)
            .order_by(OutboxMessage.kind, OutboxMessage.status)
        )
        found = [f"{kind}\t{state}\t{n}" for kind, state, n in counts] or ["(no messages)"]
        newest = db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == status)
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
        found.append(f"-- the newest {status}:")
        for m in newest:
            found.append(
                "\t".join(
                    [
                        str(m.id),
                        m.kind,
                        m.key or "-",
                        f"tries={m.attempts}",
                        f"next={as_utc(m.next_attempt_at).isoformat()}",
                        f"last={m.last_status or '-'}",
                        (m.last_error or "")[:120],
                    ]
                )
            )
        return found

    for line in in_database(lines):
        click.echo(line)


def drain_now(settings: Settings) -> int:
    """Deliver every message due now with the deliverers registered in this process (the
    caller registers them, as the server's start-up does); how many tries were made."""

    async def drain(database: Database) -> int:
        deliverer = Outbox(database, settings)
        try:
            return await deliverer.drain()
        finally:
            await deliverer.stop()

    with migrated_database(settings, run_in_threads=True) as database:
        return asyncio.run(drain(database))
