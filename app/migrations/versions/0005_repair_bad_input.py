"""repair rows stored from bad input

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

Before the bounds at the edge (app.core.bounds), bad input of two kinds was stored, and each made
the learner's pages answer 500 from then on:
- answers holding a lone surrogate (JSON's "\\ud800", in a text or a code answer), which no
  response can encode: each becomes U+FFFD, the replacement character, as a browser shows it;
- lab runs with a seed outside 0 to 2**31 - 1 (the advanced-mode form did not check it), whose
  config no run view can read: they are marked failed, saying why, with the seed set to 0.

A downgrade leaves the repaired rows as they are: the broken values are gone.
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INT32_MAX = 2**31 - 1
LONE_SURROGATE = re.compile("[\ud800-\udfff]")

answers = sa.table("answers", sa.column("id", sa.Integer), sa.column("given", sa.JSON))
lab_runs = sa.table(
    "lab_runs",
    sa.column("id", sa.Integer),
    sa.column("config", sa.JSON),
    sa.column("status", sa.String),
    sa.column("message", sa.Text),
    sa.column("finished_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    bind = op.get_bind()
    repair_answers(bind)
    repair_lab_runs(bind)


def downgrade() -> None:
    pass


def repair_answers(bind: sa.Connection) -> None:
    # JSON was written with json.dumps, which escapes every character beyond ASCII: a lone
    # surrogate is stored as "\udXXX", so only answers whose text holds "\ud" are read.
    stored = sa.func.lower(sa.cast(answers.c.given, sa.Text))
    query = sa.select(answers.c.id, answers.c.given).where(stored.like("%\\ud%", escape="!"))
    for answer_id, given in bind.execute(query).all():
        repaired = valid_text(given)
        if repaired != given:
            bind.execute(sa.update(answers).where(answers.c.id == answer_id).values(given=repaired))


def valid_text(value: Any) -> Any:
    """The value with each lone surrogate, in any string it holds, as U+FFFD."""
    if isinstance(value, str):
        return LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [valid_text(item) for item in value]
    if isinstance(value, dict):
        return {valid_text(key): valid_text(item) for key, item in value.items()}
    return value


def repair_lab_runs(bind: sa.Connection) -> None:
    query = sa.select(lab_runs.c.id, lab_runs.c.config, lab_runs.c.finished_at)
    for run_id, config, finished_at in bind.execute(query).all():
        seed = config.get("seed", 0) if isinstance(config, dict) else 0
        if isinstance(seed, int) and 0 <= seed <= INT32_MAX:
            continue
        said = str(seed) if len(str(seed)) <= 20 else f"{str(seed)[:20]}..."
        message = (
            f"not run as asked: its seed {said} is outside 0 to {INT32_MAX}, which the form "
            "did not check then; run it again with a seed in that range"
        )
        bind.execute(
            sa.update(lab_runs)
            .where(lab_runs.c.id == run_id)
            .values(
                status="failed",
                message=message,
                config=config | {"seed": 0},
                finished_at=finished_at or datetime.now(UTC),
            )
        )
