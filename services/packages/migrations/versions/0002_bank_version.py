"""bank_version: one row counting bank writes, raised in the transaction of each, so the sync service
can keep bank questions and know when they changed (versioned invalidation, not a TTL).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bank_version",
        # Always 1: the CHECK keeps the table one row, so the version is one row lock to raise.
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_bank_version_one_row"),
    )
    op.execute("INSERT INTO bank_version (id, version) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("bank_version")
