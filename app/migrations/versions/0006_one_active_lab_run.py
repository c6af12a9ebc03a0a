"""one active lab run per learner, held by a partial unique index

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05

Two simultaneous starts both passed the service's check on PostgreSQL, so some learners may
hold several active runs. Each keeps its newest; the others are marked failed, saying why,
so that the index can be built.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_lab_runs_one_active_per_learner"
ACTIVE = "status IN ('queued', 'running')"
REPAIRED = "stopped by an upgrade: only one run per learner may be active, and a newer one was"


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE lab_runs SET status = 'failed', message = :message, "
            "finished_at = CURRENT_TIMESTAMP "
            "WHERE learner_id IS NOT NULL AND status IN ('queued', 'running') AND id < ("
            "  SELECT MAX(newest.id) FROM lab_runs AS newest"
            "  WHERE newest.learner_id = lab_runs.learner_id"
            "  AND newest.status IN ('queued', 'running'))"
        ).bindparams(message=REPAIRED)
    )
    op.create_index(
        INDEX,
        "lab_runs",
        ["learner_id"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="lab_runs")
