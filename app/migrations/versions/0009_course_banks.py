"""course banks: topics and questions owned by a course, published versions, verify results

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("seeds", sa.Integer(), nullable=False),
        sa.Column("torch_version", sa.String(length=40), nullable=False),
        sa.Column("run_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_by"],
            ["users.id"],
            name=op.f("fk_verifications_run_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["question_versions.id"],
            name=op.f("fk_verifications_version_id_question_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verifications")),
    )
    with op.batch_alter_table("verifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_verifications_version_id"), ["version_id"], unique=False
        )

    with op.batch_alter_table("question_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("message", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_question_versions_author_id_users"),
            "users",
            ["author_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("course_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("published_version_id", sa.Integer(), nullable=True))
        batch_op.drop_constraint(batch_op.f("uq_questions_slug"), type_="unique")
        batch_op.create_index(
            "uq_questions_course_slug",
            ["course_id", "slug"],
            unique=True,
            sqlite_where=sa.text("course_id IS NOT NULL"),
            postgresql_where=sa.text("course_id IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_questions_shipped_slug",
            ["slug"],
            unique=True,
            sqlite_where=sa.text("course_id IS NULL"),
            postgresql_where=sa.text("course_id IS NULL"),
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_questions_course_id_courses"),
            "courses",
            ["course_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_questions_published_version_id_question_versions"),
            "question_versions",
            ["published_version_id"],
            ["id"],
        )

    # The shipped bank serves its current versions, as before.
    op.execute("UPDATE questions SET published_version_id = current_version_id")

    with op.batch_alter_table("topics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("course_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_topics_course_id"), ["course_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_topics_course_id_courses"),
            "courses",
            ["course_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("topics", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_topics_course_id_courses"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_topics_course_id"), type_="unique")
        batch_op.drop_column("course_id")

    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_questions_published_version_id_question_versions"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_questions_course_id_courses"), type_="foreignkey")
        batch_op.drop_index(
            "uq_questions_shipped_slug",
            sqlite_where=sa.text("course_id IS NULL"),
            postgresql_where=sa.text("course_id IS NULL"),
        )
        batch_op.drop_index(
            "uq_questions_course_slug",
            sqlite_where=sa.text("course_id IS NOT NULL"),
            postgresql_where=sa.text("course_id IS NOT NULL"),
        )
        batch_op.create_unique_constraint(batch_op.f("uq_questions_slug"), ["slug"])
        batch_op.drop_column("published_version_id")
        batch_op.drop_column("course_id")

    with op.batch_alter_table("question_versions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_question_versions_author_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("message")
        batch_op.drop_column("author_id")

    with op.batch_alter_table("verifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verifications_version_id"))

    op.drop_table("verifications")
