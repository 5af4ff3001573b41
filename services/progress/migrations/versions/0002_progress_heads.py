"""progress_heads: each profile's last `seq`, bumped by every batch (serialises a profile's batches).

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
        "progress_heads",
        sa.Column("profile_id", sa.String(128), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("profile_id", name="pk_progress_heads"),
    )
    op.execute(
        "INSERT INTO progress_heads (profile_id, last_seq) "
        "SELECT profile_id, max(seq) FROM progress_items GROUP BY profile_id"
    )


def downgrade() -> None:
    op.drop_table("progress_heads")
