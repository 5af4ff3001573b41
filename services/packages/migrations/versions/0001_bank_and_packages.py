"""questions and test_packages; published packages are frozen by a trigger.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

FREEZE_MESSAGE = "PACKAGE_IMMUTABLE: a published test package never changes"


def upgrade() -> None:
    op.create_table(
        "questions",
        sa.Column("question_id", sa.Uuid(), primary_key=True),
        sa.Column("stem", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("correct_index", sa.Integer(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("program", sa.String(128)),
        sa.Column("year_id", sa.BigInteger()),
        sa.Column("block_id", sa.BigInteger()),
        sa.Column("theme_id", sa.BigInteger()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "test_packages",
        sa.Column("package_id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("scope_data", sa.JSON(), nullable=False),
        sa.Column("scope_key", sa.String(512), nullable=False),
        sa.Column("scope_program", sa.String(128)),
        sa.Column("scope_year_id", sa.BigInteger()),
        sa.Column("scope_block_id", sa.BigInteger()),
        sa.Column("scope_theme_id", sa.BigInteger()),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("version_hash", sa.String(64), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("question_count", sa.Integer(), nullable=False),
        sa.Column("is_published", sa.Boolean(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("scope", "scope_key", "version", name="uq_test_packages_scope_version"),
    )
    op.create_index("ix_test_packages_published", "test_packages", ["is_published", "published_at"])
    op.create_index("ix_test_packages_version_hash", "test_packages", ["version_hash"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""CREATE FUNCTION freeze_published_package() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{FREEZE_MESSAGE}' USING ERRCODE = 'P0001'; END $$ LANGUAGE plpgsql"""
        )
        op.execute(
            "CREATE TRIGGER freeze_published_package BEFORE UPDATE OR DELETE ON test_packages "
            "FOR EACH ROW WHEN (OLD.is_published) EXECUTE FUNCTION freeze_published_package()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER freeze_published_package_{event.lower()} BEFORE {event} ON test_packages "
                f"FOR EACH ROW WHEN OLD.is_published BEGIN SELECT RAISE(ABORT, '{FREEZE_MESSAGE}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER freeze_published_package ON test_packages")
        op.execute("DROP FUNCTION freeze_published_package()")
    op.drop_table("test_packages")
    op.drop_table("questions")
