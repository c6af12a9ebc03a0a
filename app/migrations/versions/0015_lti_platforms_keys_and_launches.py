"""LTI 1.3: platforms, the tool's keys, logins, contexts and resource links

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _platform_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["platform_id"],
        ["lti_platforms.id"],
        name=op.f(f"fk_{table}_platform_id_lti_platforms"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "lti_platforms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("deployment_ids", sa.JSON(), nullable=False),
        sa.Column("auth_login_url", sa.String(length=2000), nullable=False),
        sa.Column("token_url", sa.String(length=2000), nullable=False),
        sa.Column("jwks_url", sa.String(length=2000), nullable=False),
        sa.Column("token_audience", sa.String(length=2000), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_platforms")),
        sa.UniqueConstraint("public_id", name=op.f("uq_lti_platforms_public_id")),
        sa.UniqueConstraint("issuer", "client_id", name=op.f("uq_lti_platforms_issuer_client_id")),
    )

    op.create_table(
        "lti_tool_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_tool_keys")),
        sa.UniqueConstraint("kid", name=op.f("uq_lti_tool_keys_kid")),
    )

    op.create_table(
        "lti_logins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("target_link_uri", sa.String(length=2000), nullable=True),
        sa.Column("storage_target", sa.String(length=100), nullable=True),
        sa.Column("login_params", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        _platform_fk("lti_logins"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_logins")),
        sa.UniqueConstraint("nonce", name=op.f("uq_lti_logins_nonce")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_lti_logins_state_hash")),
    )
    with op.batch_alter_table("lti_logins", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lti_logins_platform_id"), ["platform_id"], unique=False
        )

    op.create_table(
        "lti_contexts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("context_id", sa.String(length=255), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_lti_contexts_course_id_courses"),
            ondelete="CASCADE",
        ),
        _platform_fk("lti_contexts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_contexts")),
        sa.UniqueConstraint(
            "platform_id", "context_id", name=op.f("uq_lti_contexts_platform_id_context_id")
        ),
    )
    with op.batch_alter_table("lti_contexts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lti_contexts_course_id"), ["course_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_lti_contexts_platform_id"), ["platform_id"], unique=False
        )

    op.create_table(
        "lti_resource_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.String(length=255), nullable=False),
        sa.Column("resource_link_id", sa.String(length=255), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=True),
        sa.Column("ags_lineitem", sa.String(length=2000), nullable=True),
        sa.Column("ags_lineitems", sa.String(length=2000), nullable=True),
        sa.Column("ags_scopes", sa.JSON(), nullable=False),
        sa.Column("nrps_url", sa.String(length=2000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["lti_contexts.id"],
            name=op.f("fk_lti_resource_links_context_id_lti_contexts"),
            ondelete="CASCADE",
        ),
        _platform_fk("lti_resource_links"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_resource_links")),
        sa.UniqueConstraint(
            "platform_id",
            "resource_link_id",
            name=op.f("uq_lti_resource_links_platform_id_resource_link_id"),
        ),
    )
    with op.batch_alter_table("lti_resource_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lti_resource_links_context_id"), ["context_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_lti_resource_links_platform_id"), ["platform_id"], unique=False
        )

    op.create_table(
        "lti_deep_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("deployment_id", sa.String(length=255), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_lti_deep_links_course_id_courses"),
            ondelete="CASCADE",
        ),
        _platform_fk("lti_deep_links"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_lti_deep_links_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_deep_links")),
        sa.UniqueConstraint("public_id", name=op.f("uq_lti_deep_links_public_id")),
    )
    with op.batch_alter_table("lti_deep_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lti_deep_links_course_id"), ["course_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_lti_deep_links_platform_id"), ["platform_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_lti_deep_links_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lti_deep_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_deep_links_user_id"))
        batch_op.drop_index(batch_op.f("ix_lti_deep_links_platform_id"))
        batch_op.drop_index(batch_op.f("ix_lti_deep_links_course_id"))
    op.drop_table("lti_deep_links")
    with op.batch_alter_table("lti_resource_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_resource_links_platform_id"))
        batch_op.drop_index(batch_op.f("ix_lti_resource_links_context_id"))
    op.drop_table("lti_resource_links")
    with op.batch_alter_table("lti_contexts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_contexts_platform_id"))
        batch_op.drop_index(batch_op.f("ix_lti_contexts_course_id"))
    op.drop_table("lti_contexts")
    with op.batch_alter_table("lti_logins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_logins_platform_id"))
    op.drop_table("lti_logins")
    op.drop_table("lti_tool_keys")
    op.drop_table("lti_platforms")
