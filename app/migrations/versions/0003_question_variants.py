"""question variants: the template version, seed and torch version of each variant

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("question_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("variant_of_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("seed", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("torch_version", sa.String(length=40), nullable=True))
        batch_op.create_index("ix_question_versions_variant_of_id", ["variant_of_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_question_versions_variant_of_id_question_versions",
            "question_versions",
            ["variant_of_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("question_versions", schema=None) as batch_op:
        batch_op.drop_constraint(
            "fk_question_versions_variant_of_id_question_versions", type_="foreignkey"
        )
        batch_op.drop_index("ix_question_versions_variant_of_id")
        batch_op.drop_column("torch_version")
        batch_op.drop_column("seed")
        batch_op.drop_column("variant_of_id")
