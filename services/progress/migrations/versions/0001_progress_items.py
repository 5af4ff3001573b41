"""progress_items: one row per (profile, idempotency key).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "progress_items",
        sa.Column("profile_id", sa.String(128), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("server_id", sa.Uuid(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("activity_type", sa.String(128), nullable=False),
        sa.Column("content_id", sa.String(128), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("duration_seconds", sa.Double(), nullable=True),
        sa.Column("meta_data", sa.JSON(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("server_received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("profile_id", "idempotency_key", name="pk_progress_items"),
    )
    op.create_index("ix_progress_items_profile_seq", "progress_items", ["profile_id", "seq"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_progress_items_profile_seq", table_name="progress_items")
    op.drop_table("progress_items")
