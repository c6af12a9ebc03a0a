"""LTI grade passback: line items and the scores sent

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lti_line_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("resource_link_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("url_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by_us", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["lti_platforms.id"],
            name=op.f("fk_lti_line_items_platform_id_lti_platforms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resource_link_id"],
            ["lti_resource_links.id"],
            name=op.f("fk_lti_line_items_resource_link_id_lti_resource_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_line_items")),
        sa.UniqueConstraint(
            "platform_id", "url_hash", name=op.f("uq_lti_line_items_platform_id_url_hash")
        ),
    )
    with op.batch_alter_table("lti_line_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lti_line_items_platform_id"), ["platform_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_lti_line_items_resource_link_id"), ["resource_link_id"], unique=False
        )

    op.create_table(
        "lti_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_item_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_item_id"],
            ["lti_line_items.id"],
            name=op.f("fk_lti_scores_line_item_id_lti_line_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_scores")),
        sa.UniqueConstraint(
            "line_item_id", "subject", name=op.f("uq_lti_scores_line_item_id_subject")
        ),
    )


def downgrade() -> None:
    op.drop_table("lti_scores")
    with op.batch_alter_table("lti_line_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_line_items_resource_link_id"))
        batch_op.drop_index(batch_op.f("ix_lti_line_items_platform_id"))

    op.drop_table("lti_line_items")
