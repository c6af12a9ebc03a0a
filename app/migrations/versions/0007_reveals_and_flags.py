"""hints and solutions revealed in practice; questions flagged in a test

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reveals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("quiz_sessions.id"), nullable=False),
        sa.Column("learner_id", sa.Integer(), sa.ForeignKey("learners.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("gives_away", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("session_id", "position", "number", name="uq_reveals_session_number"),
    )
    op.create_index("ix_reveals_session_id", "reveals", ["session_id"])
    op.create_index("ix_reveals_learner_id", "reveals", ["learner_id"])
    op.create_table(
        "flags",
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("quiz_sessions.id"), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("flags")
    op.drop_index("ix_reveals_learner_id", table_name="reveals")
    op.drop_index("ix_reveals_session_id", table_name="reveals")
    op.drop_table("reveals")
