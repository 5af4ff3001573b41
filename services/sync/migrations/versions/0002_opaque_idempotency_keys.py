"""Idempotency keys up to 128 characters (opaque client text, as progress allows), not only UUIDs.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_COLUMNS = (("attempts", "idempotency_key"), ("session_answers", "idempotency_key"))


def upgrade() -> None:
    # SQLite ignores VARCHAR lengths (and would need a table rebuild to change one): nothing to do.
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column in _COLUMNS:
        op.alter_column(
            table, column, type_=sa.String(128), existing_type=sa.String(36), existing_nullable=False
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column in _COLUMNS:
        op.alter_column(
            table, column, type_=sa.String(36), existing_type=sa.String(128), existing_nullable=False
        )
